"""`bin-bridge backup` and `restore`: a consistent, passphrase-encrypted copy of the bot's state.

What is copied: everything in the data dir (the bridge database, nio's crypto store, the
session, the HMAC secret) and the cross-signing key file, wherever it lives. SQLite databases
are copied with SQLite's online backup API, so a backup taken while the bot runs is consistent
(each database as of one moment). The archive is a tar, encrypted with AES-256-GCM under a key
derived from the passphrase with scrypt; the header (format, KDF parameters, salt, nonce) is
authenticated too, so a wrong passphrase and a damaged file are both refused.

A restored bot is the *same device*: it keeps decrypting, and because its ledger and outbox
come back with it, it relays nothing twice (events handled after the backup are seen again
and their sends carry the same transaction ids, which the homeserver de-duplicates).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import sqlite3
import tarfile
import tempfile
import time
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bridge.settings import BridgeSettings

MAGIC = b"BIN-BACKUP-1\n"
PASSPHRASE_ENV = "BIN_BACKUP_PASSPHRASE"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
KEY_FILE_ENTRY = "cross-signing-key-file"
DATA_PREFIX = "data/"
MANIFEST = "manifest.json"
# Never copied: live status, SQLite side files (the backup API reads through them), temp files.
SKIP_SUFFIXES = ("-wal", "-shm", "-journal", ".tmp")
SKIP_NAMES = ("status.json",)


class BackupError(Exception):
    """A backup or restore cannot be done; the message says why and what to do."""


def read_passphrase(passphrase_file: Path | None) -> bytes:
    """The passphrase: from a file (first line), else from BIN_BACKUP_PASSPHRASE."""
    if passphrase_file is not None:
        try:
            value = passphrase_file.read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError) as exc:
            raise BackupError(f"{passphrase_file}: cannot read a passphrase ({exc})") from None
    else:
        value = os.environ.get(PASSPHRASE_ENV, "").strip()
    if len(value) < 12:
        raise BackupError(
            f"a passphrase of at least 12 characters is needed: --passphrase-file FILE or "
            f"{PASSPHRASE_ENV}"
        )
    return value.encode()


def _derive(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(passphrase, salt=salt, n=n, r=r, p=p, maxmem=128 * 1024 * 1024, dklen=32)


def _snapshot_db(source: Path) -> bytes:
    """A consistent copy of a SQLite database that may be in use (online backup API)."""
    with tempfile.TemporaryDirectory() as tmp:
        target_path = Path(tmp) / "copy.db"
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(target_path)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        return target_path.read_bytes()


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(16) == b"SQLite format 3\x00"


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(data))


def create_backup(settings: BridgeSettings, out: Path, passphrase: bytes) -> dict[str, int]:
    """Write an encrypted backup to `out` (mode 0600); return what it holds (files, bytes)."""
    data_dir = settings.bot.data_dir
    if not (data_dir / "bridge.db").exists():
        raise BackupError(f"{data_dir} holds no bridge database: nothing to back up")
    buffer = io.BytesIO()
    files = 0
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(data_dir.rglob("*")):
            if not path.is_file() or path.name in SKIP_NAMES or path.name.endswith(SKIP_SUFFIXES):
                continue
            data = _snapshot_db(path) if _is_sqlite(path) else path.read_bytes()
            _add(tar, DATA_PREFIX + path.relative_to(data_dir).as_posix(), data)
            files += 1
        key_file = settings.bot.key_file
        if key_file.exists() and not key_file.resolve().is_relative_to(data_dir.resolve()):
            _add(tar, KEY_FILE_ENTRY, key_file.read_bytes())
            files += 1
        manifest = {"created_at": time.time(), "bot": settings.bot.user_id, "files": files}
        _add(tar, MANIFEST, json.dumps(manifest).encode())
    plain = buffer.getvalue()
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    header = (
        MAGIC
        + json.dumps(
            {
                "kdf": "scrypt",
                "n": SCRYPT_N,
                "r": SCRYPT_R,
                "p": SCRYPT_P,
                "salt": salt.hex(),
                "nonce": nonce.hex(),
                "cipher": "AES-256-GCM",
            }
        ).encode()
        + b"\n"
    )
    key = _derive(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    sealed = AESGCM(key).encrypt(nonce, plain, header)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(header + sealed)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, out)
    return {"files": files, "bytes": len(plain)}


def _open_backup(source: Path, passphrase: bytes) -> bytes:
    raw = source.read_bytes()
    if not raw.startswith(MAGIC):
        raise BackupError(f"{source} is not a BIN backup")
    end = raw.index(b"\n", len(MAGIC)) + 1
    header = raw[:end]
    try:
        params = json.loads(header[len(MAGIC) :])
        key = _derive(
            passphrase, bytes.fromhex(params["salt"]), params["n"], params["r"], params["p"]
        )
        return AESGCM(key).decrypt(bytes.fromhex(params["nonce"]), raw[end:], header)
    except InvalidTag:
        raise BackupError(
            f"{source}: wrong passphrase, or the file is damaged (authentication failed)"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{source}: unreadable backup header ({exc})") from None


def restore_backup(
    settings: BridgeSettings, source: Path, passphrase: bytes, *, force: bool = False
) -> dict[str, str | int]:
    """Bring a backup back into the configured data dir (and key file).

    Refuses a non-empty data dir unless `force`; then the old one is moved aside (never
    deleted) and its new name is returned.
    """
    plain = _open_backup(source, passphrase)
    data_dir = settings.bot.data_dir
    occupied = data_dir.exists() and any(data_dir.iterdir())
    key_file = settings.bot.key_file
    outside_key = not key_file.resolve().is_relative_to(data_dir.resolve())
    if occupied and not force:
        raise BackupError(
            f"{data_dir} is not empty; stop the bot and restore with --force (the current "
            "contents are then moved aside, not deleted)"
        )
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=data_dir.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(plain), mode="r") as tar:
            members = tar.getmembers()
            for member in members:
                if not member.isfile() or member.name.startswith("/") or ".." in member.name:
                    raise BackupError(f"{source}: unexpected entry {member.name!r}")
            key_data: bytes | None = None
            for member in members:
                extracted = tar.extractfile(member)
                assert extracted is not None
                data = extracted.read()
                if member.name == KEY_FILE_ENTRY:
                    key_data = data
                elif member.name.startswith(DATA_PREFIX):
                    target = staging / member.name[len(DATA_PREFIX) :]
                    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    with os.fdopen(fd, "wb") as handle:
                        handle.write(data)
        moved_aside = ""
        if data_dir.exists():
            if occupied:
                aside = data_dir.with_name(f"{data_dir.name}.before-restore-{int(time.time())}")
                data_dir.rename(aside)
                moved_aside = str(aside)
            else:
                data_dir.rmdir()
        staging.chmod(0o700)
        staging.rename(data_dir)
        if key_data is not None and outside_key:
            if key_file.exists() and not force:
                raise BackupError(f"{key_file} exists; restore with --force to replace it")
            key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(key_data)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return {"files": len(members) - 1, "moved_aside": moved_aside}
