"""Cross-signing against a real Synapse: others see our device signed; the identity never moves."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from nio import AsyncClient, AsyncClientConfig

from bridge.crosssign import (
    CrossSigningError,
    CrossSigningKeys,
    ensure_cross_signing,
    save_keys,
    verify_device_chain,
    verify_signed_json,
)
from bridge.homeserver import Account, EmbeddedHomeserver

pytestmark = pytest.mark.integration

UPLOAD_PATHS = ("/keys/device_signing/upload", "/keys/signatures/upload")
ClientFactory = Callable[..., Awaitable[AsyncClient]]
MakeAccount = Callable[..., Account]


async def _post(url: str, token: str | None, path: str, body: dict[str, Any]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + path, json=body, headers=headers) as response,
    ):
        data: dict[str, Any] = await response.json()
        assert response.status == 200, data
        return data


async def _keys_of(
    homeserver: EmbeddedHomeserver, viewer_token: str, user_id: str
) -> dict[str, Any]:
    """What another user's client sees when it asks for `user_id`'s keys."""
    return await _post(
        homeserver.url,
        viewer_token,
        "/_matrix/client/v3/keys/query",
        {"device_keys": {user_id: []}},
    )


@pytest.fixture
async def nio_client(
    homeserver: EmbeddedHomeserver, tmp_path: Path
) -> AsyncIterator[ClientFactory]:
    """Make E2EE nio clients for registered accounts; their stores live in tmp_path."""
    clients: list[AsyncClient] = []

    async def make(account: Account, store: str = "store") -> AsyncClient:
        store_path = tmp_path / store
        store_path.mkdir(exist_ok=True)
        client = AsyncClient(
            homeserver.url,
            account.user_id,
            device_id=account.device_id,
            store_path=str(store_path),
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False),
        )
        clients.append(client)
        client.restore_login(account.user_id, account.device_id, account.access_token)
        if client.should_upload_keys:
            await client.keys_upload()
        return client

    yield make
    for client in clients:
        await client.close()


def _count_uploads(client: AsyncClient) -> list[str]:
    """Record every request the client makes to the cross-signing upload endpoints."""
    uploads: list[str] = []
    send = client.send

    async def counting_send(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if path.endswith(UPLOAD_PATHS):
            uploads.append(path)
        return await send(method, path, *args, **kwargs)

    client.send = counting_send
    return uploads


async def test_a_new_account_is_cross_signed_and_others_can_verify_the_chain(
    homeserver: EmbeddedHomeserver,
    make_account: MakeAccount,
    nio_client: ClientFactory,
    tmp_path: Path,
) -> None:
    bot, other = make_account("bot"), make_account("other")
    client = await nio_client(bot)
    key_file = tmp_path / "keys" / "cross-signing.json"

    status = await ensure_cross_signing(client, key_file)

    assert status.created and status.device_signed
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    seen = await _keys_of(homeserver, other.access_token, bot.user_id)
    assert verify_device_chain(seen, bot.user_id, bot.device_id, master_key=status.master_key)
    # The device vouches for the identity too.
    device_key = client.olm.account.identity_keys["ed25519"]
    assert verify_signed_json(
        seen["master_keys"][bot.user_id], device_key, bot.user_id, f"ed25519:{bot.device_id}"
    )


async def test_a_restart_with_the_same_key_file_uploads_nothing(
    make_account: MakeAccount, nio_client: ClientFactory, tmp_path: Path
) -> None:
    bot = make_account("bot")
    key_file = tmp_path / "cross-signing.json"
    first = await ensure_cross_signing(await nio_client(bot), key_file)
    key_file_before = key_file.read_bytes()

    restarted = await nio_client(bot)  # a new client on the same store, as after a restart
    uploads = _count_uploads(restarted)
    again = await ensure_cross_signing(restarted, key_file)

    assert uploads == []
    assert not again.created and again.device_signed
    assert (again.master_key, again.self_signing_key) == (first.master_key, first.self_signing_key)
    assert key_file.read_bytes() == key_file_before


async def test_a_different_or_missing_key_file_is_refused_and_the_server_keeps_its_keys(
    homeserver: EmbeddedHomeserver,
    make_account: MakeAccount,
    nio_client: ClientFactory,
    tmp_path: Path,
) -> None:
    bot, other = make_account("bot"), make_account("other")
    client = await nio_client(bot)
    status = await ensure_cross_signing(client, tmp_path / "right.json")
    before = await _keys_of(homeserver, other.access_token, bot.user_id)

    wrong = tmp_path / "wrong.json"
    save_keys(wrong, CrossSigningKeys.generate())
    uploads = _count_uploads(client)
    with pytest.raises(CrossSigningError, match="not the one in"):
        await ensure_cross_signing(client, wrong)
    with pytest.raises(CrossSigningError, match="does not exist"):
        await ensure_cross_signing(client, tmp_path / "missing.json")

    assert uploads == []
    assert not (tmp_path / "missing.json").exists()
    after = await _keys_of(homeserver, other.access_token, bot.user_id)
    assert after["master_keys"] == before["master_keys"]
    assert after["self_signing_keys"] == before["self_signing_keys"]
    assert verify_device_chain(after, bot.user_id, bot.device_id, master_key=status.master_key)


async def test_a_key_file_the_server_never_received_is_uploaded_as_is(
    make_account: MakeAccount, nio_client: ClientFactory, tmp_path: Path
) -> None:
    # As after a run that saved its new keys but died before the upload.
    bot = make_account("bot")
    keys = CrossSigningKeys.generate()
    save_keys(tmp_path / "cross-signing.json", keys)

    status = await ensure_cross_signing(await nio_client(bot), tmp_path / "cross-signing.json")

    assert status.created and status.device_signed
    assert status.master_key == keys.public("master")


async def test_a_second_device_of_the_same_identity_is_signed_without_new_keys(
    homeserver: EmbeddedHomeserver,
    make_account: MakeAccount,
    nio_client: ClientFactory,
    tmp_path: Path,
) -> None:
    bot, other = make_account("bot"), make_account("other")
    key_file = tmp_path / "cross-signing.json"
    first = await ensure_cross_signing(await nio_client(bot), key_file)
    login = await _post(
        homeserver.url,
        None,
        "/_matrix/client/v3/login",
        {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": bot.user_id},
            "password": bot.password,
        },
    )
    second = Account(
        user_id=bot.user_id,
        password=bot.password,
        access_token=login["access_token"],
        device_id=login["device_id"],
    )

    status = await ensure_cross_signing(await nio_client(second, store="second"), key_file)

    assert not status.created and status.master_key == first.master_key
    seen = await _keys_of(homeserver, other.access_token, bot.user_id)
    for device_id in (bot.device_id, second.device_id):
        assert verify_device_chain(seen, bot.user_id, device_id, master_key=first.master_key)
