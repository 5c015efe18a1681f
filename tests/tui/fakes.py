"""A fake Gateway for Pilot tests, and sample reports built from plain data."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from bintui.gateway import ConnectionState, GatewayError, LoginRequired, Report, ThreadItem


def report(
    number: int,
    pseudonym: str,
    text: str,
    *,
    answers: tuple[str, ...] = (),
    unread: bool = True,
    status: str = "nieuw",
    minutes_ago: float = 10,
) -> Report:
    """A report in the desk with the member's first message and optional coordinator answers."""
    root = f"$root{number}"
    opened = time.time() - minutes_ago * 60  # ages are relative to the real clock
    items = [ThreadItem(root, "member", pseudonym, text, opened)]
    items += [
        ThreadItem(f"$answer{number}-{i}", "coordinator", "Coördinator Anna", answer, opened + i)
        for i, answer in enumerate(answers, start=1)
    ]
    return Report(
        root_event_id=root,
        room_id="!desk:localhost",
        report=f"M-{number:04d}",
        pseudonym=pseudonym,
        wijk="oost",
        status=status,
        opened_ts=opened,
        items=items,
        unread=unread,
    )


class FakeGateway:
    """Serves fixed reports; records replies; can ask for a login or fail on demand."""

    def __init__(
        self,
        reports: list[Report] | None = None,
        *,
        state: ConnectionState | None = None,
        login_required: str | None = None,
        reply_error: str | None = None,
    ) -> None:
        self._reports = list(reports or [])
        self.state = state or ConnectionState("online")
        self.login_required = login_required
        self.reply_error = reply_error
        self.replies: list[tuple[str, str]] = []
        self.read: list[str] = []
        self.started = False
        self.closed = False
        self.on_change: Callable[[], None] = lambda: None

    async def start(self, on_change: Callable[[], None]) -> None:
        if self.login_required is not None:
            raise LoginRequired(self.login_required)
        self.on_change = on_change
        self.started = True
        on_change()

    def reports(self) -> list[Report]:
        return list(self._reports)

    def mark_read(self, report: Report) -> None:
        self.read.append(report.root_event_id)
        self._reports = [
            replace(r, unread=False) if r.root_event_id == report.root_event_id else r
            for r in self._reports
        ]

    async def reply(self, report: Report, text: str) -> None:
        if self.reply_error is not None:
            raise GatewayError(self.reply_error)
        self.replies.append((report.root_event_id, text))

    async def close(self) -> None:
        self.closed = True

    # Test helpers: what the real gateway does when a sync brings news.
    def push(self, reports: list[Report], state: ConnectionState | None = None) -> None:
        self._reports = list(reports)
        if state is not None:
            self.state = state
        self.on_change()
