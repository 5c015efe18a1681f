"""A resident on Element's crypto stack (matrix-js-sdk + Rust crypto) against the real bot.

The js resident excludes insecure devices (Element's "only send to devices verified by their
owner"): it reaches the bot only because the bot cross-signs its device. Every scenario runs end
to end on the test run's Synapse, and the desk side is checked with the leak scanner.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import nio

from bridge.homeserver import EmbeddedHomeserver
from bridge.leakscan import assert_no_leaks
from tests.conftest import MakeAccount
from tests.integration.harness import make_user, running_world
from tests.integration.js_harness import (
    JsMember,
    assert_bot_leaks_nothing,
    assert_renders_like_element,
    bot_events_of,
    desk_event,
    js_member,
)
from tests.js.resident import JsResident

# --- the scenarios ---------------------------------------------------------------------------


async def test_a_js_resident_that_excludes_insecure_devices_signs_up_with_a_join_code(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with (
        running_world(homeserver, make_account, tmp_path) as world,
        JsResident.running() as js,
    ):
        bot = world.settings.bot.user_id
        display_name = f"Jopie Jansen {uuid.uuid4().hex[:4]}"
        account = make_account("jslid", displayname=display_name)
        login = await js.login(homeserver.url, account.user_id, account.password)
        assert login["isolation"] == "only_signed"
        assert login["cross_signing_ready"], "the js resident did not cross-sign its own device"

        # Element's "start chat": an encrypted DM; the bot answers with its own room.
        dm_room = await js.start_dm(bot)
        private_room = await js.wait_for_invite(not_room=dm_room)
        invite = next(m for m in js.memberships if m["room_id"] == private_room)
        assert invite["inviter"] == bot
        assert invite["is_direct"] is True, "Element would not list the bot's room as a DM"
        await js.join(private_room)
        welcome = await js.wait_for(room_id=private_room, kind="notice", body="aanmeldcode")
        assert welcome.content["msgtype"] == "m.notice"
        assert "112" in welcome.body

        # The join code, encrypted by a client that only shares keys with cross-signed devices.
        mark = js.last_seq
        code_event = await js.send(private_room, world.join_code("oost"))
        confirmation = await js.wait_for(room_id=private_room, body="aangemeld", after=mark)
        assert "Wijk Oost" in confirmation.body
        devices = await js.devices(bot)
        assert devices and all(d["signed_by_owner"] for d in devices), devices

        # The control: the same client neither shares keys with nor decrypts a device that its
        # owner has not cross-signed (a plain nio client), so reaching the bot above was no luck.
        stranger = await make_user(make_account("onbekend"), homeserver.url, tmp_path / "stranger")
        world.users.append(stranger)
        control_room = await js.start_dm(stranger.user_id)
        await stranger.wait_for(
            lambda: (
                control_room in stranger.client.rooms
                and stranger.client.rooms[control_room].encrypted
            ),
            what="the stranger in the js resident's room",
        )
        await js.wait_until(
            lambda: any(
                e.room_id == control_room
                and e.type == "m.room.member"
                and e.state_key == stranger.user_id
                and e.content.get("membership") == "join"
                for e in js.events
            ),
            what="the stranger's join, seen by the js client",
        )
        assert not any(d["signed_by_owner"] for d in await js.devices(stranger.user_id))
        undecryptable = stranger.undecryptable
        await js.send(control_room, "alleen voor ondertekende apparaten")
        await stranger.wait_for(
            lambda: stranger.undecryptable > undecryptable,
            what="the js resident's message, without its key",
        )
        assert not any("ondertekende" in e.body for e in stranger.in_room(control_room))
        mark = js.last_seq
        response = await stranger.client.room_send(
            control_room,
            "m.room.message",
            {"msgtype": "m.text", "body": "van een niet-ondertekend apparaat"},
            ignore_unverified_devices=True,
        )
        assert isinstance(response, nio.RoomSendResponse)
        refused = await js.wait_for(room_id=control_room, sender=stranger.user_id, after=mark)
        assert refused.decryption_failure == "UNSIGNED_SENDER_DEVICE", refused.decryption_failure

        member = JsMember(js, account, display_name, dm_room, private_room, [code_event])
        # Nothing about the resident reached the coordinators while signing up.
        desk_or_elsewhere = [
            s.content for s in world.sent if s.room_id not in (private_room, dm_room)
        ]
        assert_no_leaks(desk_or_elsewhere, member.trace(world.join_code("oost")))


async def test_a_js_residents_report_reaches_the_desk_under_a_pseudonym_and_the_answer_decrypts(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with (
        running_world(homeserver, make_account, tmp_path) as world,
        JsResident.running() as js,
    ):
        member = await js_member(world, make_account, js)
        coordinator = world.coordinator("oost")
        desk = world.room("oost", "desk")

        mark = js.last_seq
        text = "Verdachte bestelbus bij de speeltuin, al een uur met draaiende motor"
        await member.say(text)
        report = await desk_event(world, "report", text, "the js resident's report")
        assert report.fields["report"] == "M-0001"
        pseudonym = report.fields["pseudonym"]
        assert report.body.startswith(f"Melding M-0001 · {pseudonym}")
        assert report.content["m.mentions"] == {}
        confirmation = await member.notice_after(mark, "M-0001")
        assert pseudonym in confirmation.body

        answer_text = "Dank je, de wijkagent rijdt er langs."
        await coordinator.reply_in_thread(desk, report.event_id, answer_text)
        answer = await js.wait_for(room_id=member.private_room, kind="answer", decrypted=True)
        assert answer_text in answer.body
        assert answer.fields["report"] == "M-0001"
        assert coordinator.user_id not in str(answer.source)
        assert answer.shield == {"colour": "NONE", "reason": None}

        # The resident opens Element on a second device, not verified yet (so their first device
        # forwards it no keys): the next answer reaches that device too, from the bot itself.
        async with JsResident.running() as phone:
            await phone.login(
                homeserver.url, member.account.user_id, member.account.password, cross_sign=False
            )
            later = "We hebben de bestelbus gevonden, dank je."
            await coordinator.reply_in_thread(desk, report.event_id, later)
            second = await phone.wait_for(room_id=member.private_room, body=later, timeout=30)
            assert second.decryption_failure is None and second.fields["kind"] == "answer"
            await js.wait_for(room_id=member.private_room, body=later, decrypted=True)

        assert_bot_leaks_nothing(world, member)


async def test_js_replies_to_the_bots_answer_reach_the_same_conversation_with_only_the_new_text(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with (
        running_world(homeserver, make_account, tmp_path) as world,
        JsResident.running() as js,
        JsResident.running() as phone,
    ):
        member = await js_member(world, make_account, js)
        coordinator = world.coordinator("oost")
        desk = world.room("oost", "desk")
        # The coordinator also reads the desk in Element on a phone (js-sdk, threads grouped).
        await phone.login(
            homeserver.url, coordinator.user_id, coordinator.account.password, cross_sign=False
        )

        await member.say("Er staat al dagen een aanhanger zonder kenteken op het plein")
        first = await desk_event(world, "report", what="the first report")
        answer_text = "Bedankt, we kijken ernaar. Staat hij er nog?"
        await coordinator.reply_in_thread(desk, first.event_id, answer_text)
        answer = await js.wait_for(room_id=member.private_room, kind="answer", decrypted=True)

        # A second conversation is now the open one: only the reply can lead back to M-0001.
        mark = js.last_seq
        await member.say("!nieuw")
        await member.notice_after(mark, "nieuw gesprek")
        other = "Andere zaak: de lantaarnpaal bij nummer 3 is kapot"
        await member.say(other)
        second = await desk_event(world, "report", other, "the second report")
        assert second.fields["report"] == "M-0002"

        replies = {
            "element": "Ja, hij staat er nog steeds",
            "legacy": "En nu staat er een tweede naast",
        }
        for style, text in replies.items():
            mark = js.last_seq
            event_id, sent = await js.reply(member.private_room, answer.event_id, text, style)
            member.sent.append(event_id)
            assert sent["m.relates_to"] == {"m.in_reply_to": {"event_id": answer.event_id}}
            if style == "legacy":
                assert sent["body"].startswith(f"> <{world.settings.bot.user_id}> ")
                assert sent["formatted_body"].startswith("<mx-reply><blockquote>")
                assert member.private_room in sent["formatted_body"]
            else:
                assert sent["body"] == text
                assert sent["m.mentions"] == {"user_ids": [world.settings.bot.user_id]}

            relayed = await desk_event(world, "member_message", text, f"the {style} reply")
            assert relayed.fields["report"] == "M-0001", (
                f"the {style} reply joined {relayed.fields}"
            )
            assert relayed.fields["pseudonym"] == first.fields["pseudonym"]
            relation = relayed.content["m.relates_to"]
            assert relation["rel_type"] == "m.thread"
            assert relation["event_id"] == first.event_id
            assert relayed.content["m.mentions"] == {}
            assert relayed.body.endswith(f"\n\n> {text}"), relayed.body
            for leftover in ("In reply to", "mx-reply", "matrix.to", answer_text):
                assert leftover not in str(relayed.content), f"{leftover!r} crossed ({style})"
            await member.notice_after(mark, "M-0001")
            on_phone = await phone.wait_for(room_id=desk, body=text, decrypted=True)
            assert_renders_like_element(on_phone, thread_root=first.event_id)

        root_on_phone = await phone.wait_for(room_id=desk, kind="report", decrypted=True)
        assert root_on_phone.event_id == first.event_id
        assert_renders_like_element(root_on_phone)
        assert_bot_leaks_nothing(world, member, answer_text, "In reply to")
        bot = world.settings.bot.user_id
        assert_no_leaks(
            [e.source for e in phone.in_room(desk) if e.sender == bot],
            member.trace(answer_text, "In reply to"),
        )


async def test_the_bots_messages_read_in_the_js_client_as_element_shows_them(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with (
        running_world(homeserver, make_account, tmp_path) as world,
        JsResident.running() as js,
    ):
        member = await js_member(world, make_account, js)
        coordinator = world.coordinator("oost")
        desk = world.room("oost", "desk")

        mark = js.last_seq
        await member.say("!hulp")
        await member.notice_after(mark, "!nieuw")
        await member.say("Iemand probeert @room <b>fietsen</b> open te breken bij het station")
        report = await desk_event(world, "report", what="the report")
        # A coordinator answers with markup, a mention of the room and a line break.
        await coordinator.reply_in_thread(
            desk, report.event_id, "Dank je! <script>x</script>\n@room: de politie is gebeld."
        )
        await js.wait_for(room_id=member.private_room, kind="answer", decrypted=True)

        messages = bot_events_of(js, world, member.private_room)
        kinds = [e.fields.get("kind") for e in messages]
        assert kinds.count("answer") == 1 and kinds.count("notice") >= 4, kinds
        for event in messages:
            expected = "m.text" if event.fields.get("kind") == "answer" else "m.notice"
            assert event.content.get("msgtype") == expected, (event.fields, event.content)
            assert_renders_like_element(event)
            assert member.account.user_id not in event.body
            assert member.display_name not in event.body
        answer = next(e for e in messages if e.fields.get("kind") == "answer")
        assert "<script>" not in str(answer.content.get("formatted_body"))
        assert "&lt;script&gt;" in str(answer.content.get("formatted_body"))
