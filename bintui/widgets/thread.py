"""The thread view: a report's messages, each labelled from structured data, text quoted."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from ..gateway import Report, ThreadItem
from ..i18n import I18n
from ..safe_text import safe_line, safe_text


def format_time(ts: float, now: float | None = None) -> str:
    """'14:02' today, '03-12 14:02' on another day (local time)."""
    local = time.localtime(ts)
    today = time.localtime(now if now is not None else time.time())
    if local[:3] == today[:3]:
        return time.strftime("%H:%M", local)
    return time.strftime("%d-%m %H:%M", local)


class ThreadEntry(Vertical):
    """One message: a header (who, as what, when) and the text as a quoted block."""

    DEFAULT_CSS = """
    ThreadEntry {
        height: auto;
        margin: 0 0 1 0;
        & > .header { text-style: bold; }
        & > .body { padding: 0 1; border-left: outer $foreground 30%; }
        &.-member > .body { border-left: outer $accent; }
        &.-coordinator > .header { color: $success; }
        &.-bot > .header { color: $text-muted; }
    }
    """

    def __init__(self, item: ThreadItem, i18n: I18n) -> None:
        super().__init__(classes=f"-{item.role}")
        self.item = item
        self.i18n = i18n

    def compose(self) -> ComposeResult:
        item = self.item
        header = safe_line(item.author)
        header.append(f" · {self.i18n(f'role.{item.role}')} · {format_time(item.ts)}")
        yield Static(header, classes="header", markup=False)
        body = safe_text(item.text) if item.text else Text(self.i18n("thread.empty_text"))
        yield Static(body, classes="body", markup=False)


class ThreadView(VerticalScroll):
    """Shows `report` (set by the parent); stays at the latest message unless scrolled up."""

    report: reactive[Report | None] = reactive(None, recompose=True)

    def __init__(self, i18n: I18n, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.i18n = i18n

    def compose(self) -> ComposeResult:
        report = self.report
        if report is None:
            yield Static(self.i18n("desk.no_selection"), classes="placeholder", markup=False)
            return
        for item in report.items:
            yield ThreadEntry(item, self.i18n)

    def watch_report(self, old: Report | None, new: Report | None) -> None:
        if new is None:
            return
        switched = old is None or old.root_event_id != new.root_event_id
        if switched or self.scroll_y >= self.max_scroll_y:
            # Open at the latest message; follow new ones unless scrolled up to read.
            self.call_after_refresh(self.scroll_end, animate=False)


def report_title(report: Report, i18n: I18n) -> Text:
    """The line above a thread: 'M-0001 · Blauwe Reiger · nieuw · oost'."""
    title = safe_line(report.report, style="bold")
    title.append(" · ")
    title.append_text(safe_line(report.pseudonym))
    title.append(" · ")
    title.append_text(safe_line(i18n.status(report.status)))
    if report.wijk:
        title.append(" · ")
        title.append_text(safe_line(report.wijk))
    return title
