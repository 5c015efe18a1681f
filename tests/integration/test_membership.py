"""Joining and leaving: approval without identities, slowed wrong codes, rotation, !afmelden."""

from __future__ import annotations

from pathlib import Path

import nio

from bridge.homeserver import EmbeddedHomeserver
from tests.conftest import MakeAccount
from tests.integration.harness import Member, running_world


async def answer(member: Member, text: str, needle: str) -> str:
    """Send text in the private room and wait for the bot's answer containing needle."""
    user, room = member.user, member.private_room
    before = len(user.in_room(room))
    await user.say(room, text)
    found: str = await user.wait_for(
        lambda: next(
            (
                e.body
                for e in user.in_room(room)[before:]
                if needle in e.body and e.sender != user.user_id
            ),
            None,
        ),
        what=f"an answer containing {needle!r}",
    )
    return found


async def test_wrong_codes_are_slowed_down_and_a_rotated_code_replaces_the_old_one(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        member = await world.new_member(make_account)
        for attempt in range(3):
            await answer(member, f"fout-{attempt}", "aanmeldcode ken ik niet")
        # The fourth try comes too soon, even with the right code.
        await answer(member, world.join_code("oost"), "te veel verkeerde codes")

        new_code = world.bridge.relay.membership.rotate_code("oost")
        other = await world.new_member(make_account)
        await answer(other, world.join_code("oost"), "aanmeldcode ken ik niet")
        await answer(other, new_code, "aangemeld bij BIN Wijk Oost")


async def test_with_approval_the_desk_sees_only_a_pseudonym_and_admits_the_member(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        world.settings.wijken[0].approval = True
        member = await world.new_member(make_account)
        await answer(member, world.join_code("oost"), "laten nieuwe leden eerst toe")
        desk = world.room("oost", "desk")
        anna = world.coordinator("oost")
        request = await anna.wait_for_event(
            lambda e: e.room_id == desk and "wil zich aanmelden" in e.body, what="the request"
        )
        name = request.fields["pseudonym"]
        assert member.user_id not in str(request.source)
        assert member.user_id.split(":")[0][1:] not in str(request.source)

        await anna.say(desk, f"!toelaten {name}")
        await member.user.wait_for_event(
            lambda e: e.room_id == member.private_room and "aangemeld bij BIN" in e.body,
            what="the admission",
        )
        await member.user.say(
            member.private_room, "Na toelating: melding over losliggende stoeptegels"
        )
        await anna.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("kind") == "report", what="the report"
        )


async def test_afmelden_after_confirmation_erases_the_member_and_the_bot_leaves(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        member = await world.signed_up_member(make_account, "oost")
        await member.user.say(member.private_room, "Een melding voor ik ga")
        anna = world.coordinator("oost")
        desk = world.room("oost", "desk")
        await anna.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("kind") == "report", what="the report"
        )
        await answer(member, "!afmelden", "!afmelden ja")
        assert world.bridge.store.member_by_room(member.private_room) is not None
        await answer(member, "!afmelden ja", "alles wat BIN over je bewaarde is gewist")

        store = world.bridge.store
        assert store.member_by_room(member.private_room) is None
        assert store.query_one("SELECT COUNT(*) FROM conversations")[0] == 0  # type: ignore[index]

        async def bot_left() -> bool:
            response = await member.user.client.joined_members(member.private_room)
            assert isinstance(response, nio.JoinedMembersResponse)
            return world.settings.bot.user_id not in [m.user_id for m in response.members]

        for _ in range(40):
            if await bot_left():
                break
            await member.user.sync(wait_ms=250)
        assert await bot_left()


async def test_a_member_moves_to_another_wijk_with_its_code(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(
        homeserver, make_account, tmp_path, wijken=("oost", "west"), coordinators_per_wijk=1
    ) as world:
        member = await world.signed_up_member(make_account, "oost")
        await answer(member, f"!aanmelden {world.join_code('west')}", "aangemeld bij BIN Wijk West")
        await member.user.say(member.private_room, "Melding na de verhuizing")
        west = world.coordinator("west")
        await west.wait_for_event(
            lambda e: (
                e.room_id == world.room("west", "desk")
                and e.fields.get("text") == "Melding na de verhuizing"
            ),
            what="the report in the new wijk's desk",
        )
        oost = world.coordinator("oost")
        await oost.sync(wait_ms=500)
        assert all(e.fields.get("text") != "Melding na de verhuizing" for e in oost.events)
