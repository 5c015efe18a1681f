"""MatrixGateway without a homeserver: session files, login decisions, events, reply content.

Its end-to-end behaviour against the real bot and Synapse is tested in tests/integration.
"""

from __future__ import annotations

import asyncio
import socket
import stat
from pathlib import Path
from typing import Any

import pytest
from nio import AsyncClient, AsyncClientConfig, Event

from bintui.gateway import GatewayError, LoginRequired
from bintui.matrix_gateway import (
    SESSION_FILE,
    MatrixGateway,
    StoredSession,
    account_dir,
    read_session,
    write_session,
)
from bintui.settings import ClientSettings
from bridge.protocol import BinFields, Kind, Status

BOT = "@bin:localhost"
CO = "@co:localhost"
DESK = "!desk:localhost"


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def settings(tmp_path: Path, **values: Any) -> ClientSettings:
    return ClientSettings(data_dir=tmp_path / "data", **values)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_without_any_account_a_login_is_required(tmp_path: Path) -> None:
    gateway = MatrixGateway(settings(tmp_path))
    with pytest.raises(LoginRequired):
        await gateway.start(lambda: None)


async def test_without_password_or_session_a_login_is_required(tmp_path: Path) -> None:
    gateway = MatrixGateway(settings(tmp_path, user_id=CO))
    with pytest.raises(LoginRequired):
        await gateway.start(lambda: None)
    # Nothing is written before there are credentials (so a logout leaves nothing behind).
    assert not account_dir(tmp_path / "data", CO).exists()


async def test_an_unreachable_homeserver_at_first_login_is_a_clear_error(tmp_path: Path) -> None:
    url = closed_port_url()
    gateway = MatrixGateway(settings(tmp_path, user_id=CO, password="pw", homeserver=url))
    with pytest.raises(GatewayError, match="not reachable"):
        await gateway.start(lambda: None)
    assert not (account_dir(tmp_path / "data", CO) / SESSION_FILE).exists()


async def test_a_session_without_its_encryption_store_is_refused(tmp_path: Path) -> None:
    folder = account_dir(tmp_path / "data", CO)
    folder.mkdir(parents=True)
    write_session(folder / SESSION_FILE, StoredSession(CO, "BINTUI", "token", "http://x"))
    gateway = MatrixGateway(settings(tmp_path, user_id=CO))
    with pytest.raises(GatewayError, match="encryption store"):
        await gateway.start(lambda: None)


def test_the_session_file_is_private_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / SESSION_FILE
    session = StoredSession(CO, "BINTUI", "syt_secret", "http://127.0.0.1:8008")
    write_session(path, session)
    assert mode(path) == 0o600
    assert read_session(path) == session
    write_session(path, StoredSession(CO, "BINTUI", "syt_new", "http://127.0.0.1:8008"))
    assert read_session(path) == StoredSession(CO, "BINTUI", "syt_new", "http://127.0.0.1:8008")
    path.write_text("{broken", encoding="utf-8")
    with pytest.raises(GatewayError, match="damaged session file"):
        read_session(path)


def test_each_account_has_its_own_directory(tmp_path: Path) -> None:
    assert account_dir(tmp_path, "@co:localhost") == tmp_path / "co_localhost"
    assert account_dir(tmp_path, "@a/../b:hs:8448") == tmp_path / "a_.._b_hs_8448"


async def test_a_stored_session_is_used_and_an_unreachable_server_means_offline(
    tmp_path: Path,
) -> None:
    """With a session and its store, start() returns offline and keeps retrying."""
    folder = account_dir(tmp_path / "data", CO)
    folder.mkdir(parents=True, mode=0o700)
    seed = AsyncClient("http://x", CO, store_path=str(folder), config=AsyncClientConfig())
    seed.restore_login(CO, "BINTUI", "token")  # creates the encryption store
    await seed.close()
    write_session(folder / SESSION_FILE, StoredSession(CO, "BINTUI", "token", "http://x"))

    url = closed_port_url()
    gateway = MatrixGateway(settings(tmp_path, homeserver=url), max_backoff=0.05)
    changes: list[str] = []
    await gateway.start(lambda: changes.append(gateway.state.status))
    try:
        assert gateway.state.status == "offline"
        assert gateway.state.error
        assert changes[0] == "offline"
        await asyncio.sleep(0.3)
        assert gateway._task is not None and not gateway._task.done()  # still retrying
    finally:
        await gateway.close()
    assert gateway._task is None


