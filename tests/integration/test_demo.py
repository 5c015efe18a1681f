"""The demo contract: `bin-bridge demo --scripted` plays the whole loop on a fresh data dir."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
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


def test_a_closed_terminal_stops_the_demo_with_its_bot_and_homeserver(tmp_path: Path) -> None:
    """SIGHUP (the terminal or the SSH connection closing) stops everything the demo started,
    so the next `make run` does not find a homeserver still running on its data dir."""
    data_dir = tmp_path / "demo"
    demo = subprocess.Popen(
        [sys.executable, "-m", "bridge", "demo", "--data-dir", str(data_dir), "--no-tui"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert demo.stdout is not None
    output = []
    for line in demo.stdout:
        output.append(line)
        if "Headless" in line:
            break
    else:
        raise AssertionError("".join(output))
    started = _children_of(demo.pid, data_dir)
    assert len(started) == 2, started  # Synapse and the bot, each in a session of its own
    demo.send_signal(signal.SIGHUP)
    rest, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0, "".join(output) + rest
    assert "BIN-demo: gestopt." in rest
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in started if _alive(pid)]


def _children_of(parent: int, data_dir: Path) -> list[int]:
    """Processes whose command line names the demo's data dir, other than the demo itself."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == parent:
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(data_dir) in command and "bridge demo" not in command:
            found.append(int(proc.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"
