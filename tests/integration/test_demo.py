"""The demo contract: `bin-bridge demo --scripted` plays the whole loop on a fresh data dir."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_the_scripted_demo_succeeds_on_a_fresh_data_dir_and_writes_its_state(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "bridge", "demo", "--data-dir", str(data_dir), "--scripted"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Scenario geslaagd." in result.stdout
    for step in range(1, 15):
        assert f"✓ stap {step}:" in result.stdout

    state = json.loads((data_dir / "demo-state.json").read_text())
    assert state["homeserver"].startswith("http://127.0.0.1:")
    assert state["registration_shared_secret"]
    assert state["bot"].startswith("@bin-bot:")
    oost = state["wijken"]["oost"]
    assert oost["join_code"]
    assert set(oost["rooms"]) == {"desk", "police", "wijk"}
    assert all(room.startswith("!") for room in oost["rooms"].values())
    roles = {"bot", "coordinator1", "coordinator2", "police", "member1", "member2", "member3"}
    assert set(state["accounts"]) == roles
    assert all(a["user_id"] and a["password"] for a in state["accounts"].values())
    assert (data_dir / "demo-state.json").stat().st_mode & 0o077 == 0
