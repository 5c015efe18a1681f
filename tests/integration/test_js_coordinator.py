"""A coordinator on a phone: the desk work through the desk commands, in Element's crypto stack.

The coordinator uses matrix-js-sdk with its Rust crypto and excludes insecure devices, as the js
resident does; the member and the police officer are nio clients of the harness. Everything
happens in the rooms the bot invites the coordinator to, by typing: answers and commands in the
report's thread (with the relation Element's thread view gives them), broadcasts in the wijk room.

The js coordinator shares its room keys with cross-signed devices only: the bot (cross-signed)
reads it, the world's other coordinators (plain nio devices, not cross-signed) cannot. That is the
client's choice, not the bot's, so the checks are on what the bot does and the member receives.
Likewise it refuses to decrypt the nio police officer's own reply in the police room
(UNSIGNED_SENDER_DEVICE): it reads the police through the bot's copy in the desk thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.homeserver import EmbeddedHomeserver
from bridge.leakscan import MemberTrace, assert_no_leaks
from tests.conftest import MakeAccount
from tests.integration.harness import World
from tests.integration.js_harness import (
    assert_renders_like_element,
    join_wijk_rooms,
    running_world_with_coordinators,
)
from tests.js.resident import JsEvent, JsResident


async def bot_said(
    js: JsResident, world: World, room_id: str, mark: int, root: str, what: str, **fields: Any
) -> JsEvent:
    """The bot's first readable message in the thread of `root` after `mark` with these fields."""
    bot = world.settings.bot.user_id

    def find() -> JsEvent | None:
        for event in js.events:
            if (
                event.seq > mark
                and event.room_id == room_id
                and event.sender == bot
                and event.decryption_failure is None
                and event.thread_root == root
                and all(event.fields.get(key) == value for key, value in fields.items())
            ):
                return event
        return None

    found: JsEvent = await js.wait_until(find, what=what)
    return found


