"""Generate, start, wait for and stop an embedded Synapse homeserver (SQLite, 127.0.0.1 only)."""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any, TextIO

import aiohttp
import yaml
from signedjson.key import generate_signing_key, write_signing_keys

__all__ = [
    "Account",
    "EmbeddedHomeserver",
    "HomeserverError",
    "create_account_async",
    "register_user",
    "register_user_async",
    "serve",
]

LOOPBACK = "127.0.0.1"
CONFIG_NAME = "homeserver.yaml"
LOG_CONFIG_NAME = "log.config.yaml"
LOG_NAME = "homeserver.log"
SIGNING_KEY_NAME = "signing.key"
DATABASE_NAME = "homeserver.db"
MEDIA_DIR_NAME = "media"
LOCK_NAME = "homeserver.lock"

REGISTER_PATH = "/_synapse/admin/v1/register"
VERSIONS_PATH = "/_matrix/client/versions"

# Generous enough that nothing in tests, the demo or a neighbourhood's traffic ever sees a 429.
_UNLIMITED = {"per_second": 1000, "burst_count": 10000}

# Every client-side rate limiter Synapse 1.163 reads (synapse/config/ratelimiting.py).
# Synapse ignores keys it does not know, so an older or newer Synapse will not crash on these.
_RATE_LIMITS: dict[str, Any] = {
    "rc_message": _UNLIMITED,
    "rc_registration": _UNLIMITED,
    "rc_registration_token_validity": _UNLIMITED,
    "rc_login": {
        "address": _UNLIMITED,
        "account": _UNLIMITED,
        "failed_attempts": _UNLIMITED,
    },
    "rc_admin_redaction": _UNLIMITED,
    "rc_joins": {"local": _UNLIMITED, "remote": _UNLIMITED},
    "rc_joins_per_room": _UNLIMITED,
    "rc_key_requests": _UNLIMITED,
    "rc_3pid_validation": _UNLIMITED,
    "rc_invites": {
        "per_room": _UNLIMITED,
        "per_user": _UNLIMITED,
        "per_issuer": _UNLIMITED,
    },
    "rc_third_party_invite": _UNLIMITED,
    "rc_media_create": _UNLIMITED,
    "rc_presence": {"per_user": _UNLIMITED},
    "rc_delayed_event_mgmt": _UNLIMITED,
    "rc_room_creation": _UNLIMITED,
    "rc_reports": _UNLIMITED,
    "rc_user_directory": _UNLIMITED,
    "rc_profile": _UNLIMITED,
}

# A direct connection even when http_proxy is set: the homeserver is always on loopback here.
_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class HomeserverError(Exception):
    """The embedded homeserver could not be prepared, started or asked to do something."""

    def __init__(self, message: str, *, errcode: str | None = None, status: int | None = None):
        super().__init__(message)
        self.errcode = errcode
        """The Matrix error code (e.g. `M_USER_IN_USE`), when the homeserver gave one."""
        self.status = status
        """The HTTP status, when the homeserver answered."""


@dataclass(frozen=True)
class Account:
    """A registered user with a logged-in device; secrets are kept out of `repr`."""

    user_id: str
    password: str = field(repr=False)
    access_token: str = field(repr=False)
    device_id: str


