"""The thread view: a report's messages, each labelled from structured data, text quoted."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.reactive import var
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


class QuotedMessage(Vertical):
    """A header line and the words as a quoted block, as in a member's app: the quote bar is
    the body's left border, so every wrapped line has it. The thread and the composer's
    preview both show messages this way."""

    DEFAULT_CSS = """
    QuotedMessage {
        height: auto;
        & > .header { text-style: bold; }
        & > .body { padding: 0 1; border-left: outer $foreground 30%; }
    }
    """

    def __init__(
        self,
        header: Text | None = None,
        body: Text | None = None,
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._parts = (header or Text(), body or Text())
        self._shown: tuple[Text, Text] | None = None
        """Header and body as shown, once composed."""

    def parts(self) -> tuple[Text, Text]:
        """The header and the body to show (a subclass works them out when composed)."""
        return self._parts

    def compose(self) -> ComposeResult:
        self._shown = self.parts()
        yield Static(self._shown[0], classes="header", markup=False)
        yield Static(self._shown[1], classes="body", markup=False)

    def set_parts(self, header: Text, body: Text) -> None:
        """Show another header and body; the same words again repaint nothing."""
        self._parts = (header, body)
        if self._shown is None:
            return  # not composed yet: compose shows them
        if not same_text(header, self._shown[0]):
            self.query_one(".header", Static).update(header)
        if not same_text(body, self._shown[1]):
            self.query_one(".body", Static).update(body)
        self._shown = (header, body)


class ThreadEntry(QuotedMessage):
    """One message: a header (who, as what, when) and the text as a quoted block."""

    DEFAULT_CSS = """
    ThreadEntry {
        margin: 0 0 1 0;
        &.-member > .body { border-left: outer $accent; }
        &.-coordinator > .header { color: $success; }
        &.-bot > .header { color: $text-muted; }
        &.-command > .header { color: $text-muted; }
        &.-command > .body { color: $text-muted; border-left: outer $foreground 15%; }
        &.-police > .header { color: $warning; }
        &.-police > .body { border-left: outer $warning; }
    }
    """

    def __init__(self, item: ThreadItem, i18n: I18n, *, now: float | None = None) -> None:
        super().__init__(classes=f"-{item.role}")
        self.item = item
        self.i18n = i18n
        self.now = now

    def parts(self) -> tuple[Text, Text]:
        return self.header(), self.body()

    def show(self, item: ThreadItem, now: float | None) -> None:
        """Show another message in this entry (cheaper than a new entry: no mounting); the
        same words again (the report was only marked read) repaint nothing."""
        if item.role != self.item.role:
            self.remove_class(f"-{self.item.role}")
            self.add_class(f"-{item.role}")
        self.item, self.now = item, now
        if self._shown is None:
            return  # not composed yet: compose shows the new item
        self.set_parts(self.header(), self.body())

    def body(self) -> Text:
        """The words, made safe; a note for a photo or location without words."""
        item = self.item
        if item.text:
            return safe_text(item.text)
        if item.media in ("image", "location"):
            return Text(self.i18n(f"thread.media_only.{item.media}"), style="italic")
        return Text(self.i18n("thread.empty_text"))

    def header(self) -> Text:
        """Who (from structured data), as what, when, and the bot's flags on the message."""
        item, t = self.item, self.i18n
        if item.role == "police":
            header = Text(t("role.police"))
            if item.author:
                header.append(" · " + t("thread.police_reply_to") + " ")
                header.append_text(safe_line(item.author))
        elif item.role == "bot":
            header = Text(t("role.bot"))
        else:
            header = safe_line(item.author)
            header.append(f" · {t(f'role.{item.role}')}")
        header.append(f" · {format_time(item.ts, self.now)}")
        if item.urgent:
            header.append(" · ")
            header.append(t("thread.urgent"), style="bold red")
        if item.edited:
            header.append(" · " + t("thread.edited"))
        if item.part is not None:
            header.append(" · " + t("thread.part", part=item.part[0], parts=item.part[1]))
        if item.media in ("image", "location"):
            header.append(" · " + t(f"thread.media.{item.media}"))
        return header


class ThreadView(VerticalScroll):
    """Shows `report` (set by the parent); stays at the latest message unless scrolled up.

    Moving through the list shows one report after another: the entries on screen are
    given the next report's messages rather than replaced, so a switch costs an update of
    their text, not the mounting of new widgets."""

    report: var[Report | None] = var(None)

    def __init__(
        self,
        i18n: I18n,
        *,
        clock: Callable[[], float] = time.time,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.i18n = i18n
        self.clock = clock

    def compose(self) -> ComposeResult:
        yield Static(self.i18n("desk.no_selection"), classes="placeholder", markup=False)

    def _show(self, report: Report | None) -> None:
        self.query_one(".placeholder").display = report is None
        items = report.items if report is not None else []
        now = self.clock()
        entries = list(self.query_children(ThreadEntry))
        for entry, item in zip(entries, items, strict=False):
            entry.show(item, now)
        if len(entries) > len(items):
            self.remove_children(entries[len(items) :])
        elif len(items) > len(entries):
            self.mount_all(ThreadEntry(item, self.i18n, now=now) for item in items[len(entries) :])

    def watch_report(self, old: Report | None, new: Report | None) -> None:
        self._show(new)
        if new is None:
            return
        switched = old is None or old.root_event_id != new.root_event_id
        if switched or self.scroll_y >= self.max_scroll_y:
            # Open at the latest message; follow new ones unless scrolled up to read.
            self.call_after_refresh(self.scroll_end, animate=False)


def same_text(a: Text, b: Text) -> bool:
    """Whether two Texts show the same (Text's == leaves out the base style)."""
    return a == b and a.style == b.style


def report_title(report: Report, i18n: I18n) -> Text:
    """The line above a thread: '⚠ DRINGEND? · Reactie op W-0001 · M-0001 · Blauwe Reiger ·
    nieuw · oost · inbraak · door anna' (flags and extras only when they apply)."""
    title = Text()
    if report.blocked:
        title.append(i18n("thread.blocked") + " · ", style="bold")
    if report.urgent:
        title.append(i18n("thread.urgent") + " · ", style="bold red")
    if report.reaction_to:
        title.append(i18n("thread.reaction_to") + " ")
        title.append_text(safe_line(report.reaction_to))
        title.append(" · ")
    title.append_text(safe_line(report.report, style="bold"))
    title.append(" · ")
    title.append_text(safe_line(report.pseudonym))
    title.append(" · ")
    title.append_text(safe_line(i18n.status(report.status)))
    if report.wijk:
        title.append(" · ")
        title.append_text(safe_line(report.wijk))
    if report.category:
        title.append(" · ")
        title.append_text(safe_line(i18n.category(report.category)))
    if report.handler:
        title.append(" · " + i18n("thread.handled_by") + " ")
        title.append_text(safe_line(handler_name(report.handler)))
    return title


def handler_name(user_id: str) -> str:
    """'@anna:bin.example.nl' → 'anna'."""
    return user_id.lstrip("@").split(":", 1)[0]
