"""The desk: the list of reports, the selected report's thread, and the answer composer."""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static, TextArea
from textual.widgets.data_table import CellDoesNotExist

from ..gateway import ConnectionState, Report
from ..i18n import I18n
from ..safe_text import safe_line
from ..widgets.status import ConnectionIndicator
from ..widgets.thread import ThreadView, report_title

AGE_REFRESH_SECONDS = 30.0
UNREAD_MARK = "●"


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


class DeskScreen(Screen[None]):
    """Lists `reports` and shows the selected one; asks the app to send answers (messages up)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "send", "Versturen", id="desk.send"),
        Binding("ctrl+n", "next_unread", "Volgende nieuwe", id="desk.next_unread"),
        Binding("ctrl+l", "focus_list", "Lijst", id="desk.focus_list"),
        Binding("ctrl+o", "focus_composer", "Antwoorden", id="desk.focus_composer", show=False),
    ]

    reports: reactive[tuple[Report, ...]] = reactive(())
    connection: reactive[ConnectionState] = reactive(ConnectionState)
    selected: reactive[str | None] = reactive(None)
    """Root event id of the report on display."""

    class ReportOpened(Message):
        """The coordinator opened a report (so it counts as read)."""

        def __init__(self, root_event_id: str) -> None:
            super().__init__()
            self.root_event_id = root_event_id

    class ReplyRequested(Message):
        """The coordinator wants to send `text` into `report`'s thread."""

        def __init__(self, report: Report, text: str) -> None:
            super().__init__()
            self.report = report
            self.text = text

    def __init__(self, i18n: I18n) -> None:
        super().__init__()
        self.i18n = i18n
        self._drafts: dict[str, str] = {}
        i18n.localise_bindings(self)

    def compose(self) -> ComposeResult:
        t = self.i18n
        yield Header()
        with Vertical(id="desk"):
            with Vertical(id="report-list"):
                yield DataTable[Text](id="reports", cursor_type="row", zebra_stripes=True)
                yield Static(t("desk.empty"), id="reports-empty", markup=False)
            with Vertical(id="conversation"):
                yield Static("", id="thread-title", markup=False)
                yield ThreadView(t, id="thread")
                yield TextArea(
                    id="composer",
                    soft_wrap=True,
                    show_line_numbers=False,
                    placeholder=t("desk.composer_placeholder"),
                )
        yield ConnectionIndicator(t, id="connection")
        yield Footer()

    def on_mount(self) -> None:
        self.title = self.i18n("app.title")
        self.sub_title = self.i18n("desk.title")
        table = self.query_one("#reports", DataTable)
        t = self.i18n
        for key, label in (
            ("unread", ""),
            ("report", t("column.report")),
            ("pseudonym", t("column.pseudonym")),
            ("status", t("column.status")),
            ("age", t("column.age")),
        ):
            table.add_column(label, key=key)
        self.set_interval(AGE_REFRESH_SECONDS, self._fill_table)
        self._fill_table()
        table.focus()

    # -- attributes down ---------------------------------------------------------------

    def watch_reports(self) -> None:
        if self.is_mounted:
            self._fill_table()

    def watch_connection(self, state: ConnectionState) -> None:
        self.query_one(ConnectionIndicator).state = state

    def watch_selected(self, old: str | None, new: str | None) -> None:
        # Each report keeps its own draft, so an answer never lands in the wrong thread.
        composer = self.query_one("#composer", TextArea)
        if old is not None:
            self._drafts[old] = composer.text
        composer.load_text(self._drafts.pop(new, "") if new is not None else "")
        self._show_selected()

    @property
    def current(self) -> Report | None:
        """The report on display, if any."""
        return next((r for r in self.reports if r.root_event_id == self.selected), None)

    def reply_sent(self, report: Report, text: str) -> None:
        """The app confirms `text` was sent: remove it from that report's draft."""
        if self.selected == report.root_event_id:
            composer = self.query_one("#composer", TextArea)
            if composer.text.replace("\r\n", "\n").strip("\n") == text:
                composer.clear()
        elif self._drafts.get(report.root_event_id, "").strip("\n") == text:
            del self._drafts[report.root_event_id]

    # -- rendering ----------------------------------------------------------------------

    def _fill_table(self) -> None:
        """Rebuild the rows, keeping the cursor on the selected report."""
        table: DataTable[Text] = self.query_one("#reports", DataTable)
        now = time.time()
        table.clear()
        for report in self.reports:
            table.add_row(
                Text(UNREAD_MARK if report.unread else "", style="bold"),
                safe_line(report.report),
                safe_line(report.pseudonym),
                safe_line(self.i18n.status(report.status)),
                Text(format_age(now - report.opened_ts, self.i18n)),
                key=report.root_event_id,
            )
        self.query_one("#reports-empty").display = not self.reports
        if self.selected is not None and self.current is not None:
            table.move_cursor(row=table.get_row_index(self.selected))
        elif self.reports:
            self.selected = self.reports[0].root_event_id
        else:
            self.selected = None
        self._show_selected()

    def _show_selected(self) -> None:
        report = self.current
        title = report_title(report, self.i18n) if report else Text("")
        self.query_one("#thread-title", Static).update(title)
        self.query_one(ThreadView).report = report

    # -- events -------------------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#reports")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        # Read the cursor now rather than the event: rebuilding the table moves the cursor
        # through other rows first, and those must not count as opened.
        table = event.data_table
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return
        if key is not None and key != self.selected:
            self.selected = key
            self.post_message(self.ReportOpened(key))

    @on(DataTable.RowSelected, "#reports")
    def _chosen(self) -> None:
        if self.selected is not None:
            self.post_message(self.ReportOpened(self.selected))
        self.action_focus_composer()

    # -- actions ------------------------------------------------------------------------

    def action_send(self) -> None:
        """Ask the app to send the composer's text into the report on display."""
        report = self.current
        if report is None:
            self.notify(self.i18n("desk.no_report"), severity="warning", markup=False)
            return
        text = self.query_one("#composer", TextArea).text.replace("\r\n", "\n").strip("\n")
        if not text.strip():
            self.notify(self.i18n("desk.nothing_to_send"), severity="warning", markup=False)
            return
        self.post_message(self.ReplyRequested(report, text))

    def action_next_unread(self) -> None:
        """Move to the next report with unread member messages (wrapping around)."""
        keys = [r.root_event_id for r in self.reports]
        start = keys.index(self.selected) + 1 if self.selected in keys else 0
        for report in self.reports[start:] + self.reports[:start]:
            if report.unread:
                table = self.query_one("#reports", DataTable)
                table.move_cursor(row=table.get_row_index(report.root_event_id))
                table.focus()
                return
        self.notify(self.i18n("desk.no_unread"), markup=False)

    def action_focus_list(self) -> None:
        self.query_one("#reports", DataTable).focus()

    def action_focus_composer(self) -> None:
        self.query_one("#composer", TextArea).focus()