class EmbeddedHomeserver:
    """A local Synapse with its config, keys, SQLite database and media in one data directory.

    The generated `homeserver.yaml` belongs to this class: each `prepare()` rewrites it from code
    (only when something changed), keeping what is state: the server name, the port and the
    secrets. The signing key is generated once and never replaced.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        server_name: str = "bin.local",
        fast_test_mode: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.server_name = server_name
        self.fast_test_mode = fast_test_mode
        """Cheap password hashing (bcrypt 4 rounds) for tests; never for real accounts."""
        self._requested_port = port
        self._port: int | None = port
        self._shared_secret: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None
        self._lock_fd: int | None = None

    # -- paths and properties ------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.data_dir / CONFIG_NAME

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_NAME

    @property
    def port(self) -> int:
        if self._port is None:
            raise HomeserverError("the port is chosen by prepare() or start(); call one first")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def registration_shared_secret(self) -> str:
        if self._shared_secret is None:
            secret = self._read_config().get("registration_shared_secret")
            if not isinstance(secret, str) or not secret:
                raise HomeserverError(f"{self.config_path} has no registration_shared_secret")
            self._shared_secret = secret
        return self._shared_secret

    # -- configuration -------------------------------------------------------------------------

    def prepare(self) -> Path:
        """Generate the config, log config and signing key, or reuse them; return the config."""
        if self.is_running():
            return self.config_path
        self._create_data_dir()
        self._check_not_running_elsewhere()
        existing = self._read_config() if self.config_path.exists() else {}

        stored_name = existing.get("server_name")
        if stored_name is not None and stored_name != self.server_name:
            raise HomeserverError(
                f"{self.data_dir} belongs to server {stored_name!r}, not {self.server_name!r}; "
                "use another data directory or the same server name"
            )

        port = self._choose_port(existing)
        shared_secret = _stored_secret(existing, "registration_shared_secret")
        config = self._synapse_config(
            port=port,
            registration_shared_secret=shared_secret,
            macaroon_secret_key=_stored_secret(existing, "macaroon_secret_key"),
            form_secret=_stored_secret(existing, "form_secret"),
        )
        _write_if_changed(self.config_path, _dump_yaml(config, secret=True))
        _write_if_changed(self.data_dir / LOG_CONFIG_NAME, _dump_yaml(self._log_config()))
        self._ensure_signing_key()
        (self.data_dir / MEDIA_DIR_NAME).mkdir(mode=0o700, exist_ok=True)

        self._port = port
        self._shared_secret = shared_secret
        return self.config_path

    def _create_data_dir(self) -> None:
        if not self.data_dir.exists():
            # The directory holds the database, tokens and keys: private to this user.
            self.data_dir.mkdir(mode=0o700, parents=True)

    def _read_config(self) -> dict[str, Any]:
        try:
            loaded = yaml.safe_load(self.config_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise HomeserverError(f"{self.config_path} does not exist; call prepare()") from None
        except yaml.YAMLError as exc:
            raise HomeserverError(f"{self.config_path} is not valid YAML: {exc}") from None
        if not isinstance(loaded, dict):
            raise HomeserverError(f"{self.config_path} is not a YAML mapping")
        return loaded

    def _choose_port(self, existing: dict[str, Any]) -> int:
        if self._requested_port is not None:
            if not _port_is_free(self._requested_port):
                raise HomeserverError(
                    f"port {self._requested_port} on {LOOPBACK} is in use; "
                    "choose another or leave it out to get a free one"
                )
            return self._requested_port
        stored = _stored_port(existing)
        if stored is not None and _port_is_free(stored):
            return stored
        return _free_port()

    def _synapse_config(
        self,
        *,
        port: int,
        registration_shared_secret: str,
        macaroon_secret_key: str,
        form_secret: str,
    ) -> dict[str, Any]:
        data = self.data_dir
        config: dict[str, Any] = {
            "server_name": self.server_name,
            "public_baseurl": f"http://{LOOPBACK}:{port}/",
            # Client API only, on loopback: no federation or key listener at all.
            "listeners": [
                {
                    "port": port,
                    "bind_addresses": [LOOPBACK],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": str(data / DATABASE_NAME)}},
            "log_config": str(data / LOG_CONFIG_NAME),
            "media_store_path": str(data / MEDIA_DIR_NAME),
            "max_upload_size": "20M",
            "signing_key_path": str(data / SIGNING_KEY_NAME),
            # No outbound connections: no key servers, stats, previews, presence or federation.
            "trusted_key_servers": [],
            "report_stats": False,
            "url_preview_enabled": False,
            "presence": {"enabled": False},
            "federation_domain_whitelist": [],
            "allow_public_rooms_over_federation": False,
            "enable_metrics": False,
            # Accounts are created only by us, through the shared-secret admin API.
            "enable_registration": False,
            "registration_shared_secret": registration_shared_secret,
            "macaroon_secret_key": macaroon_secret_key,
            "form_secret": form_secret,
            "allow_guest_access": False,
            # Keep as little about members as Synapse allows.
            "redaction_retention_period": "1d",
            "user_ips_max_age": "1d",
            # Else a repeated initial sync is served stale from cache for two minutes.
            "caches": {"sync_response_cache_duration": 0},
            **_RATE_LIMITS,
        }
        if self.fast_test_mode:
            config["bcrypt_rounds"] = 4
        return config

    def _log_config(self) -> dict[str, Any]:
        # WARNING and up only: Synapse's INFO access log would record who talks when.
        return {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "precise": {
                    "format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(message)s"
                }
            },
            "handlers": {
                "file": {
                    "class": "logging.handlers.RotatingFileHandler",
                    "formatter": "precise",
                    "filename": str(self.log_path),
                    "maxBytes": 5 * 1024 * 1024,
                    "backupCount": 2,
                    "encoding": "utf8",
                }
            },
            "loggers": {
                "synapse.access": {"level": "WARNING"},
                # At DEBUG this logger writes access tokens; pin it well above that.
                "synapse.storage.SQL": {"level": "WARNING"},
            },
            "root": {"level": "WARNING", "handlers": ["file"]},
        }

    def _ensure_signing_key(self) -> None:
        path = self.data_dir / SIGNING_KEY_NAME
        if path.exists():
            return
        # The same key id scheme and file format Synapse's own --generate-keys uses.
        key = generate_signing_key("a_" + secrets.token_hex(2))
        with _open_private(path) as stream:
            write_signing_keys(stream, [key])

    # -- process lifecycle ---------------------------------------------------------------------

    def start(self, timeout: float = 60) -> None:
        """Prepare, spawn Synapse and wait until its client API answers."""
        if self.is_running():
            return
        self._acquire_lock()
        try:
            config_path = self.prepare()
            log_handle = os.fdopen(
                os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab"
            )
            self._log_handle = log_handle
            assert self._lock_fd is not None
            self._process = subprocess.Popen(
                [sys.executable, "-m", "synapse.app.homeserver", "-c", str(config_path)],
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
                # Startup errors go to stderr before Synapse's logging is set up.
                stdout=log_handle,
                stderr=subprocess.STDOUT,
                # Our own process group: Ctrl-C reaches us, and we stop Synapse in order.
                start_new_session=True,
                # The child holds the data-dir lock too, so an orphaned Synapse still owns it.
                pass_fds=(self._lock_fd,),
            )
            _write_lock_owner(self._lock_fd, self._process.pid)
            atexit.register(self.stop)
            self._wait_until_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self, timeout: float) -> None:
        process = self._process
        assert process is not None
        deadline = time.monotonic() + timeout
        while True:
            exit_code = process.poll()
            if exit_code is not None:
                raise HomeserverError(
                    f"Synapse exited with code {exit_code} during startup; "
                    f"last lines of {self.log_path}:\n{self._log_tail()}"
                )
            if _answers(self.url + VERSIONS_PATH):
                return
            if time.monotonic() > deadline:
                raise HomeserverError(
                    f"Synapse did not answer on {self.url} within {timeout:.0f} s; "
                    f"last lines of {self.log_path}:\n{self._log_tail()}"
                )
            time.sleep(0.1)

    def stop(self, timeout: float = 15) -> None:
        """Stop Synapse: SIGTERM, then SIGKILL if it has not exited after `timeout` seconds."""
        process, self._process = self._process, None
        try:
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        finally:
            if self._log_handle is not None:
                self._log_handle.close()
                self._log_handle = None
            self._release_lock()
            atexit.unregister(self.stop)

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> EmbeddedHomeserver:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- helpers -------------------------------------------------------------------------------

    def _log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log written)"
        return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"

    def _acquire_lock(self) -> None:
        self._create_data_dir()
        fd = os.open(self.data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise HomeserverError(
                f"a homeserver is already running on {self.data_dir} (pid {owner}); stop it first"
            ) from None
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _check_not_running_elsewhere(self) -> None:
        # prepare() must not move the port of a Synapse another process runs on this directory.
        if self._lock_fd is not None:
            return
        self._acquire_lock()
        self._release_lock()


# -- registration ------------------------------------------------------------------------------


def register_user(
    url: str,
    shared_secret: str,
    localpart: str,
    password: str | None = None,
    admin: bool = False,
    displayname: str | None = None,
    device_id: str | None = None,
) -> Account:
    """Create a user through Synapse's shared-secret admin API and return its first session."""
    endpoint = url.rstrip("/") + REGISTER_PATH
    nonce = _nonce_from(_http_json("GET", endpoint, None, localpart))
    password = password if password is not None else secrets.token_urlsafe(24)
    body = _register_body(nonce, shared_secret, localpart, password, admin, displayname, device_id)
    return _account_from(_http_json("POST", endpoint, body, localpart), password)


