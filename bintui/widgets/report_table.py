"""The desk's list of reports: a `RowList` that builds the cells of the rows on screen only.

`show()` keeps the list of reports it is given and nothing more, so ten thousand reports cost
a list and a dict; a row's cells are made when the row is first painted and kept while its
report is the same object (the gateway hands out the same object for an unchanged report,
see `Gateway.reports`). Moving the cursor repaints two lines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import compress
from operator import is_not
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.cache import LRUCache

from ..gateway import Report
from ..i18n import I18n
from ..safe_text import safe_line
from .row_list import Column, RowList

UNREAD_MARK = "●"
URGENT_MARK = "⚠"
REACTION_MARK = "↩"
COLUMNS = ("unread", "urgent", "report", "pseudonym", "status", "age", "category", "handler")
"""Most needed first: at 80 columns category and handler may need a sideways scroll."""
WIDTHS = {
    "unread": 1,
    "urgent": 1,
    "report": 7,
    "pseudonym": 24,
    "status": 14,
    "age": 8,
    "category": 21,
    "handler": 12,
}
"""Fixed widths: the columns do not jump as rows come and go (long values are cut; the
thread's title line shows them whole)."""
CACHED_ROWS = 1024
"""Rows whose cells are kept (a screenful is ~40; paging back and forth stays cheap)."""


def format_age(seconds: float, i18n: I18n) -> str:
    """A short age: 'nu', '5 min', '3 u', '2 d'."""
    minutes = int(max(seconds, 0) // 60)
    if minutes < 1:
        return i18n("age.now")
    if minutes < 60:
        return i18n("age.minutes", n=minutes)
    if minutes < 48 * 60:
        return i18n("age.hours", n=minutes // 60)
    return i18n("age.days", n=minutes // (24 * 60))


def handler_name(user_id: str | None) -> str:
    """'@anna:bin.example.nl' → 'anna' (coordinators know each other; short for the list)."""
    if not user_id:
        return ""
    return user_id.lstrip("@").split(":", 1)[0]


def row_cells(report: Report, i18n: I18n, now: float) -> tuple[Text, ...]:
    """The cells of one report's row, every untrusted string made safe."""
    pseudonym = safe_line(report.pseudonym)
    if report.reaction_to:
        pseudonym.append(f" {REACTION_MARK}", style="dim")
        pseudonym.append_text(safe_line(report.reaction_to, style="dim"))
    return (
        Text(UNREAD_MARK if report.unread else "", style="bold"),
        Text(URGENT_MARK if report.urgent else "", style="bold red"),
        safe_line(report.report),
        pseudonym,
        safe_line(i18n.status(report.status)),
        Text(format_age(now - report.opened_ts, i18n)),
        safe_line(i18n.category(report.category) if report.category else ""),
        safe_line(handler_name(report.handler)),
    )


class ReportTable(RowList):
    """One row per report, keyed by root event id; the parent calls `show()` with what to
    list, in order."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "desk('claim')", "Neem", id="desk.claim"),
        # Shown only when the report has a photo (`DeskScreen.check_action`); early, so that
        # at 80 columns they are in view when they apply.
        Binding("i", "desk('view_image')", "Foto bekijken", id="desk.view_image"),
        Binding("e", "desk('save_image')", "Foto opslaan", id="desk.save_image"),
        Binding("s", "desk('status')", "Status", id="desk.status"),
        Binding("c", "desk('category')", "Categorie", id="desk.category"),
        Binding("d", "desk('forward')", "Doorsturen", id="desk.forward"),
        Binding("b", "desk('block')", "Blokkeren", id="desk.block"),
        Binding("slash", "desk('search')", "Zoeken", id="desk.search"),
        Binding("f", "desk('filter')", "Filter", id="desk.filter"),
        Binding("o", "desk('sort')", "Sorteren", id="desk.sort"),
    ]

    def action_desk(self, name: str) -> None:
        """A report action of the desk (`DeskScreen.action_<name>`)."""
        getattr(self.screen, f"action_{name}")()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Asks the desk this list is on, not the screen on top (a dialog may be open)."""
        if action == "desk" and parameters:
            return self.screen.check_action(str(parameters[0]), ())
        return True

    def __init__(self, i18n: I18n, *, clock: Callable[[], float], id: str | None = None) -> None:
        columns = [
            Column(key, i18n(f"column.{key}") if key not in ("unread", "urgent") else "", width)
            for key, width in ((key, WIDTHS[key]) for key in COLUMNS)
        ]
        super().__init__(columns, id=id)
        self.i18n = i18n
        self.clock = clock
        self._reports: list[Report] = []
        self._index: dict[str, int] = {}
        self._cells: LRUCache[str, tuple[Report, tuple[Text, ...]]] = LRUCache(CACHED_ROWS)
        i18n.localise_bindings(self)

    @property
    def order(self) -> list[str]:
        """Row keys in the order shown."""
        return [r.root_event_id for r in self._reports]

    @property
    def row_count(self) -> int:
        return len(self._reports)

    def row_key(self, index: int) -> str:
        return self._reports[index].root_event_id

    def row_version(self, index: int) -> object:
        return self._row(index)[1]

    def row_cells(self, index: int) -> tuple[Text, ...]:
        return self._row(index)[1]

    def _row(self, index: int) -> tuple[Report, tuple[Text, ...]]:
        report = self._reports[index]
        key = report.root_event_id
        cached = self._cells.get(key)
        if cached is None or cached[0] is not report:
            cached = (report, row_cells(report, self.i18n, self.clock()))
            self._cells.discard(key)  # LRUCache.set keeps an existing entry
            self._cells.set(key, cached)
        return cached

    def get_row_index(self, key: str) -> int:
        """The row of the report with root event id `key`; KeyError when it is not listed."""
        return self._index[key]

    def row_of(self, key: str) -> int | None:
        """The row of the report with root event id `key`, None when it is not listed."""
        return self._index.get(key)

    def show(self, reports: Sequence[Report]) -> bool:
        """Show exactly `reports` in this order; True if the rows or their order changed."""
        old = self._reports
        if len(old) == len(reports):
            changed = list(compress(range(len(reports)), map(is_not, old, reports)))
            if not changed:
                return False
            if all(old[i].root_event_id == reports[i].root_event_id for i in changed):
                # The same reports in the same places, some of them newer: repaint those rows.
                self._reports = list(reports)
                for row in changed:
                    self.refresh_row(row)
                return True
        self._reports = list(reports)
        self._index = {r.root_event_id: i for i, r in enumerate(self._reports)}
        # Gone reports leave nothing behind (a redacted report's words, for one).
        for key in self._cells.keys() - self._index.keys():
            self._cells.discard(key)
        self.forget_rendering([key for key in self.cached_keys() if key not in self._index])
        self.rows_changed()
        return True

    def refresh_ages(self) -> None:
        """Make the cells again that depend on the clock (the age column), when painted."""
        self._cells.clear()
        self.refresh()
