"""After relaying, the bot can no longer decrypt what the member sent (forward secrecy)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import nio
import pytest

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
