"""The overview: per wijk the members, open reports, reports per week and answer times."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Header, Sparkline, Static

from ..gateway import Report, WijkStats
from ..i18n import I18n
from ..overview import WEEKS, WijkFigures, wijk_figures
from ..safe_text import safe_line
from ..widgets.key_footer import KeyFooter


class WijkPanel(Vertical):
    """One wijk's figures."""

    def __init__(self, i18n: I18n, figures: WijkFigures, members: str | None) -> None:
        super().__init__(classes="wijk-panel")
        self.i18n = i18n
        self.figures = figures
        self.members = members

    def compose(self) -> ComposeResult:
        t, f = self.i18n, self.figures
        title = Text(t("overview.wijk") + " ", style="bold")
        title.append_text(safe_line(f.wijk, style="bold"))
        yield Static(title, classes="wijk-title", markup=False)
        members = self.members if self.members is not None else t("overview.members_unknown")
        lines = [
            t("overview.members", members=members),
            t("overview.open", open=f.open, total=f.total, unread=f.unread),
        ]
        if f.urgent_open:
            lines.append(t("overview.urgent_open", count=f.urgent_open))
        if f.first_answer_hours is None:
            lines.append(t("overview.first_answer_none"))
        else:
            lines.append(t("overview.first_answer", duration=t.duration(f.first_answer_hours)))
        yield Static("\n".join(lines), classes="wijk-lines", markup=False)
        weeks = " · ".join(str(n) for n in f.per_week)
        yield Static(t("overview.per_week", weeks=WEEKS, counts=weeks), markup=False)
        yield Sparkline(list(f.per_week), summary_function=max, classes="wijk-sparkline")


class OverviewBody(VerticalScroll):
    """The panels, rebuilt whenever the parent sets new data."""

    data: reactive[tuple[tuple[Report, ...], tuple[WijkStats, ...], tuple[str, ...]]] = reactive(
        ((), (), ()), recompose=True
    )

    def __init__(self, i18n: I18n, clock: Callable[[], float], *, id: str) -> None:
        super().__init__(id=id)
        self.i18n = i18n
        self.clock = clock

    def compose(self) -> ComposeResult:
        reports, stats, wijken = self.data
        now = self.clock()
        members = {s.wijk: s.members for s in stats}
        slugs = sorted(set(wijken) | {r.wijk for r in reports if r.wijk})
        if not slugs:
            yield Static(self.i18n("overview.empty"), markup=False)
        for slug in slugs:
            yield WijkPanel(self.i18n, wijk_figures(reports, slug, now), members.get(slug))
        yield Static(self.i18n("overview.note"), id="overview-note", markup=False)


class OverviewScreen(Screen[None]):
    """Figures for every wijk (set by the app); `!stats` can be asked for members."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "request_stats", "Cijfers van de bot", id="overview.stats"),
        Binding("escape", "app.show_desk", "Terug", id="screen.back"),
    ]

    reports: reactive[tuple[Report, ...]] = reactive(())
    stats: reactive[tuple[WijkStats, ...]] = reactive(())
    wijken: reactive[tuple[str, ...]] = reactive(())

    class StatsRequested(Message):
        """Ask the bot for `!stats` in each wijk's desk."""

    def __init__(self, i18n: I18n, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.i18n = i18n
        self.clock = clock
        i18n.localise_bindings(self)

    def compose(self) -> ComposeResult:
        yield Header()
        yield OverviewBody(self.i18n, self.clock, id="overview")
        yield KeyFooter()

    def watch_reports(self) -> None:
        self._push()

    def watch_stats(self) -> None:
        self._push()

    def watch_wijken(self) -> None:
        self._push()

    def _push(self) -> None:
        if self.is_mounted:
            self.query_one(OverviewBody).data = (self.reports, self.stats, self.wijken)

    def on_mount(self) -> None:
        self.title = self.i18n("app.title")
        self.sub_title = self.i18n("overview.title")
        self.call_after_refresh(self._push)  # once the body is mounted

    def action_request_stats(self) -> None:
        """Ask the bot for its figures (the member count comes from there)."""
        self.post_message(self.StatsRequested())
