"""nio's encryption store is keyed by a secret in the session file, like the drafts.

Real nio stores in a temporary folder; the login is answered by a tiny local homeserver that
knows only `/login` (its `/sync` refuses), which is all a first login needs before it goes
offline and keeps retrying.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import vodozemac
from aiohttp import web
from nio import AsyncClient, AsyncClientConfig
from nio.store import DefaultStore

from bintui.app import BinTuiApp
from bintui.gateway import GatewayError
from bintui.local_cache import new_key
from bintui.matrix_gateway import (
    NIO_DEFAULT_PICKLE_KEY,
    SESSION_FILE,
    MatrixGateway,
    StoredSession,
    account_dir,
    read_session,
    write_session,
)
from bintui.settings import ClientSettings

CO = "@co:localhost"


@contextlib.asynccontextmanager
async def login_only_homeserver(device_id: str) -> AsyncIterator[str]:
    """A homeserver that logs anyone in as `CO` on `device_id` and refuses to sync."""

    async def login(request: web.Request) -> web.Response:
        await request.json()
        return web.json_response(
            {"user_id": CO, "device_id": device_id, "access_token": "syt_token"}
        )

    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"errcode": "M_UNRECOGNIZED", "error": "not here"}, status=400)

    app = web.Application()
    app.router.add_post("/_matrix/client/v3/login", login)
    app.router.add_route("*", "/{tail:.*}", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


def settings(tmp_path: Path, homeserver: str, **values: object) -> ClientSettings:
    return ClientSettings(
        data_dir=tmp_path / "data",
        homeserver=homeserver,
        user_id=CO,
        cross_signing=False,
        **values,  # type: ignore[arg-type]
    )


def account_opens(folder: Path, device_id: str, pickle_key: str) -> bool:
    """Whether the store's Olm account decrypts with `pickle_key` (nio's own store code)."""
    store = DefaultStore(CO, device_id, str(folder), pickle_key)
    try:
        return store.load_account() is not None
    except (vodozemac.PickleException, vodozemac.LibolmPickleException):
        return False


def seed_store(folder: Path, device_id: str, pickle_key: str) -> None:
    """A real nio store with an Olm account, pickled with `pickle_key`."""
    folder.mkdir(parents=True, mode=0o700, exist_ok=True)
    config = AsyncClientConfig(store_sync_tokens=False, pickle_key=pickle_key)
    seed = AsyncClient("http://x", CO, store_path=str(folder), config=config)
    seed.restore_login(CO, device_id, "token")
    assert seed.olm is not None


async def start_offline(gateway: MatrixGateway) -> None:
    await gateway.start(lambda: None)
    assert gateway.state.status == "offline"  # our homeservers never sync


def test_nio_default_pickle_key_is_what_nio_uses_without_one() -> None:
    assert AsyncClientConfig().pickle_key == NIO_DEFAULT_PICKLE_KEY


async def test_a_login_keys_the_store_with_a_secret_from_the_session_file(
    tmp_path: Path,
) -> None:
    folder = account_dir(tmp_path / "data", CO)
    async with login_only_homeserver("NEWDEV") as url:
        gateway = MatrixGateway(settings(tmp_path, url, password="pw"), max_backoff=0.05)
        await start_offline(gateway)
        await gateway.close()

        session = read_session(folder / SESSION_FILE)
        assert session is not None and session.device_id == "NEWDEV"
        assert len(base64.urlsafe_b64decode(session.store_key)) == 32
        assert session.cache_key and session.cache_key != session.store_key
        # The account in the real store: unreadable with nio's default, readable with the key.
        assert (folder / f"{CO}_NEWDEV.db").is_file()
        assert not account_opens(folder, "NEWDEV", NIO_DEFAULT_PICKLE_KEY)
        assert not account_opens(folder, "NEWDEV", new_key())
        assert account_opens(folder, "NEWDEV", session.store_key)

        # The next start restores the session and opens its store with the same key.
        again = MatrixGateway(settings(tmp_path, url), max_backoff=0.05)
        await start_offline(again)
        await again.close()
        assert read_session(folder / SESSION_FILE) == session


async def test_a_session_from_before_the_store_key_keeps_nios_default(tmp_path: Path) -> None:
    folder = account_dir(tmp_path / "data", CO)
    seed_store(folder, "OLDDEV", NIO_DEFAULT_PICKLE_KEY)
    write_session(folder / SESSION_FILE, StoredSession(CO, "OLDDEV", "token", "http://x"))
    async with login_only_homeserver("OLDDEV") as url:
        gateway = MatrixGateway(settings(tmp_path, url), max_backoff=0.05)
        await start_offline(gateway)
        await gateway.close()
    session = read_session(folder / SESSION_FILE)
    assert session is not None
    assert session.store_key == ""  # not re-keyed: the store still opens next time
    assert session.cache_key  # the drafts got their key, as before
    assert account_opens(folder, "OLDDEV", NIO_DEFAULT_PICKLE_KEY)


@pytest.mark.parametrize(
    ("stored_with", "session_key"),
    [("another key", new_key()), (new_key(), ""), (NIO_DEFAULT_PICKLE_KEY, new_key())],
    ids=["changed key", "key removed from the session", "old store under a new key"],
)
async def test_a_store_that_does_not_open_with_the_sessions_key_is_refused_clearly(
    tmp_path: Path, stored_with: str, session_key: str
) -> None:
    folder = account_dir(tmp_path / "data", CO)
    seed_store(folder, "DEV", stored_with)
    store = folder / f"{CO}_DEV.db"
    before = store.read_bytes()
    write_session(
        folder / SESSION_FILE, StoredSession(CO, "DEV", "token", "http://x", new_key(), session_key)
    )
    gateway = MatrixGateway(settings(tmp_path, "http://127.0.0.1:9"))
    with pytest.raises(GatewayError, match=r"encryption store of device DEV .* cannot be opened"):
        await gateway.start(lambda: None)
    assert gateway._client is None  # closed
    assert store.read_bytes() == before  # never replaced by a fresh account
    assert account_opens(folder, "DEV", stored_with)


async def test_a_login_onto_a_store_left_by_another_login_is_refused_clearly(
    tmp_path: Path,
) -> None:
    """No session file, but the server hands back a device whose store is already here."""
    folder = account_dir(tmp_path / "data", CO)
    seed_store(folder, "KEPT", NIO_DEFAULT_PICKLE_KEY)
    async with login_only_homeserver("KEPT") as url:
        gateway = MatrixGateway(settings(tmp_path, url, password="pw"))
        with pytest.raises(GatewayError, match=r"encryption store of device KEPT .* another login"):
            await gateway.start(lambda: None)
    assert not (folder / SESSION_FILE).exists()
    assert account_opens(folder, "KEPT", NIO_DEFAULT_PICKLE_KEY)


async def test_the_app_reports_a_store_it_cannot_open(tmp_path: Path) -> None:
    folder = account_dir(tmp_path / "data", CO)
    seed_store(folder, "DEV", new_key())
    write_session(
        folder / SESSION_FILE, StoredSession(CO, "DEV", "token", "http://x", new_key(), new_key())
    )
    config = settings(tmp_path, "http://127.0.0.1:9", language="en")
    app = BinTuiApp(config, gateway_factory=MatrixGateway)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(50):
            await pilot.pause(0.05)
            if app._notifications:
                break
        messages = [n.message for n in app._notifications]
        assert any("cannot be opened with the key of this session" in m for m in messages)
        assert app.gateway is None
        assert app.desk.connection.status == "offline"