async def register_user_async(
    url: str,
    shared_secret: str,
    localpart: str,
    password: str | None = None,
    admin: bool = False,
    displayname: str | None = None,
    device_id: str | None = None,
) -> Account:
    """`register_user` for async code: the same request, made with aiohttp."""
    endpoint = url.rstrip("/") + REGISTER_PATH
    password = password if password is not None else secrets.token_urlsafe(24)
    timeout = aiohttp.ClientTimeout(total=30)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(endpoint) as response:
                nonce = _nonce_from(_checked(response.status, await response.read(), localpart))
            body = _register_body(
                nonce, shared_secret, localpart, password, admin, displayname, device_id
            )
            async with session.post(endpoint, json=body) as response:
                result = _checked(response.status, await response.read(), localpart)
    except aiohttp.ClientError as exc:
        raise HomeserverError(f"registering {localpart!r}: cannot reach {url}: {exc}") from None
    return _account_from(result, password)


async def create_account_async(
    url: str, shared_secret: str, localpart: str, password: str, admin: bool = False
) -> str:
    """Create a user through the shared-secret admin API without logging it in.

    No device and no access token are made (`inhibit_login`): the person logs in themselves.
    Returns the new user id; raises HomeserverError (errcode `M_USER_IN_USE` when taken).
    """
    endpoint = url.rstrip("/") + REGISTER_PATH
    timeout = aiohttp.ClientTimeout(total=30)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(endpoint) as response:
                nonce = _nonce_from(_checked(response.status, await response.read(), localpart))
            body = _register_body(nonce, shared_secret, localpart, password, admin, None, None)
            body["inhibit_login"] = True
            async with session.post(endpoint, json=body) as response:
                result = _checked(response.status, await response.read(), localpart)
    except aiohttp.ClientError as exc:
        raise HomeserverError(f"registering {localpart!r}: cannot reach {url}: {exc}") from None
    user_id = result.get("user_id") if isinstance(result, dict) else None
    if not isinstance(user_id, str):
        raise HomeserverError("the homeserver's registration answer has no user id")
    return user_id


