"""The real Gateway: matrix-nio with end-to-end encryption, a private store and a sync loop.

The encryption store (nio's SQLite file `<user>_<device>.db` in the account's folder) holds the
device's secret keys: the Olm account, Olm sessions and Megolm room keys, each as a pickle that
nio encrypts with its `pickle_key`. bintui gives every session its own pickle key, the same way
it keys the drafts (`bintui.local_cache`): a random 256-bit secret (`StoredSession.store_key`)
written to the session file (`session.json`, mode 0600) at login and kept nowhere else. It is
used as nio's pickle passphrase as it is (nio hashes it to the 32-byte key). A copy of the
store without the session file (a backup, recovered blocks) does not give away the device's
keys; logging out removes both.

Backward compatibility: a session file written before the store key existed has no
`store_key`; its store was pickled with nio's default passphrase (`NIO_DEFAULT_PICKLE_KEY`), so
such a session keeps using that default and its store still opens. It is not re-keyed; logging
out and in again gives the new login a keyed store. A store that does not open with the
session's key (a changed or restored session file, a store left by another login) is refused
with a clear `GatewayError`, like a missing store.

Only the pickles are encrypted: the store's other rows (the devices of the users in the rooms,
which rooms are encrypted) are not secret and stay readable to whoever can read the folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import vodozemac
from aiohttp import ClientError
from nio import (
    AsyncClient,
    AsyncClientConfig,
    DownloadResponse,
    EncryptionError,
    JoinError,
    LocalProtocolError,
    LoginError,
    LogoutError,
    MegolmEvent,
    RoomMessagesError,
    RoomSendError,
    SyncError,
)
from nio.crypto.attachments import decrypt_attachment

from .gateway import (
    Broadcast,
    ConnectionState,
    GatewayError,
    Identity,
    LoginRequired,
    MediaFile,
    PoliceItem,
    Report,
    RoomRole,
    Status,
    Wijk,
    WijkStats,
)
from .identity import ensure_identity, restore_with_recovery_key
from .local_cache import DRAFTS_FILE, DraftStore, new_key
from .reports import THREAD, ReportBook, RoomEvent
from .rooms import RoomBook
from .settings import ClientSettings

log = logging.getLogger(__name__)

SESSION_FILE = "session.json"
NIO_DEFAULT_PICKLE_KEY = "DEFAULT_KEY"
"""nio's pickle passphrase when none is given: what stores of sessions without a store key use."""
_LOCKED_STORE = (vodozemac.PickleException, vodozemac.LibolmPickleException)
"""What nio raises when a pickle in the store does not decrypt with the pickle key."""
DEVICE_NAME = "bintui"
FIRST_SYNC_FILTER: dict[str, Any] = {"room": {"timeline": {"limit": 100}}}
"""The first sync of a run fetches this many events per room, then pages back (below)."""
BACKFILL_EVENTS = 1000
"""At start-up, how far back to read each joined room for older reports."""
MAX_UNDECRYPTED = 500
"""Undecryptable events kept in memory to retry when their key arrives."""
MAX_MEDIA_BYTES = 20 * 1024 * 1024
"""A photo the bot cleaned is far smaller; anything larger is not fetched further."""
NETWORK_ERRORS = (ClientError, OSError, TimeoutError)
_UNSAFE_PATH_CHARS = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True, slots=True)
class StoredSession:
    """What `session.json` holds: enough to restore the login without a password."""

    user_id: str
    device_id: str
    access_token: str
    homeserver: str
    cache_key: str = ""
    """The key of the encrypted local cache (`bintui.local_cache`): it ends with the session."""
    store_key: str = ""
    """The pickle key of nio's encryption store (see the module docstring); empty in a session
    from before it existed, whose store keeps nio's default."""

    @property
    def keys(self) -> SessionKeys:
        return SessionKeys(self.cache_key, self.store_key)


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """The session's two secrets, chosen before its client exists and written at each login."""

    cache_key: str = ""
    store_key: str = ""

    @classmethod
    def new(cls) -> SessionKeys:
        """Fresh random keys for a new login (the store is created during the login)."""
        return cls(cache_key=new_key(), store_key=new_key())

    @property
    def pickle_key(self) -> str:
        """The passphrase nio encrypts the session's store with."""
        return self.store_key or NIO_DEFAULT_PICKLE_KEY


