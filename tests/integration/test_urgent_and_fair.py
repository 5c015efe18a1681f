"""Urgent member messages and fair broadcasts end to end on a real Synapse (issue 4: 7, 8)."""

from __future__ import annotations

from pathlib import Path

from bridge.homeserver import EmbeddedHomeserver
from bridge.leakscan import MemberTrace, assert_no_leaks
from tests.conftest import MakeAccount
from tests.integration.harness import Member, running_world


def broadcasts_in(member: Member) -> list[dict[str, object]]:
    return [
        e.fields
        for e in member.user.in_room(member.private_room)
        if e.fields.get("kind") == "broadcast"
    ]


async def test_an_urgent_message_gets_the_112_notice_at_once_and_arrives_flagged_in_the_desk(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        member = await world.signed_up_member(make_account, "oost")
        desk = world.room("oost", "desk")
        coordinator = world.coordinator("oost")
        text = "help!! er staat een auto in de fik bij de school"

        sent_id = await member.user.say(member.private_room, text)
        notice = await member.user.wait_for_event(
            lambda e: e.room_id == member.private_room and "112" in e.body and "dringend" in e.body,
            what="the 112 notice",
        )
        assert "0900-8844" in notice.body
        assert notice.fields["kind"] == "notice"
        report = await coordinator.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("kind") == "report",
            what="the report in the desk",
        )
        assert report.fields["urgent"] is True
        assert report.fields["text"] == text
        assert report.body.startswith(
            f"⚠ DRINGEND? · Melding M-0001 · {report.fields['pseudonym']}"
        )

        # A later urgent message in the same conversation is flagged too, without a second notice.
        await member.user.say(member.private_room, "nu komt er ook rook uit de school")
        follow_up = await coordinator.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("kind") == "member_message",
            what="the follow-up in the desk",
        )
        assert follow_up.fields["urgent"] is True
        await member.user.wait_for_event(
            lambda e: e.room_id == member.private_room and "Afgeleverd" in e.body,
            what="the follow-up's delivery confirmation",
        )
        notices = [e for e in member.user.in_room(member.private_room) if "0900-8844" in e.body]
        assert sum("dringend" in e.body for e in notices) == 1

        # An ordinary report in a new conversation is not flagged.
        await member.user.say(member.private_room, "!nieuw")
        await member.user.say(member.private_room, "De lantaarnpaal bij nr 40 is al weken kapot")
        ordinary = await coordinator.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("report") == "M-0002",
            what="the ordinary report",
        )
        assert "urgent" not in ordinary.fields
        assert ordinary.body.startswith("Melding M-0002")

        display = member.user.client.rooms[member.private_room].user_name(member.user_id)
        trace = MemberTrace(
            user_id=member.user_id,
            display_name=display if display != member.user_id else None,
            room_ids=[member.private_room, member.dm_room],
            event_ids=[sent_id],
        )
        outside = [s.content for s in world.sent if s.room_id != member.private_room]
        assert_no_leaks(outside, trace)


async def test_a_broadcast_describing_skin_colour_is_held_back_until_ja_zeker(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path, broadcast_undo_seconds=0) as world:
        member = await world.signed_up_member(make_account, "oost")
        coordinator = world.coordinator("oost")
        room = world.room("oost", "wijk")
        text = "Let op: een donkere man belt aan en zegt dat hij van de thuiszorg is."

        await coordinator.say(room, f"!publiceer waarschuwing: {text}")
        preview = await coordinator.wait_for_event(
            lambda e: e.room_id == room and "Voorbeeld" in e.body and text in e.body,
            what="the preview",
        )
        assert "afkomst of huidskleur" in preview.body
        assert '"donkere man"' in preview.body
        assert "Alleen feiten: kleding, voertuig, richting" in preview.body
        assert "!ja zeker" in preview.body
        label = str(preview.fields["report"])

        await coordinator.say(room, "!ja")
        refused = await coordinator.wait_for_event(
            lambda e: e.room_id == room and f"{label} is niet verstuurd" in e.body,
            what="the refusal of a plain !ja",
        )
        assert '"donkere man"' in refused.body
        for _ in range(3):  # with no undo window, a confirmed broadcast would be out by now
            await member.user.sync(wait_ms=300)
        assert broadcasts_in(member) == []
        assert not [e for e in coordinator.in_room(room) if "wordt nu afgeleverd" in e.body]

        await coordinator.say(room, "!ja zeker")
        await coordinator.wait_for_event(
            lambda e: e.room_id == room and f"{label}: afgeleverd aan 1 van 1" in e.body,
            what="the delivery count",
        )
        await member.user.wait_for(lambda: broadcasts_in(member), what="the broadcast")
        assert [b["text"] for b in broadcasts_in(member)] == [text]