def nio_event(source: dict[str, Any], *, decrypted: bool = True) -> Any:
    event = Event.parse_event(source)
    event.decrypted = decrypted
    return event


def report_source(event_id: str = "$root") -> dict[str, Any]:
    fields = BinFields(
        kind=Kind.REPORT,
        report="M-0001",
        pseudonym="Blauwe Reiger",
        wijk="oost",
        status=Status.NEW,
        text="Hallo",
    )
    return {
        "type": "m.room.message",
        "event_id": event_id,
        "sender": BOT,
        "origin_server_ts": 1_700_000_000_000,
        "room_id": DESK,
        "content": {"msgtype": "m.text", "body": "Melding M-0001", "nl.bin": fields.to_content()},
    }


def test_only_decrypted_messages_can_be_reports(tmp_path: Path) -> None:
    gateway = MatrixGateway(settings(tmp_path))
    assert not gateway._ingest(DESK, nio_event(report_source(), decrypted=False))
    assert gateway.reports() == []
    assert gateway._ingest(DESK, nio_event(report_source()))
    (report,) = gateway.reports()
    assert (report.report, report.pseudonym, report.opened_ts) == (
        "M-0001",
        "Blauwe Reiger",
        1_700_000_000.0,
    )


def test_a_redaction_removes_the_report(tmp_path: Path) -> None:
    gateway = MatrixGateway(settings(tmp_path))
    gateway._ingest(DESK, nio_event(report_source()))
    redaction = {
        "type": "m.room.redaction",
        "event_id": "$red",
        "sender": BOT,
        "origin_server_ts": 1_700_000_001_000,
        "redacts": "$root",
        "content": {"redacts": "$root"},
    }
    assert gateway._ingest(DESK, nio_event(redaction, decrypted=False))
    assert gateway.reports() == []


def test_an_event_that_cannot_be_read_is_skipped(tmp_path: Path) -> None:
    gateway = MatrixGateway(settings(tmp_path))

    class Broken:
        @property
        def source(self) -> dict[str, Any]:
            raise RuntimeError("malformed")

    assert not gateway._ingest(DESK, Broken())


class RecordingClient:
    logged_in = True

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any], bool]] = []

    async def room_send(
        self, room_id: str, kind: str, content: dict[str, Any], ignore_unverified_devices: bool
    ) -> object:
        self.sent.append((room_id, kind, content, ignore_unverified_devices))
        return object()

    async def close(self) -> None:
        pass


async def test_a_reply_goes_into_the_thread_with_no_mentions(tmp_path: Path) -> None:
    gateway = MatrixGateway(settings(tmp_path))
    gateway._ingest(DESK, nio_event(report_source()))
    client = RecordingClient()
    gateway._client = client  # type: ignore[assignment]
    (report,) = gateway.reports()
    await gateway.reply(report, "Regel een\n\nRegel drie")
    assert client.sent == [
        (
            DESK,
            "m.room.message",
            {
                "msgtype": "m.text",
                "body": "Regel een\n\nRegel drie",
                "m.relates_to": {
                    "rel_type": "m.thread",
                    "event_id": "$root",
                    "is_falling_back": True,
                    "m.in_reply_to": {"event_id": "$root"},
                },
                "m.mentions": {},
            },
            True,
        )
    ]


async def test_replying_while_not_connected_is_a_clear_error(tmp_path: Path) -> None:
    gateway = MatrixGateway(settings(tmp_path))
    gateway._ingest(DESK, nio_event(report_source()))
    with pytest.raises(GatewayError, match="not connected"):
        await gateway.reply(gateway.reports()[0], "hoi")


def test_the_only_stored_account_is_found_without_a_configured_user(tmp_path: Path) -> None:
    data = tmp_path / "data"
    folder = account_dir(data, CO)
    folder.mkdir(parents=True)
    write_session(folder / SESSION_FILE, StoredSession(CO, "BINTUI", "t", "http://x"))
    assert MatrixGateway(settings(tmp_path))._only_stored_account() == CO
    other = account_dir(data, "@other:localhost")
    other.mkdir()
    write_session(other / SESSION_FILE, StoredSession("@other:localhost", "D", "t", "http://x"))
    assert MatrixGateway(settings(tmp_path))._only_stored_account() is None