async def test_a_coordinator_on_the_js_client_answers_claims_forwards_closes_and_broadcasts(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    account = make_account("jsco", displayname="Carla van de Coördinatie")
    async with (
        running_world_with_coordinators(
            homeserver,
            make_account,
            tmp_path,
            extra_coordinators={"oost": [account]},
            broadcast_undo_seconds=0,
        ) as world,
        JsResident.running() as js,
    ):
        oost = world.settings.wijk("oost")
        assert oost is not None and account.user_id in oost.coordinators
        login = await js.login(homeserver.url, account.user_id, account.password)
        assert login["isolation"] == "only_signed"
        assert login["cross_signing_ready"], "the js coordinator did not cross-sign its device"
        rooms = await join_wijk_rooms(js, world, "oost")
        desk, police_room, wijk_room = rooms["desk"], rooms["police"], rooms["wijk"]
        member = await world.signed_up_member(make_account, "oost")
        officer = next(iter(world.police.values()))
        bot = world.settings.bot.user_id

        # The member's report, as the coordinator's phone shows it: a thread root, readable.
        report_text = "Er loopt iemand met een zaklamp door de achtertuinen aan de Beekstraat"
        sent = await member.user.say(member.private_room, report_text)
        report = await js.wait_for(room_id=desk, kind="report", decrypted=True)
        assert report.fields["report"] == "M-0001"
        assert report.fields["text"] == report_text
        assert_renders_like_element(report)
        root = report.event_id
        pseudonym = report.fields["pseudonym"]

        # An answer typed in the report's thread reaches the member, without the coordinator.
        answer_text = "Dank je, we houden het in de gaten. Heb je iemand herkend?"
        _, content = await js.send_in_thread(desk, root, answer_text)
        assert content["m.relates_to"] == {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": root},  # nothing in the thread yet
        }
        answer = await member.user.wait_for_event(
            lambda e: e.room_id == member.private_room and e.fields.get("kind") == "answer",
            what="the js coordinator's answer",
        )
        assert answer.fields["report"] == "M-0001"
        assert answer.fields["text"] == answer_text
        assert account.user_id not in str(answer.source)
        assert "Carla" not in str(answer.source)

        # !neem: the bot's status line arrives in the thread with the handler and the status.
        mark = js.last_seq
        await js.send_in_thread(desk, root, "!neem")
        claimed = await bot_said(
            js, world, desk, mark, root, "the claim", handler=account.user_id, kind="system"
        )
        assert claimed.fields["status"] == "in behandeling"
        assert claimed.fields["report"] == "M-0001"
        assert claimed.body == f"M-0001 wordt behandeld door {account.user_id}."
        assert claimed.content["msgtype"] == "m.notice"
        assert_renders_like_element(claimed, thread_root=root)

        # Element's thread view replies to the thread's latest event (the claim), not the root.
        mark = js.last_seq
        _, content = await js.send_in_thread(desk, root, "!categorie inbraak")
        assert content["m.relates_to"]["event_id"] == root
        assert content["m.relates_to"]["m.in_reply_to"] == {"event_id": claimed.event_id}
        categorised = await bot_said(
            js, world, desk, mark, root, "the category", category="inbraak"
        )
        assert categorised.body == "M-0001: categorie is nu 'inbraak'."
        assert categorised.fields["handler"] == account.user_id
        assert categorised.fields["status"] == "in behandeling"

        # !doorsturen with a note: the police see the forward, the desk thread the new status.
        mark = js.last_seq
        forward_text = "Persoon met zaklamp in achtertuinen Beekstraat, rond 23:00"
        note = "graag extra surveillance vannacht"
        await js.send_in_thread(desk, root, f"!doorsturen {forward_text}\nnotitie: {note}")
        forward = await officer.wait_for_event(
            lambda e: e.room_id == police_room and e.fields.get("kind") == "forward",
            what="the forward in the police room",
        )
        assert forward.fields["report"] == "M-0001"
        assert forward.fields["text"] == forward_text
        assert forward.fields["note"] == note
        assert pseudonym not in str(forward.source)
        forwarded = await bot_said(
            js, world, desk, mark, root, "the forwarded status", status="doorgestuurd"
        )
        assert forwarded.body.startswith("M-0001 is doorgestuurd")
        on_phone = await js.wait_for(room_id=police_room, kind="forward", decrypted=True)
        assert on_phone.event_id == forward.event_id

        # The police reply in their room; it appears in the coordinator's desk thread.
        police_text = "We sturen vannacht een extra ronde langs de Beekstraat."
        await officer.reply_in_thread(police_room, forward.event_id, police_text)
        police_reply = await bot_said(
            js, world, desk, mark, root, "the police reply", kind="police_reply"
        )
        assert police_reply.fields["report"] == "M-0001"
        assert police_reply.fields["text"] == police_text
        assert_renders_like_element(police_reply, thread_root=root)

        mark = js.last_seq
        await js.send_in_thread(desk, root, "!status afgehandeld")
        closed = await bot_said(
            js, world, desk, mark, root, "the closed status", status="afgehandeld"
        )
        assert closed.body == "M-0001: status is nu 'afgehandeld'."
        assert closed.fields["category"] == "inbraak"

        # A warning to the whole wijk: preview, confirmation, delivery and the count.
        mark = js.last_seq
        warning = "Vannacht is er ingebroken in schuurtjes aan de Beekstraat. Sluit ze goed af."
        await js.send(wijk_room, f"!publiceer waarschuwing: {warning}")
        preview = await js.wait_for(
            room_id=wijk_room, sender=bot, body="Voorbeeld van W-0001", after=mark, decrypted=True
        )
        assert "(waarschuwing)" in preview.body and "gaat naar 1 lid" in preview.body
        assert preview.fields["text"] == warning
        await js.send(wijk_room, "!ja")
        broadcast = await member.user.wait_for_event(
            lambda e: e.room_id == member.private_room and e.fields.get("kind") == "broadcast",
            what="the warning",
        )
        assert broadcast.fields["report"] == "W-0001"
        assert broadcast.fields["text"] == warning
        assert "waarschuwing" in broadcast.body.split("\n")[0]
        done = await js.wait_for(
            room_id=wijk_room, sender=bot, body="afgeleverd aan 1 van 1", after=mark, timeout=30
        )
        assert done.body == "W-0001: afgeleverd aan 1 van 1 lid."

        # Nothing of the handling reached the member; nothing of the member reached the staff.
        seen_by_member = " ".join(e.body for e in member.user.in_room(member.private_room))
        for word in ("!neem", "!categorie", "!doorsturen", "!status", note, police_text):
            assert word not in seen_by_member
        assert account.user_id not in str([e.source for e in member.user.events])
        bot_events = [e for e in js.events if e.sender == bot and e.type == "m.room.message"]
        unreadable = [e for e in js.events if e.sender == bot and e.decryption_failure]
        assert bot_events and not unreadable, [e.decryption_failure for e in unreadable]
        display = member.user.client.rooms[member.private_room].user_name(member.user_id)
        trace = MemberTrace(
            user_id=member.user_id,
            display_name=display if display != member.user_id else None,
            room_ids=[member.private_room, member.dm_room],
            event_ids=[sent],
        )
        outside = (member.private_room, member.dm_room)
        assert_no_leaks([s.content for s in world.sent if s.room_id not in outside], trace)
        assert_no_leaks([e.source for e in bot_events], trace)
