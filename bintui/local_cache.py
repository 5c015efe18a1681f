"""What bintui keeps on disk besides the session and nio's key store: unsent answers only.

(nio's key store is keyed the same way: its pickles are encrypted with a second random secret
from the session file, `store_key`; see `bintui.matrix_gateway`.)

Messages are never cached on disk: every start reads them again from the homeserver. Unsent
answers (drafts) are kept so that a crash or a closed laptop does not lose a half-written
answer, and they are kept *encrypted at rest* and *briefly*:

- AES-256-GCM with a random 256-bit key that lives in the session file (`session.json`, mode
  0600), next to the access token, and nowhere else. Logging out, or removing the session file
  to log in again, makes the drafts unreadable even where a deleted file could be recovered
  (the key is gone). The OS keyring is not used: a coordinator on a server over SSH has none,
  and a second secret store would outlive the session.
- A draft is removed when it is sent, and any draft older than `DRAFT_DAYS` is dropped when
  the file is read or written. An empty set of drafts removes the file.

Honest limit: someone who copies the whole account folder has the keys as well as the files,
as they have the access token; the protection is against partial copies, backups and recovered
blocks, and it ends with the session.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

DRAFTS_FILE = "drafts.bin"
DRAFT_DAYS = 14
"""An unsent answer older than this is not worth keeping (the conversation moved on)."""
_AAD = b"bintui drafts v1"
_NONCE = 12


def new_key() -> str:
    """A fresh random key, as text for the session file."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def _key(text: str) -> bytes:
    key = base64.urlsafe_b64decode(text.encode("ascii"))
    if len(key) != 32:
        raise ValueError("a cache key has 32 bytes")
    return key


def write_private(path: Path, data: bytes) -> None:
    """Write `data` atomically to `path`, readable by its owner only from the first byte."""
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class DraftStore:
    """Unsent answers by report root, in one encrypted file."""

    def __init__(self, path: Path, key: str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._aead = AESGCM(_key(key))
        self._clock = clock
        self._since: dict[str, tuple[str, float]] = {}
        """Each draft's text and when it was first kept with that text."""

    def load(self) -> dict[str, str]:
        """The drafts still worth keeping; an unreadable file is treated as empty."""
        try:
            blob = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            plain = self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], _AAD)
            stored = json.loads(plain)
        except (InvalidTag, ValueError):
            return {}  # another session's key, or damaged: nothing to recover
        cutoff = self._clock() - DRAFT_DAYS * 86400
        self._since = {
            root: (entry["text"], float(entry["ts"]))
            for root, entry in (stored.items() if isinstance(stored, dict) else ())
            if isinstance(entry, dict)
            and isinstance(entry.get("text"), str)
            and isinstance(entry.get("ts"), int | float)
            and entry["ts"] >= cutoff
        }
        return {root: text for root, (text, _) in self._since.items()}

    def save(self, drafts: dict[str, str]) -> None:
        """Keep the non-empty drafts (an unchanged one keeps its age); none removes the file."""
        now = self._clock()
        cutoff = now - DRAFT_DAYS * 86400
        since: dict[str, tuple[str, float]] = {}
        for root, text in drafts.items():
            if not text.strip():
                continue
            old = self._since.get(root)
            ts = old[1] if old is not None and old[0] == text else now
            if ts >= cutoff:
                since[root] = (text, ts)
        self._since = since
        if not since:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        payload = json.dumps({root: {"text": t, "ts": ts} for root, (t, ts) in since.items()})
        nonce = secrets.token_bytes(_NONCE)
        write_private(self.path, nonce + self._aead.encrypt(nonce, payload.encode(), _AAD))
