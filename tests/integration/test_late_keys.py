"""Case C13: a message that arrives before its room key is relayed once the key comes — once;
if the key does not come, the member is asked (once) to send it again."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from bridge.homeserver import EmbeddedHomeserver
from bridge.leakscan import MemberTrace, assert_no_leaks
from tests.conftest import MakeAccount
from tests.integration.harness import Member, Received, client_api, running_world


async def test_a_message_whose_key_arrives_after_a_bot_restart_is_relayed_exactly_once(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        member = await world.signed_up_member(make_account, "oost")
        desk = world.room("oost", "desk")
        coordinator = world.coordinator("oost")
        client = member.user.client
        room = member.private_room
        text = "Sleutel komt later: verdachte persoon bij de garageboxen"

        # Encrypt with a brand-new Megolm session whose key the bot has not received.
        olm = client.olm
        olm.create_outbound_group_session(room)
        session = olm.outbound_group_sessions[room]
        session.shared = True  # let nio encrypt with it before sharing
        key_at_index_0 = session.session_key  # what a real client would share for message 0
        payload = olm.group_encrypt(
            room, {"type": "m.room.message", "content": {"msgtype": "m.text", "body": text}}
        )
        status, _ = await client_api(
            homeserver.url,
            member.user.account.access_token,
            "PUT",
            f"/_matrix/client/v3/rooms/{quote(room)}/send/m.room.encrypted/{uuid.uuid4().hex}",
            payload,
        )
        assert status == 200

        # The bot sees it, cannot read it, keeps it; a restart must not lose it.
        await world.bridge.ready.wait()
        for _ in range(40):
            if world.bridge.store.undecrypted():
                break
            await member.user.sync(wait_ms=250)
        assert len(world.bridge.store.undecrypted()) == 1
        await world.restart_bot()
        assert len(world.bridge.store.undecrypted()) == 1

        # Now the member's client shares that session's key with the bot's device.
        class FromTheStart(type(session)):  # type: ignore[misc]
            @property
            def session_key(self) -> str:
                return str(key_at_index_0)

        session.__class__ = FromTheStart
        session.shared = False
        await client.share_group_session(room, ignore_unverified_devices=True)

        report = await coordinator.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("text") == text,
            what="the late-key report in the desk",
        )
        assert report.fields["kind"] == "report"
        for _ in range(6):  # a few more rounds: nothing arrives twice
            await coordinator.sync(wait_ms=500)
        copies = [e for e in coordinator.in_room(desk) if e.fields.get("text") == text]
        assert len(copies) == 1
        assert world.bridge.store.undecrypted() == []


class Withheld:
    """A member's new Megolm session whose key the bot does not get until `release()`."""

    def __init__(self, member: Member, homeserver_url: str) -> None:
        self.member = member
        self.url = homeserver_url
        olm = member.user.client.olm
        olm.create_outbound_group_session(member.private_room)
        self.session = olm.outbound_group_sessions[member.private_room]
        self.session.shared = True  # let nio encrypt with it before sharing
        self.key_at_index_0 = self.session.session_key

    async def send(self, text: str) -> None:
        client, room = self.member.user.client, self.member.private_room
        payload = client.olm.group_encrypt(
            room, {"type": "m.room.message", "content": {"msgtype": "m.text", "body": text}}
        )
        status, body = await client_api(
            self.url,
            client.access_token,
            "PUT",
            f"/_matrix/client/v3/rooms/{quote(room)}/send/m.room.encrypted/{uuid.uuid4().hex}",
            payload,
        )
        assert status == 200, body

    async def release(self) -> None:
        """Share the session with the bot from message 0, as a real client would have."""
        key = self.key_at_index_0

        class FromTheStart(type(self.session)):  # type: ignore[misc]
            @property
            def session_key(self) -> str:
                return str(key)

        self.session.__class__ = FromTheStart
        self.session.shared = False
        client = self.member.user.client
        await client.share_group_session(self.member.private_room, ignore_unverified_devices=True)


def questions(member: Member, needle: str) -> list[Received]:
    return [
        e
        for e in member.user.in_room(member.private_room)
        if e.sender != member.user_id and needle in e.body
    ]


