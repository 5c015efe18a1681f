"""Case C13: a message that arrives before its room key is relayed once the key comes — once."""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import quote

from bridge.homeserver import EmbeddedHomeserver
from tests.conftest import MakeAccount
from tests.integration.harness import client_api, running_world


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
