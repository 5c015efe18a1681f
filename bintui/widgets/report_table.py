"""The desk's list of reports: a DataTable that changes only the rows that changed.

DataTable renders only the visible lines, so thousands of rows scroll fine; what costs is
building rows. `show()` therefore compares the new list with what is on screen: unchanged
reports (the same objects, see `Gateway.reports`) are not touched, changed ones get their
changed cells updated, new ones are added, gone ones removed, and the rows are put in the
new order in one sort.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist, RowKey

from ..gateway import Report
from ..i18n import I18n
from ..safe_text import safe_line

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
BULK = 200
"""Removing rows one by one costs a pass over the table each; past this many changes the rows
are rebuilt in one go."""


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


class ReportTable(DataTable[Text]):
    """Rows keyed by root event id; the parent calls `show()` with what to list."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "screen.claim", "Neem", id="desk.claim"),
        Binding("s", "screen.status", "Status", id="desk.status"),
        Binding("c", "screen.category", "Categorie", id="desk.category"),
        Binding("d", "screen.forward", "Doorsturen", id="desk.forward"),
        Binding("b", "screen.block", "Blokkeren", id="desk.block"),
        Binding("slash", "screen.search", "Zoeken", id="desk.search"),
        Binding("f", "screen.filter", "Filter", id="desk.filter"),
        Binding("o", "screen.sort", "Sorteren", id="desk.sort"),
        Binding("i", "screen.view_image", "Foto bekijken", id="desk.view_image", show=False),
        Binding("e", "screen.save_image", "Foto opslaan", id="desk.save_image", show=False),
    ]

    def __init__(self, i18n: I18n, *, clock: Callable[[], float], id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.i18n = i18n
        self.clock = clock
        self._shown: dict[str, tuple[Report, tuple[Text, ...]]] = {}
        self._order: list[str] = []
        i18n.localise_bindings(self)

    def on_mount(self) -> None:
        t = self.i18n
        for key in COLUMNS:
            label = t(f"column.{key}") if key not in ("unread", "urgent") else ""
            self.add_column(label, key=key, width=WIDTHS[key])

    @property
    def order(self) -> list[str]:
        """Row keys in the order shown."""
        return list(self._order)

    def show(self, reports: Sequence[Report]) -> bool:
        """Show exactly `reports` in this order; True if the rows or their order changed."""
        now = self.clock()
        keys = [r.root_event_id for r in reports]
        wanted = set(keys)
        gone = [k for k in self._shown if k not in wanted]
        if len(gone) + len(wanted - self._shown.keys()) > BULK:
            self._rebuild(reports, now)
            return True
        changed = False
        for key in gone:
            del self._shown[key]
            with contextlib.suppress(RowDoesNotExist):
                self.remove_row(key)
            changed = True
        for report in reports:
            key = report.root_event_id
            old = self._shown.get(key)
            if old is not None and old[0] is report:
                continue
            cells = row_cells(report, self.i18n, now)
            if old is None:
                self.add_row(*cells, key=key)
                changed = True
            else:
                kept = []
                for column, before, after in zip(COLUMNS, old[1], cells, strict=True):
                    if before == after:
                        kept.append(before)  # the table keeps holding this very object
                    else:
                        self.update_cell(key, column, after, update_width=True)
                        kept.append(after)
                        changed = True
                cells = tuple(kept)
            self._shown[key] = (report, cells)
        if keys != self._order:
            rank = {id(self._shown[key][1][0]): index for index, key in enumerate(keys)}
            # Sort by the identity of each row's first cell: public API, no row rebuilt.
            self.sort("unread", key=lambda cell: rank[id(cell)])
            self._order = keys
            changed = True
        return changed

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """Only the scrollable size changes: every column has a fixed width and every row is
        one line, so no cell needs measuring. (DataTable would measure each cell of each new
        row, about half a millisecond a row: seconds for a desk of thousands of reports.)"""
        width = sum(column.get_render_width(self) for column in self.columns.values())
        header = self.header_height if self.show_header else 0
        self.virtual_size = Size(width, self.row_count + header)

    def _rebuild(self, reports: Sequence[Report], now: float) -> None:
        """All rows anew, already in order (a filter or search changed many at once)."""
        self.clear()
        self._shown = {}
        for report in reports:
            cells = row_cells(report, self.i18n, now)
            self.add_row(*cells, key=report.root_event_id)
            self._shown[report.root_event_id] = (report, cells)
        self._order = [r.root_event_id for r in reports]

    def refresh_ages(self) -> None:
        """Re-render the cells that depend on the clock (the age column)."""
        now = self.clock()
        at = COLUMNS.index("age")
        for key, (report, cells) in list(self._shown.items()):
            age = Text(format_age(now - report.opened_ts, self.i18n))
            if age != cells[at]:
                self.update_cell(key, "age", age)
                self._shown[key] = (report, (*cells[:at], age, *cells[at + 1 :]))
