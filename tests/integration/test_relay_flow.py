"""The walking skeleton end to end: a member reports, a coordinator answers, on a real Synapse."""

from __future__ import annotations

from pathlib import Path

from bridge.homeserver import EmbeddedHomeserver
from bridge.leakscan import MemberTrace, assert_no_leaks
from tests.conftest import MakeAccount
from tests.integration.harness import Member, World, running_world


def trace_of(member: Member, *extra_events: str) -> MemberTrace:
    """Everything about this member that must never leave their private room."""
    display = member.user.client.rooms[member.private_room].user_name(member.user_id)
    return MemberTrace(
        user_id=member.user_id,
        display_name=display if display != member.user_id else None,
        room_ids=[member.private_room, member.dm_room],
        event_ids=list(extra_events),
    )


def assert_bot_leaks_nothing(world: World, member: Member, *event_ids: str) -> None:
    """Scan every field of every event the bot sent outside the member's own rooms."""
    outside = [
        s.content for s in world.sent if s.room_id not in (member.private_room, member.dm_room)
    ]
    assert outside, "the bot sent nothing outside the member's rooms"
    trace = trace_of(member, *event_ids)
    assert_no_leaks(outside, trace)
    # And what the coordinators' clients actually received and decrypted, envelope included.
    for coordinator in world.coordinators.values():
        bot_events = [
            e.source for e in coordinator.events if e.sender == world.settings.bot.user_id
        ]
        assert_no_leaks(bot_events, trace)


async def test_a_members_report_reaches_the_desk_under_a_pseudonym_and_the_answer_comes_back(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        member = await world.signed_up_member(make_account, "oost")
        desk = world.room("oost", "desk")
        coordinator = world.coordinator("oost")

        sent_id = await member.user.say(
            member.private_room, "Verdachte auto bij de school, al een uur"
        )
        report = await coordinator.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("kind") == "report",
            what="the report in the desk",
        )
        assert report.fields["report"] == "M-0001"
        assert report.fields["status"] == "nieuw"
        assert report.fields["text"] == "Verdachte auto bij de school, al een uur"
        pseudonym = report.fields["pseudonym"]
        assert len(pseudonym.split()) == 2
        assert report.body.startswith(f"Melding M-0001 · {pseudonym}")
        assert "> Verdachte auto bij de school" in report.body
        assert report.content["m.mentions"] == {}

        confirmation = await member.user.wait_for_event(
            lambda e: e.room_id == member.private_room and "M-0001" in e.body,
            what="the delivery confirmation",
        )
        assert pseudonym in confirmation.body

        await coordinator.reply_in_thread(desk, report.event_id, "Dank je, we geven het door.")
        answer = await member.user.wait_for_event(
            lambda e: e.room_id == member.private_room and e.fields.get("kind") == "answer",
            what="the coordinator's answer",
        )
        assert "Dank je, we geven het door." in answer.body
        assert coordinator.user_id not in str(answer.source)
        assert answer.fields["report"] == "M-0001"

        assert_bot_leaks_nothing(world, member, sent_id)


async def test_a_follow_up_joins_the_open_conversation_and_nieuw_starts_another(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        member = await world.signed_up_member(make_account, "oost")
        desk = world.room("oost", "desk")
        coordinator = world.coordinator("oost")

        first = await member.user.say(member.private_room, "Inbraak in de schuur")
        root = await coordinator.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("kind") == "report", what="the report"
        )
        second = await member.user.say(member.private_room, "Er is een fiets weg")
        follow = await coordinator.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("kind") == "member_message",
            what="the follow-up",
        )
        relation = follow.content["m.relates_to"]
        assert relation["rel_type"] == "m.thread"
        assert relation["event_id"] == root.event_id
        assert follow.fields["pseudonym"] == root.fields["pseudonym"]
        assert follow.fields["report"] == "M-0001"

        await member.user.say(member.private_room, "!nieuw")
        await member.user.wait_for_event(
            lambda e: e.room_id == member.private_room and "nieuw gesprek" in e.body,
            what="the !nieuw confirmation",
        )
        third = await member.user.say(member.private_room, "Andere zaak: graffiti op de muur")
        new_root = await coordinator.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("report") == "M-0002",
            what="the second report",
        )
        assert new_root.fields["kind"] == "report"
        assert "m.relates_to" not in new_root.content

        assert_bot_leaks_nothing(world, member, first, second, third)


async def test_bad_input_gets_a_dutch_answer_and_nothing_is_relayed(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        member = await world.new_member(make_account)
        desk = world.room("oost", "desk")
        room = member.private_room
        user = member.user

        async def answer_to(content: dict[str, object], needle: str) -> None:
            before = len(user.in_room(room))
            await user.send(room, content)
            await user.wait_for(
                lambda: any(needle in e.body for e in user.in_room(room)[before:]),
                what=f"an answer containing {needle!r}",
            )

        await answer_to(
            {"msgtype": "m.text", "body": "Er staat iemand bij de deur"}, "nog niet aangemeld"
        )
        await answer_to({"msgtype": "m.text", "body": "verkeerde-code"}, "aanmeldcode ken ik niet")
        await answer_to({"msgtype": "m.text", "body": "!onzin"}, "!onzin ken ik niet")
        await user.say(room, world.join_code("oost"))
        await user.wait_for_event(lambda e: e.room_id == room and "aangemeld" in e.body)
        await answer_to(
            {"msgtype": "m.file", "body": "aangifte.pdf", "url": "mxc://x/y"}, "alleen tekst"
        )
        await answer_to({"msgtype": "m.text", "body": "   \u200b  "}, "leeg")
        await answer_to({"msgtype": "m.text", "body": "!hulp"}, "!nieuw")

        # The bot is still alive and relays the next real report.
        await user.say(room, "Nu echt: kapotte lantaarnpaal")
        coordinator = world.coordinator("oost")
        report = await coordinator.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("kind") == "report", what="the report"
        )
        assert report.fields["text"] == "Nu echt: kapotte lantaarnpaal"
        reports = [
            s for s in world.sent_to(desk) if s.content.get("nl.bin", {}).get("kind") == "report"
        ]
        assert len(reports) == 1