def _register_body(
    nonce: str,
    shared_secret: str,
    localpart: str,
    password: str,
    admin: bool,
    displayname: str | None,
    device_id: str | None,
) -> dict[str, Any]:
    mac = hmac.new(shared_secret.encode("utf-8"), digestmod=hashlib.sha1)
    for part in (nonce, localpart, password):
        mac.update(part.encode("utf-8"))
        mac.update(b"\x00")
    mac.update(b"admin" if admin else b"notadmin")
    body: dict[str, Any] = {
        "nonce": nonce,
        "username": localpart,
        "password": password,
        "admin": admin,
        "mac": mac.hexdigest(),
    }
    if displayname is not None:
        body["displayname"] = displayname
    if device_id is not None:
        body["device_id"] = device_id
    return body


def _http_json(method: str, url: str, body: dict[str, Any] | None, localpart: str) -> Any:
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with _NO_PROXY_OPENER.open(request, timeout=30) as response:
            return _checked(response.status, response.read(), localpart)
    except urllib.error.HTTPError as exc:
        return _checked(exc.code, exc.read(), localpart)
    except (urllib.error.URLError, OSError) as exc:
        raise HomeserverError(f"registering {localpart!r}: cannot reach {url}: {exc}") from None


def _checked(status: int, raw: bytes, localpart: str) -> Any:
    try:
        payload: Any = json.loads(raw) if raw else {}
    except ValueError:
        payload = {}
    if 200 <= status < 300:
        return payload
    errcode = payload.get("errcode") if isinstance(payload, dict) else None
    error = payload.get("error") if isinstance(payload, dict) else None
    raise HomeserverError(
        f"registering {localpart!r} failed: HTTP {status} {errcode or ''} {error or ''}".rstrip(),
        errcode=errcode if isinstance(errcode, str) else None,
        status=status,
    )


