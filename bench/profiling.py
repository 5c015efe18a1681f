"""Sampling profiles of the bot and Synapse during a phase (`--profile`), with py-spy when it
is installed (`pip install py-spy`), and a summary of what the samples were doing.

    .venv/bin/python -m bench.profiling bench/results/profiles/bot-fanout-1000.txt

py-spy attaches from outside (`--nonblocking`: the process is never paused), so the figures of
a profiled run stay close to an unprofiled one.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

RATE = 200
"""Samples per second."""


def _spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def attach(pid: int, out: Path | None) -> subprocess.Popen[bytes] | None:
    """Start recording `pid` into `out`; None when `out` is None or py-spy is missing."""
    spy = _spy()
    if out is None or spy is None:
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [spy, "record", "--nonblocking", "-r", str(RATE), "-f", "raw", "-o", str(out)]
    return subprocess.Popen(
        [*command, "-p", str(pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def attach_soon(pid: int, out: Path | None) -> subprocess.Popen[bytes] | None:
    """Record a process that was just spawned, once its interpreter is up."""
    time.sleep(0.05)
    return attach(pid, out)


@contextlib.contextmanager
def sampled(pids: dict[str, int], out: Path | None, phase: str) -> Iterator[None]:
    """Record each process (name → pid) while the block runs, into `out/NAME-PHASE.txt`."""
    recorders = [
        attach(pid, out / f"{name}-{phase}.txt" if out else None) for name, pid in pids.items()
    ]
    try:
        yield
    finally:
        for recorder in recorders:
            stop(recorder)


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None:
        return
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def summarise(path: Path, top: int = 25, idle: bool = False) -> str:
    """Self and inclusive shares of the busiest functions in a py-spy raw (collapsed) file.

    Samples whose innermost frame is the event loop waiting (`select`/`poll`) count as idle
    and are left out unless `idle` is set; the shares are of the busy samples.
    """
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    busy = waiting = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        leaf = frames[-1]
        if not idle and any(word in leaf for word in ("select (", "poll (", "epoll")):
            waiting += count
            continue
        busy += count
        own[_short(leaf)] += count
        for frame in {_short(f) for f in frames}:
            inclusive[frame] += count
    lines = [
        f"{path.name}: {busy} busy samples ({busy / RATE:.1f} s), {waiting} idle",
        f"{'self %':>7} {'incl %':>7}  function",
    ]
    names = [name for name, _ in own.most_common(top)]
    for name in names:
        lines.append(
            f"{100 * own[name] / max(busy, 1):7.1f} {100 * inclusive[name] / max(busy, 1):7.1f}"
            f"  {name}"
        )
    lines.append("top inclusive:")
    for name, count in inclusive.most_common(top):
        lines.append(f"{'':7} {100 * count / max(busy, 1):7.1f}  {name}")
    return "\n".join(lines)


def _short(frame: str) -> str:
    """`function (path/to/module.py:12)` → `function (module.py)`."""
    name, _, where = frame.partition(" (")
    file = where.rsplit(":", 1)[0].rstrip(")")
    parts = Path(file).parts
    tail = "/".join(parts[-2:]) if parts else file
    return f"{name} ({tail})"


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.profiling", description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--idle", action="store_true", help="count waiting samples too")
    args = parser.parse_args()
    for file in args.files:
        print(summarise(file, args.top, args.idle))
        print()


if __name__ == "__main__":
    main()
