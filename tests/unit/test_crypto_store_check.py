"""The identity guard accepts a crypto store that a crash left with a hot rollback journal."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from bridge.matrix import Session, check_crypto_store, store_file

SESSION = Session("@bot:bin.local", "BOTDEVICE", "token", "http://127.0.0.1:8008")


def crashed_store(tmp_path: Path) -> Path:
    """A store as SIGKILL leaves it mid-write: the database plus its hot journal."""
    live = tmp_path / "live"
    live.mkdir()
    path = store_file(live, SESSION.user_id, SESSION.device_id)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=DELETE")
    db.execute("CREATE TABLE accounts (user_id TEXT, device_id TEXT, pickle TEXT)")
    db.execute("INSERT INTO accounts VALUES (?, ?, ?)", (SESSION.user_id, SESSION.device_id, ""))
    db.execute("CREATE TABLE sessions (value TEXT)")
    db.executemany("INSERT INTO sessions VALUES (?)", [("x" * 500,)] * 200)
    db.execute("PRAGMA cache_size=1")  # spill: pages reach the file before the commit
    db.execute("BEGIN IMMEDIATE")
    db.execute("UPDATE sessions SET value = ?", ("y" * 500,))
    crashed = tmp_path / "crypto"
    crashed.mkdir()
    for file in live.iterdir():  # copied mid-transaction, like a power cut
        shutil.copy(file, crashed / file.name)
    db.execute("ROLLBACK")
    db.close()
    return crashed


def test_a_store_with_a_hot_journal_after_a_crash_is_accepted(tmp_path: Path) -> None:
    crypto = crashed_store(tmp_path)
    journal = store_file(crypto, SESSION.user_id, SESSION.device_id).with_suffix(".db-journal")
    assert journal.stat().st_size > 0
    check_crypto_store(crypto, SESSION)  # raised IdentityError ("readonly database") before
    assert not journal.exists() or journal.stat().st_size == 0
