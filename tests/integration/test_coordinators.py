"""Coordinators come and go: a config reload invites and briefs a new one, removes an old one,
and an unanswered report is put before the reserve coordinator."""

from __future__ import annotations

from pathlib import Path

import nio

from bridge.homeserver import EmbeddedHomeserver
from tests.conftest import MakeAccount
from tests.integration.harness import make_user, running_world


async def test_a_reload_adds_a_coordinator_with_a_summary_and_removes_another(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        member = await world.signed_up_member(make_account, "oost")
        await member.user.say(member.private_room, "Open melding voor de nieuwe coördinator")
        anna = world.coordinator("oost", 0)
        bram = world.coordinator("oost", 1)
        desk = world.room("oost", "desk")
        report = await anna.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("kind") == "report", what="the report"
        )

        account = make_account("co-nieuw")
        carla = await make_user(account, homeserver.url, tmp_path / "carla")
        world.users.append(carla)
        new = world.settings.model_copy(deep=True)
        new.wijken[0].coordinators = [anna.user_id, carla.user_id]
        world.settings = new
        world.bridge.request_reload(new)

        summary = await carla.wait_for_event(
            lambda e: e.room_id == desk and "Open gesprekken" in e.body,
            timeout=40,
            what="the summary for the new coordinator",
        )
        assert report.fields["report"] in summary.body
        assert report.fields["pseudonym"] in summary.body
        assert "Open melding" not in summary.body  # the text is not kept, so not repeated

        async def bram_is_out() -> bool:
            response = await anna.client.joined_members(desk)
            assert isinstance(response, nio.JoinedMembersResponse)
            return bram.user_id not in [m.user_id for m in response.members]

        for _ in range(40):
            if await bram_is_out():
                break
            await anna.sync(wait_ms=250)
        assert await bram_is_out()

        # The next report reaches the new coordinator; the removed one can no longer read it.
        await member.user.say(member.private_room, "!nieuw")
        await member.user.say(member.private_room, "Tweede melding na de wissel")
        await carla.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("text") == "Tweede melding na de wissel",
            what="the next report for the new coordinator",
        )
        await bram.sync(wait_ms=500)
        assert all(e.fields.get("text") != "Tweede melding na de wissel" for e in bram.events)


async def test_a_report_without_an_answer_is_escalated_to_the_reserve_coordinator(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path, escalate_after_days=0) as world:
        member = await world.signed_up_member(make_account, "oost")
        await member.user.say(member.private_room, "Niemand antwoordt op deze melding")
        bram = world.coordinator("oost", 1)
        desk = world.room("oost", "desk")
        report = await bram.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("kind") == "report", what="the report"
        )
        world.bridge._last_escalation = 0.0  # check now rather than in five minutes
        await member.user.say(member.private_room, "!naam")  # any activity runs a batch
        escalation = await bram.wait_for_event(
            lambda e: e.room_id == desk and "wacht al" in e.body, what="the escalation"
        )
        assert escalation.content["m.mentions"] == {"user_ids": [bram.user_id]}
        assert escalation.content["m.relates_to"]["event_id"] == report.event_id