async def test_a_member_whose_key_never_arrives_is_asked_once_per_burst_to_send_again(
    homeserver: EmbeddedHomeserver,
    make_account: MakeAccount,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Case C13's second half, with a 3-second `undecryptable_ask_after_seconds`."""
    caplog.set_level(logging.INFO)
    ask_after = 3.0
    nl_question, en_question = "nog een keer sturen", "send it again"
    async with running_world(
        homeserver, make_account, tmp_path, undecryptable_ask_after_seconds=ask_after
    ) as world:
        desk = world.room("oost", "desk")
        coordinator = world.coordinator("oost")
        anna = await world.signed_up_member(make_account, "oost")
        bob = await world.signed_up_member(make_account, "oost")
        await bob.user.say(bob.private_room, "!taal en")
        await bob.user.wait_for_event(
            lambda e: e.room_id == bob.private_room and "speak English" in e.body,
            what="the language switch",
        )

        # Anna: a burst of three messages under a key the bot never gets.
        withheld = Withheld(anna, homeserver.url)
        burst = [f"Onleesbaar {i}: brommers bij het speelveld" for i in range(3)]
        for text in burst:
            await withheld.send(text)
        bob_withheld = Withheld(bob, homeserver.url)
        await bob_withheld.send("Unreadable: a van without plates")

        await anna.user.wait_for(
            lambda: questions(anna, nl_question), timeout=30, what="the question to send again"
        )
        await bob.user.wait_for(
            lambda: questions(bob, en_question), timeout=30, what="the English question"
        )
        assert len(world.bridge.store.undecrypted()) == 4
        # Twice the waiting time more, and a restart: nobody is asked a second time.
        await asyncio.sleep(ask_after)
        await world.restart_bot()
        await asyncio.sleep(ask_after)
        for _ in range(3):
            await anna.user.sync(wait_ms=500)
            await bob.user.sync(wait_ms=500)
        assert len(questions(anna, nl_question)) == 1
        assert len(questions(bob, en_question)) == 1
        assert questions(bob, nl_question) == []
        asked = questions(anna, nl_question)[0]
        assert asked.fields["kind"] == "notice"
        assert "112" in asked.body
        assert all(text not in asked.body for text in burst)

        # A new unreadable message after the question is a new burst: asked once more.
        late = "Onleesbaar 3: nog steeds die brommers"
        await withheld.send(late)
        await anna.user.wait_for(
            lambda: len(questions(anna, nl_question)) == 2, timeout=30, what="the second question"
        )
        for _ in range(int(ask_after) + 2):
            await anna.user.sync(wait_ms=1000)
        assert len(questions(anna, nl_question)) == 2

        # The key turns up after all: every waiting message is relayed, exactly once.
        await withheld.release()
        await bob_withheld.release()
        expected = [*burst, late, "Unreadable: a van without plates"]
        await coordinator.wait_for(
            lambda: all(
                any(e.fields.get("text") == t for e in coordinator.in_room(desk)) for t in expected
            ),
            timeout=30,
            what="the late-key reports in the desk",
        )
        for _ in range(4):
            await coordinator.sync(wait_ms=500)
        texts = [e.fields.get("text") for e in coordinator.in_room(desk) if "text" in e.fields]
        assert sorted(texts) == sorted(expected)
        assert world.bridge.store.undecrypted() == []
        assert world.bridge.status()["undecrypted"] == 0

        for member in (anna, bob):
            display = member.user.client.rooms[member.private_room].user_name(member.user_id)
            trace = MemberTrace(
                user_id=member.user_id,
                display_name=display if display != member.user_id else None,
                room_ids=[member.private_room, member.dm_room],
            )
            outside = [s.content for s in world.sent if s.room_id != member.private_room]
            assert_no_leaks(outside, trace)
            logged = "\n".join(
                r.getMessage() for r in caplog.records if r.name.startswith("bridge")
            )
            for value in (member.user_id, member.private_room, *burst, late):
                assert value not in logged
        assert "asked to send again" in "\n".join(r.getMessage() for r in caplog.records)
