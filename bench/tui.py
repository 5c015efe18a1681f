"""The coordinator client measured from the outside: `bintui` in a pseudo-terminal, timed from
launch or key press until the expected text has been written to the terminal."""

from __future__ import annotations

import codecs
import contextlib
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

from bench import profiling
from bench.common import now, percentile, rss_mb
from bintui.i18n import I18n

COLUMNS, ROWS = 120, 40
DOWN = b"\x1b[B"
QUIT = b"\x11"  # ctrl+q, Textual's quit binding
# CSI sequences, OSC strings, and two-byte escapes (charset selection and the like).
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b."
)


class Terminal:
    """A child process on a pseudo-terminal of COLUMNS x ROWS; reads what it paints."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        environment = {**os.environ, "TERM": "xterm-256color", **(env or {})}
        for name in ("COLUMNS", "LINES", "TEXTUAL", "NO_COLOR"):
            environment.pop(name, None)

        def controlling_terminal() -> None:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.started = now()
        self.process = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=environment,
            preexec_fn=controlling_terminal,  # before any thread exists
            close_fds=True,
        )
        os.close(slave)
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.raw = ""

    @property
    def text(self) -> str:
        """What was painted since the last `clear()`, without escape sequences."""
        return _ESCAPES.sub("", self.raw)

    def clear(self) -> None:
        self.raw = ""

    def read(self, timeout: float) -> bool:
        """Read what is available within `timeout`; False when nothing came."""
        ready, _, _ = select.select([self.master], [], [], max(timeout, 0))
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 1 << 20)
        except OSError:  # the child closed the terminal
            return False
        self.raw += self._decoder.decode(chunk)
        return True

    def wait_for(self, needle: str, timeout: float = 60) -> float:
        """Read until `needle` has been painted; return `now()` at that moment."""
        deadline = now() + timeout
        while needle not in self.text:  # escapes split over reads are joined again here
            if now() > deadline:
                tail = self.text[-400:].replace("\n", " ")
                raise TimeoutError(f"{needle!r} not painted within {timeout:.0f} s: …{tail}")
            if self.process.poll() is not None and not self.read(0):
                raise RuntimeError(f"the client exited ({self.process.returncode})")
            self.read(0.5)
        return now()

    def drain(self, quiet: float = 0.2) -> None:
        """Read until nothing arrives for `quiet` seconds."""
        while self.read(quiet):
            pass

    def send(self, data: bytes) -> float:
        at = now()
        os.write(self.master, data)
        return at

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.send(QUIT)
        deadline = now() + 10
        while self.process.poll() is None and now() < deadline:
            self.read(0.1)
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        os.close(self.master)


def bintui(config: Path) -> Terminal:
    """`python -m bintui --config FILE`, exactly as a coordinator starts it."""
    return Terminal([sys.executable, "-m", "bintui", "--config", str(config)])


DESK_PAINTED = I18n("nl")("column.pseudonym")
"""A column header of the desk's report list: the desk screen is on the terminal."""
ONLINE = I18n("nl")("connection.online")
"""The connection indicator after the first sync."""


def launch(
    config: Path, report: str | None, *, online_for: float = 0, timeout: float = 120
) -> dict[str, float]:
    """One launch of bintui: seconds until the desk is painted and (if given) until a report
    label is listed; with `online_for`, stay that long after it says it is connected."""
    terminal = bintui(config)
    try:
        painted = terminal.wait_for(DESK_PAINTED, timeout) - terminal.started
        result = {"first_paint_s": painted}
        if report is not None:
            result["report_shown_s"] = terminal.wait_for(report, timeout) - terminal.started
        if online_for:
            result["online_s"] = terminal.wait_for(ONLINE, timeout) - terminal.started
            end = now() + online_for
            while now() < end:
                terminal.read(0.2)
        terminal.drain()
        result["rss_mb"] = rss_mb(terminal.process.pid)
        return result
    finally:
        terminal.close()


def navigation(
    count: int, presses: int, data_dir: Path, profile: Path | None = None
) -> dict[str, Any]:
    """Key press (down) to repaint of the next report's thread, over a desk of `count`
    reports; and the client's memory with them."""
    from bench.tui_nav import UNREAD, report_text

    terminal = Terminal([sys.executable, "-m", "bench.tui_nav", str(count), str(data_dir)])
    try:
        terminal.wait_for(report_text(0), 120)
        startup = now() - terminal.started
        terminal.drain(0.5)
        times: list[float] = []
        spy = profiling.attach(terminal.process.pid, profile)
        for number in range(1, presses + 1):
            terminal.clear()
            pressed = terminal.send(DOWN)
            times.append((terminal.wait_for(report_text(number), 30) - pressed) * 1000)
        profiling.stop(spy)
        terminal.drain(0.5)
        rss = rss_mb(terminal.process.pid)
    finally:
        terminal.close()
    read = times[UNREAD:]
    return {
        "startup_s": startup,
        "nav_p50_ms": percentile(times, 50),
        "nav_p95_ms": percentile(times, 95),
        "nav_max_ms": max(times),
        "nav_unread_p50_ms": percentile(times[:UNREAD], 50),
        "nav_read_p95_ms": percentile(read, 95),
        "rss_mb": rss,
        "samples_ms": [round(t, 2) for t in times],
    }
