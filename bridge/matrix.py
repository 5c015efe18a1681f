"""The nio client: creation, persistent session, identity guard, and small send helpers.

The bot's device never changes silently: once a session exists, a missing crypto store is an
error, not a reason to log in again (that would create a new, unverified device).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nio

from bridge.settings import BridgeSettings

log = logging.getLogger(__name__)

SESSION_FILE = "session.json"
STORE_DIR = "crypto"


class IdentityError(Exception):
    """The bot's stored identity is missing, broken or belongs to another device."""


@dataclass(frozen=True, slots=True)
class Session:
    """What is needed to restore a login without creating a new device."""

    user_id: str
    device_id: str
    access_token: str
    homeserver: str


def write_private_file(path: Path, data: bytes) -> None:
    """Write a file readable only by its owner, atomically (tmp file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def load_session(data_dir: Path) -> Session | None:
    """The stored session, or None if the bot never logged in."""
    path = data_dir / SESSION_FILE
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text())
        return Session(
            user_id=raw["user_id"],
            device_id=raw["device_id"],
            access_token=raw["access_token"],
            homeserver=raw["homeserver"],
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IdentityError(
            f"{path}: the stored session is unreadable ({type(exc).__name__})"
        ) from None


def save_session(data_dir: Path, session: Session) -> None:
    """Store the session (mode 0600)."""
    payload = {
        "user_id": session.user_id,
        "device_id": session.device_id,
        "access_token": session.access_token,
        "homeserver": session.homeserver,
    }
    write_private_file(data_dir / SESSION_FILE, json.dumps(payload).encode())


def pickle_key(secret: bytes) -> str:
    """The key nio uses to encrypt the Olm account and sessions in its store."""
    return hashlib.sha256(b"bin-nio-pickle\0" + secret).hexdigest()


def harden_decrypted_event_parser() -> None:
    """Make nio turn a malformed decrypted event into a BadEvent instead of raising.

    nio validates the *clear* envelope of every event, but parses the decrypted payload with
    code that assumes its shape: a payload with `"unsigned": 5` (or a list, or a string)
    raises TypeError/AttributeError inside `decrypt_megolm_event`, and nio only catches
    EncryptionError there. The exception escapes `client.sync()`, so the whole batch fails;
    because the bot stores its sync position only after a batch, the next sync meets the same
    event again and the bot is stuck for good. Any member can craft such a payload.

    The result is what nio returns for events its schemas reject: a BadEvent, which nio then
    marks as decrypted, so the bot answers it like any other malformed message. Idempotent.
    """
    event_class: Any = nio.events.room_events.Event
    if getattr(event_class.parse_decrypted_event, "_bin_hardened", False):
        return
    parse = event_class.__dict__["parse_decrypted_event"].__func__

    def parse_decrypted_event(cls: Any, event_dict: dict[Any, Any]) -> Any:
        try:
            return parse(cls, event_dict)
        except Exception as exc:
            log.warning(
                "a decrypted event is malformed (%s); kept as a bad event", type(exc).__name__
            )
            try:
                return nio.BadEvent.from_dict(event_dict)
            except (KeyError, TypeError, ValueError):
                return nio.UnknownBadEvent(event_dict)

    parse_decrypted_event._bin_hardened = True  # type: ignore[attr-defined]
    event_class.parse_decrypted_event = classmethod(parse_decrypted_event)


def make_client(homeserver: str, user_id: str, store_dir: Path, secret: bytes) -> nio.AsyncClient:
    """A nio client with E2EE on, our own sync-token handling, and an encrypted store."""
    harden_decrypted_event_parser()
    store_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    config = nio.AsyncClientConfig(
        encryption_enabled=True,
        store_sync_tokens=False,
        pickle_key=pickle_key(secret),
        request_timeout=60,
        max_timeouts=2,
    )
    return nio.AsyncClient(homeserver, user_id, store_path=str(store_dir), config=config)


def store_file(store_dir: Path, user_id: str, device_id: str) -> Path:
    """Where nio keeps the crypto store for this device."""
    return store_dir / f"{user_id}_{device_id}.db"


async def connect(settings: BridgeSettings, secret: bytes) -> nio.AsyncClient:
    """Log the bot in, restoring its existing device, and guard its identity.

    First start: log in with the password (or adopt the configured token) under the
    configured device id and save the session. Later starts: restore that session; refuse to
    start when the crypto store is missing or belongs to another device.
    """
    data_dir = settings.bot.data_dir
    store_dir = data_dir / STORE_DIR
    session = load_session(data_dir)
    client = make_client(settings.homeserver.url, settings.bot.user_id, store_dir, secret)

    if session is not None:
        if session.user_id != settings.bot.user_id:
            raise IdentityError(
                f"{data_dir / SESSION_FILE} belongs to {session.user_id}, "
                f"not to the configured bot {settings.bot.user_id}"
            )
        try:
            check_crypto_store(store_dir, session)
            client.restore_login(session.user_id, session.device_id, session.access_token)
        except IdentityError:
            await client.close()
            raise
        except Exception as exc:  # nio could not load the account (wrong key, damaged pickle)
            await client.close()
            raise IdentityError(
                f"the crypto store for device {session.device_id} in {store_dir} cannot be "
                f"opened ({type(exc).__name__}): is bot.secret_key (or {data_dir}/secret.key) "
                "the one it was created with? Restore both from the same backup."
            ) from None
        await _check_token(client, session)
        await _check_device_keys(client, session)
        return client

    if settings.bot.access_token is not None:
        token = settings.bot.access_token.get_secret_value()
        client.restore_login(settings.bot.user_id, settings.bot.device_id, token)
        await _check_token(
            client,
            Session(settings.bot.user_id, settings.bot.device_id, token, settings.homeserver.url),
        )
    elif settings.bot.password is not None:
        client.device_id = settings.bot.device_id
        response = await client.login(
            settings.bot.password.get_secret_value(), device_name="BIN bridge"
        )
        if not isinstance(response, nio.LoginResponse):
            await client.close()
            raise IdentityError(f"login as {settings.bot.user_id} failed: {response.message}")
    else:
        await client.close()
        raise IdentityError(
            "no stored session and neither bot.password nor bot.access_token is configured"
        )
    save_session(
        data_dir,
        Session(client.user_id, client.device_id, client.access_token, settings.homeserver.url),
    )
    return client


_NEVER_NEW_DEVICE = (
    "Starting anyway would create a new, unverified device that cannot read earlier "
    "messages; restore it from a backup (`bin-bridge restore`)."
)


def check_crypto_store(store_dir: Path, session: Session) -> None:
    """Refuse a crypto store that is missing, damaged, empty or another device's.

    Nothing is created or repaired here, so a refusal leaves the evidence intact (a write that
    a crash interrupted is rolled back, as any open of the store does).
    """
    path = store_file(store_dir, session.user_id, session.device_id)
    if not path.exists():
        others = sorted(p.name for p in store_dir.glob("*.db")) if store_dir.is_dir() else []
        if others:
            raise IdentityError(
                f"the session is for device {session.device_id}, but the crypto store in "
                f"{store_dir} belongs to another device ({', '.join(others)}). " + _NEVER_NEW_DEVICE
            )
        raise IdentityError(
            f"the crypto store for device {session.device_id} is missing in {store_dir}. "
            + _NEVER_NEW_DEVICE
        )
    try:
        # mode=rw (never rwc: nothing is created). After a crash (SIGKILL, power cut) in the
        # middle of a write the store has a hot rollback journal; a read-only connection
        # cannot roll it back and fails with "attempt to write a readonly database", which
        # kept the bot from ever starting again. SQLite's rollback is what nio's own open
        # does next anyway: it completes the interrupted transaction, it repairs nothing.
        db = sqlite3.connect(f"file:{path}?mode=rw", uri=True)
        try:
            verdict = db.execute("PRAGMA quick_check").fetchone()
            if verdict is None or verdict[0] != "ok":
                raise sqlite3.DatabaseError(str(verdict[0] if verdict else "no answer"))
            rows = db.execute(
                "SELECT device_id FROM accounts WHERE user_id=?", (session.user_id,)
            ).fetchall()
        finally:
            db.close()
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise IdentityError(f"the crypto store {path} cannot be read: {exc}") from None
        rows = []
    except sqlite3.DatabaseError as exc:
        raise IdentityError(
            f"the crypto store {path} is damaged ({exc}). " + _NEVER_NEW_DEVICE
        ) from None
    devices = {str(r[0]) for r in rows}
    if not devices:
        raise IdentityError(
            f"the crypto store {path} holds no identity (empty or truncated). " + _NEVER_NEW_DEVICE
        )
    if session.device_id not in devices:
        raise IdentityError(
            f"the crypto store {path} belongs to device {', '.join(sorted(devices))}, but the "
            f"session is for device {session.device_id}. " + _NEVER_NEW_DEVICE
        )


async def _check_device_keys(client: nio.AsyncClient, session: Session) -> None:
    """The homeserver's keys for our device must be the store's: else it is another device."""
    olm = client.olm
    if olm is None:
        return
    response = await client.send(
        "POST",
        "/_matrix/client/v3/keys/query",
        data=json.dumps({"device_keys": {session.user_id: [session.device_id]}}),
        headers={
            "Authorization": f"Bearer {client.access_token}",
            "Content-Type": "application/json",
        },
    )
    try:
        if response.status != 200:
            return  # nothing to compare with now; the token check already passed
        body = await response.json(content_type=None)
    finally:
        response.release()
    device = body.get("device_keys", {}).get(session.user_id, {}).get(session.device_id)
    if not isinstance(device, dict):
        return  # never uploaded (a first start that was interrupted): nio will upload them
    keys = device.get("keys", {})
    ours = olm.account.identity_keys
    if keys.get(f"ed25519:{session.device_id}") != ours["ed25519"]:
        await client.close()
        raise IdentityError(
            f"the homeserver knows device {session.device_id} with other keys than the crypto "
            "store holds: the store belongs to another installation. " + _NEVER_NEW_DEVICE
        )


async def _check_token(client: nio.AsyncClient, session: Session) -> None:
    response = await client.whoami()
    if not isinstance(response, nio.WhoamiResponse):
        await client.close()
        raise IdentityError(f"the stored access token was refused: {response.message}")
    if response.device_id and response.device_id != session.device_id:
        await client.close()
        raise IdentityError(
            f"the access token belongs to device {response.device_id}, "
            f"but the crypto store is for device {session.device_id}"
        )


def content_of(event: Any) -> dict[str, Any]:
    """The (decrypted) content of a nio room event as a plain dict."""
    source = getattr(event, "source", None) or {}
    content = source.get("content")
    return content if isinstance(content, dict) else {}
