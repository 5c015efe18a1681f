"""After relaying, the bot can no longer decrypt what the member sent (forward secrecy)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import quote

import nio
import pytest

from bridge import forget
from bridge.homeserver import EmbeddedHomeserver
from tests.conftest import MakeAccount
from tests.integration.harness import client_api, running_world


async def test_the_bot_forgets_the_keys_of_relayed_messages_but_keeps_relaying_new_ones(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        member = await world.signed_up_member(make_account, "oost")
        anna = world.coordinator("oost")
        desk = world.room("oost", "desk")
        first = await member.user.say(member.private_room, "Eerste melding, daarna vergeten")
        await anna.wait_for_event(
            lambda e: (
                e.room_id == desk and e.fields.get("text") == "Eerste melding, daarna vergeten"
            ),
            what="the first report",
        )

        # The bot fetches the member's original from the homeserver: it cannot open it any more.
        bot = world.bridge.client
        assert bot is not None
        status, raw = await client_api(
            homeserver.url,
            bot.access_token,
            "GET",
            f"/_matrix/client/v3/rooms/{quote(member.private_room)}/event/{quote(first)}",
        )
        assert status == 200 and raw["type"] == "m.room.encrypted"
        event = nio.MegolmEvent.from_dict(raw)
        event.room_id = member.private_room
        # The key is forgotten right after the desk copy is sent, so allow the bot a moment.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                bot.decrypt_event(event)
            except nio.EncryptionError:
                break
            await asyncio.sleep(0.05)
        with pytest.raises(nio.EncryptionError, match="unknown message index"):
            bot.decrypt_event(event)
        assert world.bridge.errors == 0

        # The same session's next message still gets through.
        await member.user.say(member.private_room, "Tweede bericht in hetzelfde gesprek")
        await anna.wait_for_event(
            lambda e: (
                e.room_id == desk and e.fields.get("text") == "Tweede bericht in hetzelfde gesprek"
            ),
            what="the follow-up",
        )


class Crash(BaseException):
    """The process dies here: nothing in the bot may catch it (it is no Exception)."""


async def test_a_crash_between_the_desk_copy_and_forgetting_is_caught_up_after_the_restart(
    homeserver: EmbeddedHomeserver,
    make_account: MakeAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The key is forgotten just after the desk copy goes out; if the bot dies in between, the
    event comes back with the next sync after the restart, is not relayed again, and its key
    is forgotten then."""
    text = "Melding vlak voor een crash"
    original = forget.forget_up_to
    crashed: list[str] = []
    armed: list[bool] = []

    def crash_once(client: nio.AsyncClient, room_id: str, event: object) -> bool:
        if armed and not crashed:
            crashed.append(room_id)
            raise Crash
        return original(client, room_id, event)

    monkeypatch.setattr(forget, "forget_up_to", crash_once)
    async with running_world(homeserver, make_account, tmp_path) as world:
        member = await world.signed_up_member(make_account, "oost")
        desk = world.room("oost", "desk")
        anna = world.coordinator("oost")
        armed.append(True)  # the sign-up's own messages were forgotten normally
        first = await member.user.say(member.private_room, text)
        ended = await world.bot_ended()
        assert isinstance(ended, Crash)
        assert crashed == [member.private_room]

        await world.start_bot()
        await anna.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("text") == text, what="the report"
        )
        bot = world.bridge.client
        assert bot is not None
        status, raw = await client_api(
            homeserver.url,
            bot.access_token,
            "GET",
            f"/_matrix/client/v3/rooms/{quote(member.private_room)}/event/{quote(first)}",
        )
        assert status == 200
        event = nio.MegolmEvent.from_dict(raw)
        event.room_id = member.private_room
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                bot.decrypt_event(event)
            except nio.EncryptionError:
                break
            await asyncio.sleep(0.05)
        with pytest.raises(nio.EncryptionError, match="unknown message index"):
            bot.decrypt_event(event)
        await anna.sync(wait_ms=500)
        copies = [e for e in anna.in_room(desk) if e.fields.get("text") == text]
        assert len(copies) == 1