def account_dir(data_dir: Path, user_id: str) -> Path:
    """The private directory of one account under `data_dir`, e.g. `co_example.nl`."""
    return data_dir / _UNSAFE_PATH_CHARS.sub("_", user_id.lstrip("@"))


def ensure_private_dir(path: Path) -> None:
    """Create `path` (and parents) and make it readable by its owner only."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)


def read_session(path: Path) -> StoredSession | None:
    """The stored session, or None if there is none; a damaged file is an error."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return StoredSession(
            user_id=str(data["user_id"]),
            device_id=str(data["device_id"]),
            access_token=str(data["access_token"]),
            homeserver=str(data.get("homeserver", "")),
            cache_key=str(data.get("cache_key", "")),
            store_key=str(data.get("store_key", "")),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GatewayError(f"{path}: damaged session file ({type(exc).__name__})") from None


def write_session(path: Path, session: StoredSession) -> None:
    """Write the session atomically, mode 0600 from the first byte."""
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(asdict(session), handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def describe(exc: BaseException) -> str:
    """A short, content-free description of a network failure."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class MatrixGateway:
    """Connects as the coordinator, keeps syncing, and turns desk events into reports."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        sync_timeout_ms: int = 30_000,
        max_backoff: float = 30.0,
    ) -> None:
        self.settings = settings
        self.state = ConnectionState()
        self.identity = Identity()
        self._folder: Path | None = None
        self._sync_timeout_ms = sync_timeout_ms
        self._max_backoff = max_backoff
        self._book = ReportBook(bot_user_id=settings.bot_user_id)
        self._rooms = RoomBook(bot_user_id=settings.bot_user_id)
        self._client: AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._on_change: Callable[[], None] = lambda: None
        self._undecrypted: OrderedDict[str, tuple[str, Any]] = OrderedDict()
        self._joining: set[str] = set()
        self._drafts: DraftStore | None = None
        self._keys = SessionKeys()
        """The session's keys, chosen before its client exists: a (re-)login writes them."""

    # -- Gateway API -----------------------------------------------------------------------

    async def start(self, on_change: Callable[[], None]) -> None:
        """Log in or restore the session, do the first sync, then sync in the background."""
        self._on_change = on_change
        self._set_state("connecting")
        user_id = self.settings.user_id or self._only_stored_account()
        if user_id is None:
            raise LoginRequired()
        folder = account_dir(self.settings.data_dir, user_id)
        session = read_session(folder / SESSION_FILE)
        if session is None and self.settings.password is None:
            raise LoginRequired()  # before any folder exists: nothing left after a logout
        ensure_private_dir(self.settings.data_dir)
        ensure_private_dir(folder)
        self._keys = session.keys if session is not None else SessionKeys.new()
        client = AsyncClient(
            self.settings.homeserver,
            user_id,
            device_id=session.device_id if session else self.settings.device_id,
            store_path=str(folder),
            config=AsyncClientConfig(
                encryption_enabled=True,
                store_sync_tokens=False,
                max_timeouts=0,  # connection errors reach our loop, which shows them
                request_timeout=30,
                pickle_key=self._keys.pickle_key,
            ),
        )
        self._client = client
        try:
            if session is not None:
                self._check_store(folder, session)
                try:
                    client.restore_login(session.user_id, session.device_id, session.access_token)
                except _LOCKED_STORE:
                    raise self._locked_store(folder, session.user_id, session.device_id) from None
            else:
                await self._login(client, folder, user_id)
            first_done = await self._try_first_sync(client, folder, user_id)
        except BaseException:
            await self.close()
            raise
        self._folder = folder
        self._drafts = DraftStore(folder / DRAFTS_FILE, self._cache_key(folder))
        if first_done and self.settings.cross_signing:
            await self._ensure_identity()
        self._task = asyncio.create_task(self._sync_loop(full_state=not first_done))

    async def _ensure_identity(self) -> None:
        """Sign this device with the coordinator's identity; a failure never stops the desk."""
        client = self._client
        if client is None or self._folder is None:
            return
        try:
            self.identity = await ensure_identity(client, self._folder)
        except NETWORK_ERRORS as exc:
            self.identity = Identity("failed", message=describe(exc))

    async def restore_identity(self, recovery_key: str) -> Identity:
        """With the coordinator's recovery key: read the identity's keys, sign this device."""
        client = self._client
        if client is None or self._folder is None or not client.logged_in:
            raise GatewayError("not connected")
        try:
            self.identity = await restore_with_recovery_key(client, self._folder, recovery_key)
        except NETWORK_ERRORS as exc:
            raise GatewayError(f"server unreachable ({describe(exc)})") from None
        return self.identity

    @staticmethod
    def _cache_key(folder: Path) -> str:
        """The session's cache key; a session from before it existed gets one now."""
        session = read_session(folder / SESSION_FILE)
        assert session is not None  # start() has logged in by now
        if not session.cache_key:
            session = StoredSession(**{**asdict(session), "cache_key": new_key()})
            write_session(folder / SESSION_FILE, session)
        return session.cache_key

    def load_drafts(self) -> dict[str, str]:
        """Unsent answers from an earlier run (decrypted), if any."""
        return self._drafts.load() if self._drafts is not None else {}

    def save_drafts(self, drafts: dict[str, str]) -> None:
        """Keep unsent answers encrypted at rest (see `bintui.local_cache`)."""
        if self._drafts is not None:
            self._drafts.save(drafts)

    async def fetch_media(self, file: MediaFile) -> bytes:
        """Download the bot's encrypted upload from our own homeserver and decrypt it."""
        client = self._client
        if client is None or not client.logged_in:
            raise GatewayError("not connected")
        own_server = client.user_id.split(":", 1)[1] if ":" in client.user_id else ""
        if not file.url.startswith(f"mxc://{own_server}/"):
            # Only the homeserver's own media: never a fetch that another server would see.
            raise GatewayError("this photo is not stored on your own homeserver")
        try:
            response = await client.download(mxc=file.url, allow_remote=False)
        except NETWORK_ERRORS as exc:
            raise GatewayError(f"server unreachable ({describe(exc)})") from None
        if not isinstance(response, DownloadResponse) or not isinstance(response.body, bytes):
            raise GatewayError("the photo could not be downloaded")
        if len(response.body) > MAX_MEDIA_BYTES:
            raise GatewayError("the photo is larger than a cleaned photo can be")
        try:
            return bytes(decrypt_attachment(response.body, file.key, file.sha256, file.iv))
        except (EncryptionError, ValueError, KeyError) as exc:
            raise GatewayError(f"the photo could not be decrypted ({type(exc).__name__})") from None

    async def logout(self) -> None:
        """Log out on the homeserver, then remove this account's folder (session, store,
        identity marker, drafts). Nothing is deleted when the server did not log us out."""
        client, folder = self._client, self._folder
        if client is None or folder is None or not client.logged_in:
            raise GatewayError("not connected: the device cannot be logged out now")
        try:
            response = await client.logout()
        except NETWORK_ERRORS as exc:
            raise GatewayError(f"not logged out, server unreachable ({describe(exc)})") from None
        if isinstance(response, LogoutError) and response.status_code != "M_UNKNOWN_TOKEN":
            raise GatewayError(f"not logged out: {response.message}")
        await self.close()
        self._drafts = None
        shutil.rmtree(folder, ignore_errors=True)

    def reports(self) -> list[Report]:
        """All known reports, most recent activity first."""
        return self._book.reports()

    def mark_read(self, report: Report) -> None:
        """The coordinator has seen everything currently in `report`."""
        self._book.mark_read(report.root_event_id)

    async def reply(self, report: Report, text: str) -> None:
        """Send `text` into the report's thread (encrypted); raises GatewayError on failure."""
        last = report.items[-1].event_id if report.items else report.root_event_id
        content = {
            "msgtype": "m.text",
            "body": text,
            "m.relates_to": {
                "rel_type": THREAD,
                "event_id": report.root_event_id,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": last},
            },
            "m.mentions": {},
        }
        await self._send(report.room_id, content)

    async def send_command(self, report: Report, text: str) -> None:
        """A desk command goes into the report's thread exactly like an answer: the bot
        recognises the command there and never passes it to the member."""
        await self.reply(report, text)

    async def send_to_room(self, wijk: str, role: RoomRole, text: str) -> None:
        """Send `text` as a plain message into one of the wijk's rooms."""
        found = next((w for w in self.wijken() if w.slug == wijk), None)
        room_id = found.room(role) if found is not None else None
        if room_id is None:
            raise GatewayError(f"not sent: no {role} room known for wijk {wijk!r}")
        await self._send(room_id, {"msgtype": "m.text", "body": text, "m.mentions": {}})

    def wijken(self) -> list[Wijk]:
        """The wijken whose rooms the coordinator is in."""
        return self._rooms.wijken()

    def police_items(self) -> list[PoliceItem]:
        """Bulletins and forwards from the police rooms, police replies from desk threads."""
        replies = [
            PoliceItem(item.event_id, "police_reply", r.wijk, r.report, item.text, item.ts)
            for r in self._book.reports()
            for item in r.items
            if item.role == "police"
        ]
        return sorted([*self._rooms.police_items(), *replies], key=lambda p: p.ts, reverse=True)

    def broadcasts(self) -> list[Broadcast]:
        """What the bot said about each broadcast in the wijk rooms."""
        return self._rooms.broadcasts()

    def stats(self) -> list[WijkStats]:
        """The latest `!stats` member counts."""
        return self._rooms.stats()

    async def _send(self, room_id: str, content: dict[str, Any]) -> None:
        """Send one encrypted message; raises GatewayError with a plain reason on failure."""
        client = self._client
        if client is None or not client.logged_in:
            raise GatewayError("not connected")
        try:
            response = await client.room_send(
                room_id, "m.room.message", content, ignore_unverified_devices=True
            )
        except NETWORK_ERRORS as exc:
            raise GatewayError(f"not sent, server unreachable ({describe(exc)})") from None
        except LocalProtocolError as exc:
            raise GatewayError(f"not sent: {exc}") from None
        if isinstance(response, RoomSendError):
            raise GatewayError(f"not sent: {response.message}")

    async def close(self) -> None:
        """Stop the sync loop and close the HTTP session; the stored session stays."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    # -- login and store --------------------------------------------------------------------

    def _only_stored_account(self) -> str | None:
        """Without a configured user: the one account that has a session in data_dir."""
        data_dir = self.settings.data_dir
        if not data_dir.is_dir():
            return None
        found = []
        for candidate in sorted(data_dir.glob(f"*/{SESSION_FILE}")):
            with contextlib.suppress(GatewayError):
                session = read_session(candidate)
                if session is not None:
                    found.append(session.user_id)
        return found[0] if len(found) == 1 else None

    @staticmethod
    def _check_store(folder: Path, session: StoredSession) -> None:
        """Refuse to run a stored device without its keys: it would silently become unusable."""
        store = folder / f"{session.user_id}_{session.device_id}.db"
        if not store.is_file():
            raise GatewayError(
                f"the encryption store of device {session.device_id} is missing ({store}); "
                f"restore it from a backup, or remove {folder / SESSION_FILE} to log in again"
            )

    @staticmethod
    def _locked_store(folder: Path, user_id: str, device_id: str) -> GatewayError:
        """A store whose keys do not decrypt with the session's key: never silently replaced."""
        store = folder / f"{user_id}_{device_id}.db"
        return GatewayError(
            f"the encryption store of device {device_id} ({store}) cannot be opened with the "
            f"key of this session: the session file ({folder / SESSION_FILE}) was changed, or "
            "the store was left by another login; restore both from the same backup, or "
            "remove both to log in again"
        )

    async def _login(self, client: AsyncClient, folder: Path, user_id: str) -> None:
        """Login with the password; writes session.json with the session's keys (the password
        is not kept)."""
        password = self.settings.password
        if password is None:
            raise LoginRequired()
        try:
            response = await client.login(password.get_secret_value(), device_name=DEVICE_NAME)
        except NETWORK_ERRORS as exc:
            raise GatewayError(
                f"{self.settings.homeserver} is not reachable ({describe(exc)})"
            ) from None
        except _LOCKED_STORE:
            # nio opens the store of the device id it got back; one was left by another login.
            raise self._locked_store(folder, user_id, client.device_id or "?") from None
        if isinstance(response, LoginError):
            if response.status_code in ("M_FORBIDDEN", "M_USER_DEACTIVATED", "M_INVALID_PARAM"):
                raise LoginRequired(response.message)
            raise GatewayError(f"login failed: {response.message}")
        write_session(
            folder / SESSION_FILE,
            StoredSession(
                user_id=response.user_id,
                device_id=response.device_id,
                access_token=response.access_token,
                homeserver=self.settings.homeserver,
                cache_key=self._keys.cache_key,
                store_key=self._keys.store_key,
            ),
        )

    async def _try_first_sync(self, client: AsyncClient, folder: Path, user_id: str) -> bool:
        """The first sync; when the server is unreachable the background loop keeps trying."""
        try:
            return await self._first_sync(client, folder, user_id)
        except (LoginRequired, GatewayError):
            raise
        except NETWORK_ERRORS as exc:
            self._set_state("offline", describe(exc))
        except Exception:
            log.exception("first sync could not be handled; retrying in the background")
        return False

    async def _first_sync(self, client: AsyncClient, folder: Path, user_id: str) -> bool:
        """The first, full-state sync; a refused token means logging in again."""
        response = await client.sync(timeout=0, sync_filter=FIRST_SYNC_FILTER, full_state=True)
        if isinstance(response, SyncError) and response.status_code == "M_UNKNOWN_TOKEN":
            if self.settings.password is None:
                raise LoginRequired(response.message)
            # Same device id, same store: the server keeps the device and its keys.
            await self._login(client, folder, user_id)
            response = await client.sync(timeout=0, sync_filter=FIRST_SYNC_FILTER, full_state=True)
        if isinstance(response, SyncError):
            self._set_state("offline", response.message)
            return False
        self._set_state("online")
        await self._process(response, first=True)
        await self._after_sync()
        return True

    # -- sync loop ----------------------------------------------------------------------

    async def _sync_loop(self, *, full_state: bool) -> None:
        """Sync until cancelled; one bad event or response never stops it."""
        client = self._client
        assert client is not None
        backoff = 1.0
        while True:
            try:
                response = await client.sync(
                    timeout=0 if full_state else self._sync_timeout_ms,
                    sync_filter=FIRST_SYNC_FILTER if full_state else None,
                    full_state=True if full_state else None,
                )
            except NETWORK_ERRORS as exc:
                self._set_state("offline", describe(exc))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            except Exception:
                # nio failed while handling the response (a malformed event, a store
                # hiccup); its sync token has already moved past it.
                log.exception("sync response could not be handled")
                await asyncio.sleep(1)
                continue
            if isinstance(response, SyncError):
                if response.status_code == "M_UNKNOWN_TOKEN":
                    self._set_state("offline", f"{response.message} — restart bintui to log in")
                    return
                self._set_state("offline", response.message)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            backoff = 1.0
            self._set_state("online")
            try:
                await self._process(response, first=full_state)
            except Exception:
                log.exception("sync response could not be processed")
            full_state = False
            await self._after_sync()

    async def _after_sync(self) -> None:
        """Keep the encryption machinery going, as nio's sync_forever would."""
        client = self._client
        assert client is not None
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("keys_upload", lambda: client.keys_upload() if client.should_upload_keys else None),
            ("keys_query", lambda: client.keys_query() if client.should_query_keys else None),
            ("keys_claim", lambda: self._claim_keys(client)),
            ("send_to_device_messages", client.send_to_device_messages),
        ]
        for name, step in steps:
            try:
                pending = step()
                if pending is not None:
                    await pending
            except NETWORK_ERRORS as exc:
                log.warning("%s failed: %s", name, describe(exc))
            except Exception:
                log.exception("%s failed", name)

    @staticmethod
    async def _claim_keys(client: AsyncClient) -> None:
        if client.should_claim_keys:
            users = client.get_users_for_key_claiming()
            if users:
                await client.keys_claim(users)

    async def _process(self, response: Any, *, first: bool) -> None:
        """Join invitations and turn the response's room events into report changes."""
        changed = False
        for room_id in list(response.rooms.invite):
            await self._accept_invite(room_id)
        for room_id in list(response.rooms.leave):
            changed |= self._book.forget_room(room_id)
            changed |= self._rooms.forget_room(room_id)
        changed |= self._learn_room_names()
        for room_id, info in response.rooms.join.items():
            for event in info.timeline.events:
                changed |= self._ingest(room_id, event)
            if first and info.timeline.limited and info.timeline.prev_batch:
                changed |= await self._backfill(room_id, info.timeline.prev_batch)
        if first or response.to_device_events:
            changed |= self._retry_undecrypted()
        if changed:
            self._on_change()

    def _learn_room_names(self) -> bool:
        """Room names tell which room of a wijk is which. In the bot's rooms only the bot may
        change the name (state needs power 100); messages still count only from the bot."""
        client = self._client
        if client is None:
            return False
        changed = False
        for room_id, room in client.rooms.items():
            changed |= self._rooms.set_room_name(room_id, getattr(room, "name", None))
        return changed

    async def _accept_invite(self, room_id: str) -> None:
        """Join a room the coordinator was invited to (by the bot, when it is configured)."""
        client = self._client
        assert client is not None
        if room_id in self._joining:
            return
        invited = client.invited_rooms.get(room_id)
        inviter = getattr(invited, "inviter", None)
        bot = self.settings.bot_user_id
        if bot is not None and inviter != bot:
            return
        self._joining.add(room_id)
        try:
            response = await client.join(room_id)
        except NETWORK_ERRORS as exc:
            log.warning("joining a room failed: %s", describe(exc))
            self._joining.discard(room_id)
            return
        if isinstance(response, JoinError):
            log.warning("joining a room failed: %s", response.message)
            self._joining.discard(room_id)

    async def _backfill(self, room_id: str, token: str) -> bool:
        """Read older events of a room at start-up, so older reports are listed too."""
        client = self._client
        assert client is not None
        changed, fetched = False, 0
        while token and fetched < BACKFILL_EVENTS:
            try:
                response = await client.room_messages(room_id, start=token, limit=100)
            except NETWORK_ERRORS as exc:
                log.warning("reading older events failed: %s", describe(exc))
                break
            if isinstance(response, RoomMessagesError) or not response.chunk:
                break
            for event in response.chunk:
                changed |= self._ingest(room_id, event)
            fetched += len(response.chunk)
            if not response.end or response.end == token:
                break
            token = response.end
        return changed

    def _ingest(self, room_id: str, event: Any) -> bool:
        """One timeline event into the book; a bad event is logged (without content), skipped."""
        try:
            return self._ingest_unsafe(room_id, event)
        except Exception:
            log.exception("skipped an event that could not be read")
            return False

    def _ingest_unsafe(self, room_id: str, event: Any) -> bool:
        if isinstance(event, MegolmEvent):
            self._keep_undecrypted(room_id, event)
            return False
        source = getattr(event, "source", None)
        if not isinstance(source, Mapping):
            return False
        if source.get("type") == "m.room.redaction":
            content = source.get("content")
            redacts = source.get("redacts") or (
                content.get("redacts") if isinstance(content, Mapping) else None
            )
            if not isinstance(redacts, str):
                return False
            # Both books drop it: nothing redacted stays readable in the client (C06).
            return self._book.redact(redacts) | self._rooms.redact(redacts)
        if source.get("type") != "m.room.message" or not getattr(event, "decrypted", False):
            # Report content only ever counts when it came end-to-end encrypted.
            return False
        content = source.get("content")
        if not isinstance(content, Mapping):
            return False
        sender = str(event.sender)
        client = self._client
        room = client.rooms.get(room_id) if client is not None else None
        name = room.user_name(sender) if room is not None else None
        room_event = RoomEvent(
            event_id=str(event.event_id),
            room_id=room_id,
            sender=sender,
            sender_name=name or sender,
            ts=float(event.server_timestamp) / 1000,
            content=content,
        )
        return self._book.add(room_event) | self._rooms.add(room_event)

    def _keep_undecrypted(self, room_id: str, event: Any) -> None:
        self._undecrypted[str(event.event_id)] = (room_id, event)
        while len(self._undecrypted) > MAX_UNDECRYPTED:
            self._undecrypted.popitem(last=False)

    def _retry_undecrypted(self) -> bool:
        """Try again to decrypt events whose room key had not arrived yet."""
        client = self._client
        if client is None or client.olm is None:
            return False
        changed = False
        for event_id, (room_id, event) in list(self._undecrypted.items()):
            try:
                decrypted = client.olm.decrypt_megolm_event(event, room_id)
            except Exception:  # nio raises EncryptionError while the key is missing
                continue
            del self._undecrypted[event_id]
            changed |= self._ingest(room_id, decrypted)
        return changed

    def _set_state(self, status: Status, error: str | None = None) -> None:
        state = ConnectionState(status, error)
        if state != self.state:
            self.state = state
            self._on_change()