def _nonce_from(payload: Any) -> str:
    nonce = payload.get("nonce") if isinstance(payload, dict) else None
    if not isinstance(nonce, str):
        raise HomeserverError("the homeserver gave no registration nonce")
    return nonce


def _account_from(payload: Any, password: str) -> Account:
    try:
        return Account(
            user_id=str(payload["user_id"]),
            password=password,
            access_token=str(payload["access_token"]),
            device_id=str(payload["device_id"]),
        )
    except (KeyError, TypeError):
        raise HomeserverError("the homeserver's registration answer has no session") from None


# -- the `bin-bridge homeserver` command -------------------------------------------------------


def serve(data_dir: Path, port: int | None = None) -> int:
    """Run the embedded homeserver in the foreground until SIGINT or SIGTERM; return 0."""
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    previous = {
        signum: signal.signal(signum, request_stop) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    homeserver = EmbeddedHomeserver(data_dir, port=port)
    try:
        homeserver.start()
        print(f"Homeserver draait op {homeserver.url} (data: {homeserver.data_dir})", flush=True)
        while not stop_requested.wait(0.5):
            if not homeserver.is_running():
                print(
                    f"Homeserver is onverwacht gestopt; zie {homeserver.log_path}",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
        return 0
    except HomeserverError as exc:
        print(f"Homeserver kon niet starten: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        homeserver.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# -- small utilities ---------------------------------------------------------------------------


def _stored_secret(config: dict[str, Any], key: str) -> str:
    value = config.get(key)
    return value if isinstance(value, str) and value else secrets.token_urlsafe(32)


def _stored_port(config: dict[str, Any]) -> int | None:
    listeners = config.get("listeners")
    if isinstance(listeners, list) and listeners and isinstance(listeners[0], dict):
        port = listeners[0].get("port")
        if isinstance(port, int):
            return port
    return None


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Twisted listens with SO_REUSEADDR too: lingering TIME_WAIT sockets do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
    return port


def _answers(url: str) -> bool:
    try:
        with _NO_PROXY_OPENER.open(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class _PlainDumper(yaml.SafeDumper):
    """Writes shared values out in full instead of as `&id001` anchors and aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump_yaml(data: dict[str, Any], *, secret: bool = False) -> str:
    header = "# Generated by bridge/homeserver.py, which rewrites it: edits are lost.\n"
    if secret:
        header += "# Holds secrets: keep it private (mode 0600) and out of backups you share.\n"
    return header + yaml.dump(data, Dumper=_PlainDumper, sort_keys=False)


def _open_private(path: Path) -> TextIO:
    """Open `path` for writing, readable by this user only (mode 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "w", encoding="utf-8")


def _write_if_changed(path: Path, text: str) -> None:
    """Write `text` atomically with mode 0600, leaving the file untouched when it is the same."""
    try:
        if path.read_text(encoding="utf-8") == text:
            os.chmod(path, 0o600)
            return
    except FileNotFoundError:
        pass
    partial = path.with_name(path.name + ".partial")
    with _open_private(partial) as stream:
        stream.write(text)
    os.replace(partial, path)


def _write_lock_owner(fd: int, pid: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{pid}\n".encode("ascii"), 0)
