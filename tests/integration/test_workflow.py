"""Report handling for two coordinators and the police room, end to end on a real Synapse."""

from __future__ import annotations

from pathlib import Path

from bridge.homeserver import EmbeddedHomeserver
from bridge.leakscan import MemberTrace, assert_no_leaks
from tests.conftest import MakeAccount
from tests.integration.harness import running_world


async def test_a_report_is_claimed_categorised_forwarded_answered_by_police_and_closed(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        member = await world.signed_up_member(make_account, "oost")
        desk = world.room("oost", "desk")
        police_room = world.room("oost", "police")
        anna = world.coordinator("oost", 0)
        bram = world.coordinator("oost", 1)
        officer = next(iter(world.police.values()))

        sent = await member.user.say(
            member.private_room, "Witte bus rijdt al uren rondjes bij de school"
        )
        report = await anna.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("kind") == "report", what="the report"
        )
        pseudonym = report.fields["pseudonym"]

        await anna.reply_in_thread(desk, report.event_id, "!neem")
        claimed = await bram.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("handler") == anna.user_id,
            what="the claim, seen by the other coordinator",
        )
        assert claimed.fields["status"] == "in behandeling"
        assert claimed.content["m.relates_to"]["event_id"] == report.event_id

        await bram.reply_in_thread(desk, report.event_id, "!categorie verdacht")
        await anna.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("category") == "verdachte situatie",
            what="the category",
        )

        await anna.reply_in_thread(desk, report.event_id, "!onzin")
        await anna.wait_for_event(
            lambda e: e.room_id == desk and "!onzin ken ik niet" in e.body,
            what="the unknown-command notice",
        )

        await anna.say(desk, "!publiceer Let op")
        await anna.wait_for_event(
            lambda e: (
                e.room_id == desk and "werkt in de kamer 'BIN Wijk Oost · Wijkberichten'" in e.body
            ),
            what="the wrong-room explanation",
        )

        await anna.reply_in_thread(
            desk,
            report.event_id,
            "!doorsturen Witte bestelbus rijdt rondjes bij basisschool\n"
            "notitie: graag surveillance",
        )
        forward = await officer.wait_for_event(
            lambda e: e.room_id == police_room and e.fields.get("kind") == "forward",
            what="the forward in the police room",
        )
        assert forward.fields["report"] == "M-0001"
        assert forward.fields["text"] == "Witte bestelbus rijdt rondjes bij basisschool"
        assert forward.fields["note"] == "graag surveillance"
        assert pseudonym not in str(forward.source)
        await anna.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("status") == "doorgestuurd",
            what="the forwarded status",
        )

        await officer.reply_in_thread(
            police_room, forward.event_id, "We rijden er vanmiddag langs."
        )
        police_reply = await anna.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("kind") == "police_reply",
            what="the police reply in the desk thread",
        )
        assert police_reply.fields["text"] == "We rijden er vanmiddag langs."
        assert police_reply.content["m.relates_to"]["event_id"] == report.event_id
        # The police reply is not passed to the member by itself: the coordinator decides.
        assert all("vanmiddag" not in e.body for e in member.user.in_room(member.private_room))

        await anna.reply_in_thread(desk, report.event_id, "!status afgehandeld")
        await anna.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("status") == "afgehandeld",
            what="the closed status",
        )
        await member.user.say(member.private_room, "Nieuwe zaak: fietsendief gezien")
        second = await anna.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("report") == "M-0002",
            what="a new report after closing",
        )
        assert second.fields["kind"] == "report"
        # No command, and nothing about the handling, ever reached the member.
        seen_by_member = " ".join(e.body for e in member.user.in_room(member.private_room))
        for word in ("!neem", "!categorie", "!onzin", "!doorsturen", "!status", "surveillance"):
            assert word not in seen_by_member

        display = member.user.client.rooms[member.private_room].user_name(member.user_id)
        trace = MemberTrace(
            user_id=member.user_id,
            display_name=display if display != member.user_id else None,
            room_ids=[member.private_room, member.dm_room],
            event_ids=[sent],
        )
        assert_no_leaks([s.content for s in world.sent if s.room_id != member.private_room], trace)
        police_sent = [s.content for s in world.sent if s.room_id == police_room]
        assert police_sent and all(pseudonym not in str(c) for c in police_sent)


async def test_a_police_bulletin_is_numbered_and_published_to_the_wijk_and_stats_hide_small_counts(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path, broadcast_undo_seconds=0) as world:
        member = await world.signed_up_member(make_account, "oost")
        police_room = world.room("oost", "police")
        wijk_room = world.room("oost", "wijk")
        desk = world.room("oost", "desk")
        anna = world.coordinator("oost")
        officer = next(iter(world.police.values()))

        bulletin_text = "Vannacht drie inbraken in schuurtjes aan de Beekstraat. Sluit schuren af."
        bulletin_id = await officer.say(police_room, bulletin_text)
        ack = await anna.wait_for_event(
            lambda e: e.room_id == police_room and e.fields.get("kind") == "bulletin",
            what="the bulletin acknowledgement",
        )
        assert ack.fields["report"] == "B-0001"
        assert ack.fields["text"] == bulletin_text

        # An edit of the bulletin (Element's m.replace) is not a second bulletin.
        await officer.send(
            police_room,
            {
                "msgtype": "m.text",
                "body": " * " + bulletin_text,
                "m.new_content": {"msgtype": "m.text", "body": bulletin_text},
                "m.relates_to": {"rel_type": "m.replace", "event_id": bulletin_id},
            },
        )
        await anna.say(wijk_room, "!publiceer B-0001")
        preview = await anna.wait_for_event(
            lambda e: e.room_id == wijk_room and "Voorbeeld" in e.body, what="the preview"
        )
        assert bulletin_text in preview.body
        await anna.say(wijk_room, "!ja")
        received = await member.user.wait_for_event(
            lambda e: e.room_id == member.private_room and e.fields.get("kind") == "broadcast",
            what="the published bulletin",
        )
        assert received.fields["text"] == bulletin_text
        assert "politie" in received.body.split("\n")[0]

        await member.user.say(member.private_room, "Bij ons ook iets gezien")
        await anna.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("kind") in ("report",), what="a report"
        )
        assert all(e.fields.get("report") != "B-0002" for e in anna.in_room(police_room)), (
            "an edit became a bulletin"
        )
        await anna.say(desk, "!stats")
        stats = await anna.wait_for_event(
            lambda e: e.room_id == desk and "Cijfers BIN" in e.body, what="the figures"
        )
        assert "Leden: <5" in stats.body
        assert "<5" in stats.body.split("Meldingen per week")[1]
