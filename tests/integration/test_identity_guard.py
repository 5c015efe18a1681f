"""The CLI refuses to start on a crypto store that is missing, damaged or another device's."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.homeserver import EmbeddedHomeserver
from bridge.matrix import SESSION_FILE, STORE_DIR, store_file
from tests.conftest import MakeAccount
from tests.integration.harness import BotProcess, client_api, wijk_settings, write_bot_config

pytestmark = pytest.mark.integration


def damage_truncated(store: Path, data_dir: Path) -> None:
    store.write_bytes(b"")


def damage_half(store: Path, data_dir: Path) -> None:
    data = store.read_bytes()
    store.write_bytes(data[: len(data) // 2])


def damage_garbage(store: Path, data_dir: Path) -> None:
    store.write_bytes(b"\x8f\x13 not a database " * 4096)


def damage_missing(store: Path, data_dir: Path) -> None:
    store.unlink()


def damage_other_device(store: Path, data_dir: Path) -> None:
    session = json.loads((data_dir / SESSION_FILE).read_text())
    session["device_id"] = "ANDERAPPARAAT"
    (data_dir / SESSION_FILE).write_text(json.dumps(session))


def damage_renamed_store(store: Path, data_dir: Path) -> None:
    """A store copied under this device's name from another device's data dir."""
    session = json.loads((data_dir / SESSION_FILE).read_text())
    session["device_id"] = "ANDERAPPARAAT"
    (data_dir / SESSION_FILE).write_text(json.dumps(session))
    store.rename(store.with_name(f"{session['user_id']}_ANDERAPPARAAT.db"))


CASES = [
    (damage_truncated, "holds no identity"),
    (damage_half, "is damaged"),
    (damage_garbage, "is damaged"),
    (damage_missing, "is missing"),
    (damage_other_device, "belongs to another device"),
    (damage_renamed_store, "but the session is for device ANDERAPPARAAT"),
]


async def test_the_cli_refuses_a_missing_damaged_or_foreign_crypto_store_with_exit_code_3(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    bot_account = make_account("bin-bot")
    wijk = wijk_settings("oost", [], [])
    original = tmp_path / "original"
    config = write_bot_config(tmp_path / "ok.toml", homeserver.url, bot_account, original, [wijk])
    bot = BotProcess(config, original, tmp_path / "bot.log")
    bot.start()
    try:
        await bot.wait_ready()
        assert bot.terminate() == 0
    finally:
        bot.close()
    store = store_file(original / STORE_DIR, bot_account.user_id, bot_account.device_id)
    assert store.exists()

    refusals = []
    for damage, phrase in CASES:
        data_dir = tmp_path / damage.__name__
        shutil.copytree(original, data_dir)
        copy = store_file(data_dir / STORE_DIR, bot_account.user_id, bot_account.device_id)
        for suffix in ("-wal", "-shm"):
            copy.with_name(copy.name + suffix).unlink(missing_ok=True)
        damage(copy, data_dir)
        before = sorted(p.name for p in (data_dir / STORE_DIR).iterdir())
        cfg = write_bot_config(
            tmp_path / f"{damage.__name__}.toml", homeserver.url, bot_account, data_dir, [wijk]
        )
        result = subprocess.run(  # noqa: ASYNC221 (the refusal takes a second)
            [sys.executable, "-m", "bridge", "run", "--config", str(cfg)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        refusals.append(damage.__name__)
        assert result.returncode == 3, (damage.__name__, result.stderr)
        assert "refusing to start" in result.stderr, result.stderr
        assert phrase in result.stderr, (damage.__name__, result.stderr)
        assert "restore it from a backup" in result.stderr
        # Nothing was created or repaired: the evidence is left as it was.
        assert sorted(p.name for p in (data_dir / STORE_DIR).iterdir()) == before

    assert len(refusals) == len(CASES) == 6
    # No refused start made a new device on the account.
    status, body = await client_api(
        homeserver.url, bot_account.access_token, "GET", "/_matrix/client/v3/devices"
    )
    assert status == 200, body
    assert [d["device_id"] for d in body["devices"]] == [bot_account.device_id]
