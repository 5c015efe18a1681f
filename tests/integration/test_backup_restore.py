"""Backup and restore: a restored bot is the same device, keeps decrypting, relays nothing twice."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.backup import BackupError, create_backup, restore_backup
from bridge.homeserver import Account, EmbeddedHomeserver
from tests.conftest import MakeAccount
from tests.integration.harness import World, running_world, write_bot_config
from tests.integration.test_restart import desk_copies, wait_until_relayed

pytestmark = pytest.mark.integration
PASSPHRASE = b"correct horse battery staple"


def desk_sends(world: World, text: str) -> list[str | None]:
    """The transaction ids under which the bot sent this member text to the desk."""
    desk = world.room("oost", "desk")
    return [s.txn_id for s in world.sent_to(desk) if s.fields.get("text") == text]


async def test_a_restored_bot_keeps_decrypting_and_relays_nothing_twice(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        member = await world.signed_up_member(make_account, "oost")
        coordinator = world.coordinator("oost")
        desk = world.room("oost", "desk")
        data_dir = world.settings.bot.data_dir
        before = ["Voor de backup: fietsendief bij het station"]
        after = ["Na de backup: hij is er weer", "En nog een keer na de backup"]
        restored = ["Na het terugzetten: alles rustig"]

        for text in before:
            await member.user.say(member.private_room, text)
        await wait_until_relayed(world, before)
        backup = tmp_path / "bot.binbackup"
        made = create_backup(world.settings, backup, PASSPHRASE)  # while the bot runs
        assert made["files"] >= 4  # bridge db, crypto store, session, secret, keys
        assert backup.stat().st_mode & 0o777 == 0o600
        assert b"SQLite" not in backup.read_bytes()  # encrypted, not a readable archive
        for text in after:
            await member.user.say(member.private_room, text)
        await wait_until_relayed(world, before + after)
        await world.stop_bot()

        with pytest.raises(BackupError, match="not empty"):
            restore_backup(world.settings, backup, PASSPHRASE)
        with pytest.raises(BackupError, match="wrong passphrase"):
            restore_backup(world.settings, backup, b"wrong horse battery staple", force=True)
        shutil.rmtree(data_dir)
        done = restore_backup(world.settings, backup, PASSPHRASE)
        assert done["moved_aside"] == ""
        assert (data_dir / "bridge.db").exists()

        # The restored bot handles the messages sent after the backup again, under the same
        # transaction ids: the homeserver de-duplicates, the desk shows each once.
        await world.start_bot()
        for text in restored:
            await member.user.say(member.private_room, text)
        await wait_until_relayed(world, before + after + restored)
        for _ in range(4):
            await coordinator.sync(wait_ms=500)

        texts = before + after + restored
        counts = {text: len(desk_copies(coordinator, desk, text)) for text in texts}
        assert counts == dict.fromkeys(texts, 1)
        for text in after:
            ids = desk_sends(world, text)
            assert len(ids) == 2 and ids[0] == ids[1], ids  # sent twice, same txn id
        assert [len(desk_sends(world, t)) for t in before + restored] == [1, 1]
        assert coordinator.undecryptable == 0

        # The doctor, run by an operator next to the running bot, finds it healthy.
        bot = world.settings.bot
        assert bot.access_token is not None
        account = Account(bot.user_id, "", bot.access_token.get_secret_value(), bot.device_id)
        config = write_bot_config(
            tmp_path / "doctor.toml", homeserver.url, account, data_dir, world.settings.wijken
        )
        result = subprocess.run(  # noqa: ASYNC221 (a short CLI run)
            [sys.executable, "-m", "bridge", "doctor", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        out = result.stdout
        assert f"device {world.settings.bot.device_id}" in out
        assert "Cross-signing verified on the homeserver" in out
        assert "Integrity check: ok." in out
        assert "Outbox: 0 send(s)" in out
        assert "Waiting for a room key: 0 event(s)" in out
        assert "Last completed sync:" in out
        assert "Report-to-member mapping kept for 90 days." in out
        assert "All checks passed." in out
        assert member.user_id not in out and member.private_room not in out
