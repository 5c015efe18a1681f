"""The backup file: consistent copies, authenticated encryption, careful restores."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from pydantic import SecretStr

from bridge.backup import (
    PASSPHRASE_ENV,
    BackupError,
    create_backup,
    read_passphrase,
    restore_backup,
)
from bridge.settings import BotSettings, BridgeSettings
from bridge.store import Store

PASSPHRASE = b"een lange geheime zin"


def make_settings(tmp_path: Path, name: str = "bot") -> BridgeSettings:
    return BridgeSettings(
        bot=BotSettings(
            user_id="@bin:example.nl", access_token=SecretStr("t"), data_dir=tmp_path / name
        )
    )


def populate(settings: BridgeSettings) -> None:
    data = settings.bot.data_dir
    store = Store(data / "bridge.db")
    store.set_meta("sync_token", "s42")
    store.close()
    crypto = data / "crypto"
    crypto.mkdir()
    db = sqlite3.connect(crypto / "@bin:example.nl_BINBRIDGE.db")
    db.execute("CREATE TABLE accounts (device_id TEXT)")
    db.execute("INSERT INTO accounts VALUES ('BINBRIDGE')")
    db.commit()
    db.close()
    (data / "session.json").write_text('{"device_id": "BINBRIDGE"}')
    (data / "secret.key").write_text("ab" * 32)
    (data / "cross-signing.json").write_text("{}")
    (data / "status.json").write_text("{}")


def test_a_backup_restores_every_file_and_database_into_an_empty_data_dir(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    populate(settings)
    out = tmp_path / "b.bin"
    made = create_backup(settings, out, PASSPHRASE)
    assert made["files"] == 5  # status.json is not copied
    assert out.stat().st_mode & 0o777 == 0o600

    target = make_settings(tmp_path, "restored")
    done = restore_backup(target, out, PASSPHRASE)
    data = target.bot.data_dir
    assert done == {"files": 5, "moved_aside": ""}
    assert Store(data / "bridge.db").sync_token == "s42"
    rows = sqlite3.connect(data / "crypto" / "@bin:example.nl_BINBRIDGE.db").execute(
        "SELECT device_id FROM accounts"
    )
    assert rows.fetchall() == [("BINBRIDGE",)]
    assert (data / "secret.key").read_text() == "ab" * 32
    assert not (data / "status.json").exists()
    assert (data / "secret.key").stat().st_mode & 0o777 == 0o600


def test_a_wrong_passphrase_or_a_changed_byte_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    populate(settings)
    out = tmp_path / "b.bin"
    create_backup(settings, out, PASSPHRASE)
    target = make_settings(tmp_path, "restored")
    with pytest.raises(BackupError, match="wrong passphrase"):
        restore_backup(target, out, b"een andere geheime zin")
    raw = bytearray(out.read_bytes())
    raw[-40] ^= 1
    out.write_bytes(bytes(raw))
    with pytest.raises(BackupError, match="wrong passphrase, or the file is damaged"):
        restore_backup(target, out, PASSPHRASE)
    assert not target.bot.data_dir.exists()


def test_a_non_empty_data_dir_is_replaced_only_with_force_and_then_moved_aside(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    populate(settings)
    out = tmp_path / "b.bin"
    create_backup(settings, out, PASSPHRASE)
    (settings.bot.data_dir / "secret.key").write_text("cd" * 32)
    with pytest.raises(BackupError, match="not empty"):
        restore_backup(settings, out, PASSPHRASE)
    done = restore_backup(settings, out, PASSPHRASE, force=True)
    aside = Path(str(done["moved_aside"]))
    assert (aside / "secret.key").read_text() == "cd" * 32
    assert (settings.bot.data_dir / "secret.key").read_text() == "ab" * 32


def test_the_passphrase_comes_from_a_file_or_the_environment_and_must_be_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "pass"
    file.write_text("een lange geheime zin\n")
    assert read_passphrase(file) == PASSPHRASE
    monkeypatch.setenv(PASSPHRASE_ENV, "ook een lange zin")
    assert read_passphrase(None) == b"ook een lange zin"
    monkeypatch.setenv(PASSPHRASE_ENV, "kort")
    with pytest.raises(BackupError, match="at least 12"):
        read_passphrase(None)
