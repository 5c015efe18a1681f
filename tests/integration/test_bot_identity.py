"""The bot's identity on a real Synapse: cross-signed, stable over restarts, never silently new."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest

from bridge.bot import Bridge
from bridge.crosssign import load_keys, verify_device_chain
from bridge.homeserver import EmbeddedHomeserver
from bridge.matrix import STORE_DIR, IdentityError, load_session, store_file
from tests.conftest import MakeAccount
from tests.integration.harness import World, client_api, running_world

pytestmark = pytest.mark.integration


async def keys_seen_by_another_user(world: World, viewer_token: str) -> dict[str, Any]:
    """What any other Matrix client gets when it asks the homeserver for the bot's keys."""
    status, body = await client_api(
        world.homeserver.url,
        viewer_token,
        "POST",
        "/_matrix/client/v3/keys/query",
        {"device_keys": {world.settings.bot.user_id: []}},
    )
    assert status == 200, body
    assert isinstance(body, dict)
    return body


async def bot_devices(world: World) -> list[str]:
    """The device ids on the bot's account, as the homeserver lists them."""
    token = world.settings.bot.access_token
    assert token is not None
    status, body = await client_api(
        world.homeserver.url, token.get_secret_value(), "GET", "/_matrix/client/v3/devices"
    )
    assert status == 200, body
    return sorted(device["device_id"] for device in body["devices"])


def master_key_in_key_file(world: World) -> str:
    keys = load_keys(world.settings.bot.key_file)
    assert keys is not None
    return keys.public("master")


async def test_another_user_sees_the_bots_device_cross_signed_by_the_identity_in_its_key_file(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        bot = world.settings.bot
        viewer = make_account("buur")

        seen = await keys_seen_by_another_user(world, viewer.access_token)

        master = master_key_in_key_file(world)
        assert verify_device_chain(seen, bot.user_id, bot.device_id, master_key=master)
        # Pinned: the same response does not verify against any other master key.
        assert not verify_device_chain(seen, bot.user_id, bot.device_id, master_key="A" * 43)
        assert stat.S_IMODE(bot.key_file.stat().st_mode) == 0o600
        assert list(seen["device_keys"][bot.user_id]) == [bot.device_id]


async def test_a_restart_keeps_the_same_device_and_the_same_master_key(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        bot = world.settings.bot
        viewer = make_account("buur")
        master = master_key_in_key_file(world)
        session = load_session(bot.data_dir)
        assert session is not None and session.device_id == bot.device_id

        await world.restart_bot()

        assert world.bridge.client is not None
        assert world.bridge.client.device_id == bot.device_id
        assert load_session(bot.data_dir) == session
        assert master_key_in_key_file(world) == master
        assert await bot_devices(world) == [bot.device_id]
        seen = await keys_seen_by_another_user(world, viewer.access_token)
        assert verify_device_chain(seen, bot.user_id, bot.device_id, master_key=master)


async def test_a_missing_crypto_store_makes_the_bot_refuse_to_start_without_a_new_device(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        bot = world.settings.bot
        await world.stop_bot()
        crypto_store = store_file(bot.data_dir / STORE_DIR, bot.user_id, bot.device_id)
        assert crypto_store.exists()
        crypto_store.unlink()

        refused_bridge = Bridge(world.settings)
        with pytest.raises(IdentityError) as refused:
            await refused_bridge.run()

        message = str(refused.value)
        assert f"crypto store for device {bot.device_id} is missing" in message
        assert "restore it from a backup" in message
        assert not crypto_store.exists()
        assert await bot_devices(world) == [bot.device_id]
        with pytest.raises(sqlite3.ProgrammingError):  # the refused bot closed its database
            _ = refused_bridge.store.sync_token
