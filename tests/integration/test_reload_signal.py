"""The operator's reload: `kill -HUP` makes the running bot read its config again."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from bridge.homeserver import EmbeddedHomeserver
from bridge.settings import dump_toml_value
from tests.conftest import MakeAccount
from tests.integration.harness import make_user


def write_config(path: Path, url: str, bot: object, coordinators: list[str], data: Path) -> None:
    lines = [
        "[homeserver]",
        f"url = {dump_toml_value(url)}",
        "[bot]",
        f"user_id = {dump_toml_value(bot.user_id)}",  # type: ignore[attr-defined]
        f"password = {dump_toml_value(bot.password)}",  # type: ignore[attr-defined]
        f"data_dir = {dump_toml_value(str(data))}",
        "[[wijken]]",
        'slug = "oost"',
        'name = "Oost"',
        'join_code = "OOST-HUP"',
        f"coordinators = {dump_toml_value(coordinators)}",
    ]
    path.write_text("\n".join(lines) + "\n")


async def test_sighup_adds_a_coordinator_without_a_restart(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    bot = make_account("bin-bot")
    anna = make_account("co-anna")
    carla_account = make_account("co-carla")
    carla = await make_user(carla_account, homeserver.url, tmp_path / "carla", auto_join=False)
    config = tmp_path / "bridge.toml"
    data = tmp_path / "bot"
    write_config(config, homeserver.url, bot, [anna.user_id], data)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bridge",
        "run",
        "--config",
        str(config),
        stdin=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        status = data / "status.json"
        for _ in range(240):
            if status.exists() and json.loads(status.read_text() or "{}").get("ready"):
                break
            assert process.returncode is None, "the bot stopped"
            await asyncio.sleep(0.25)
        desk = json.loads(status.read_text())["wijken"]["oost"]["desk"]
        pid_before = process.pid

        write_config(config, homeserver.url, bot, [anna.user_id, carla.user_id], data)
        os.kill(process.pid, signal.SIGHUP)

        def invited() -> bool:
            return desk in carla.client.invited_rooms

        await carla.wait_for(invited, timeout=60, what="the invite after the reload")
        assert process.returncode is None and process.pid == pid_before  # no restart
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)
        await carla.close()
