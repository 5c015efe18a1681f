"""The desk: the list of reports, the selected report's thread, and the answer composer."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import Header, Input, Static, TextArea

from .. import commands
from ..desk_view import DeskFilter, DeskView, SortOrder, next_order
from ..gateway import ConnectionState, Report, ThreadItem
from ..i18n import I18n
from ..media_view import suggested_name
from ..safe_text import safe_line
from ..widgets.key_footer import KeyFooter
from ..widgets.report_table import UNREAD_MARK, ReportTable, format_age
from ..widgets.status import ConnectionIndicator
from ..widgets.thread import ThreadView, report_title, same_text
from .actions import ChoiceScreen, FilterScreen, ForwardScreen, PathScreen

__all__ = ["UNREAD_MARK", "DeskScreen", "format_age"]

AGE_REFRESH_SECONDS = 30.0
Clock = Callable[[], float]
PHOTO_ACTIONS = ("view_image", "save_image")
"""Shown in the footer only while the report on display has a photo."""
PHOTO_BINDINGS = tuple(f"desk('{action}')" for action in PHOTO_ACTIONS)
"""The photo keys' actions as `ReportTable` binds them."""


def photos(report: Report) -> list[ThreadItem]:
    """The report's photos that can be fetched, oldest first."""
    return [i for i in report.items if i.media == "image" and i.file is not None]


class SearchInput(Input):
    """The desk's search field: Enter keeps the search, Escape clears it; both go back to
    the list."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "screen.clear_search", "Zoeken wissen", id="desk.clear_search"),
    ]

    def __init__(self, i18n: I18n, *, placeholder: str, id: str) -> None:
        super().__init__(placeholder=placeholder, id=id, compact=True)
        i18n.localise_bindings(self)


class DeskScreen(Screen[None]):
    """Lists `reports` and shows the selected one; asks the app to send answers and commands
    (messages up). Report actions live on the list (`ReportTable`), so their letter keys
    never reach the composer."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "send", "Versturen", id="desk.send"),
        Binding("ctrl+n", "next_unread", "Volgende nieuwe", id="desk.next_unread"),
        Binding("ctrl+l", "focus_list", "Lijst", id="desk.focus_list"),
        Binding("ctrl+o", "focus_composer", "Antwoorden", id="desk.focus_composer"),
    ]

    # `var`, not `reactive`: a change repaints only the widgets that show it (they refresh
    # themselves), never the whole screen, which would cost every key press in the list.
    reports: var[tuple[Report, ...]] = var(())
    connection: var[ConnectionState] = var(ConnectionState)
    selected: var[str | None] = var(None)
    """Root event id of the report on display."""
    desk_filter: var[DeskFilter] = var(DeskFilter)
    order: var[SortOrder] = var("activity")
    wijk_choices: tuple[str, ...] = ()
    """The wijken the filter offers (set by the app)."""
    media_folder: Path = Path("~/Downloads")
    """Where a photo is suggested to be saved (set by the app)."""

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

    class ImageRequested(Message):
        """Show (save_to None) or save the photo `item` of `report`."""

        def __init__(
            self, report: Report, item: ThreadItem, number: int, save_to: Path | None
        ) -> None:
            super().__init__()
            self.report = report
            self.item = item
            self.number = number
            """1 for the report's first photo, 2 for the second …"""
            self.save_to = save_to

    class CommandRequested(Message):
        """The coordinator chose an action: send the desk `command` into `report`'s thread."""

        def __init__(self, report: Report, command: str) -> None:
            super().__init__()
            self.report = report
            self.command = command

    def __init__(self, i18n: I18n, *, clock: Clock = time.time) -> None:
        super().__init__()
        self.i18n = i18n
        self.clock = clock
        self._drafts: dict[str, str] = {}
        self._composer_text = ""
        """What the composer holds now (kept here too: the app reads it while closing)."""
        self._view = DeskView()
        self._title: Text | None = None
        self._shown: list[Report] = []
        self._by_key: dict[str, Report] = {}
        self._photo_keys = False
        """Whether the footer offers the photo keys (the report on display has a photo)."""
        i18n.localise_bindings(self)

    def compose(self) -> ComposeResult:
        t = self.i18n
        yield Header()
        with Vertical(id="desk"):
            with Vertical(id="report-list"):
                yield Static("", id="filter-line", markup=False)
                yield SearchInput(t, placeholder=t("desk.search_placeholder"), id="search")
                yield ReportTable(t, clock=self.clock, id="reports")
                yield Static(t("desk.empty"), id="reports-empty", markup=False)
            with Vertical(id="conversation"):
                yield Static("", id="thread-title", markup=False)
                yield ThreadView(t, clock=self.clock, id="thread")
                yield TextArea(
                    id="composer",
                    soft_wrap=True,
                    show_line_numbers=False,
                    placeholder=t("desk.composer_placeholder"),
                )
        yield ConnectionIndicator(t, id="connection")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.title = self.i18n("app.title")
        self.sub_title = self.i18n("desk.title")
        self.query_one("#search", Input).display = False
        self.set_interval(AGE_REFRESH_SECONDS, self._refresh_ages)
        self._fill_table()
        self.query_one(ReportTable).focus()

    # -- attributes down ---------------------------------------------------------------

    def watch_reports(self) -> None:
        self._by_key = {r.root_event_id: r for r in self.reports}
        self._view.forget_missing(self.reports)
        if self.is_mounted:
            self._fill_table()

    def watch_desk_filter(self) -> None:
        if self.is_mounted:
            self._fill_table()

    def watch_order(self) -> None:
        if self.is_mounted:
            self._fill_table()

    def watch_connection(self, state: ConnectionState) -> None:
        for indicator in self.query(ConnectionIndicator):
            indicator.state = state

    def watch_selected(self, old: str | None, new: str | None) -> None:
        # Each report keeps its own draft, so an answer never lands in the wrong thread.
        composer = self.query_one("#composer", TextArea)
        if old is not None and composer.text:
            self._drafts[old] = composer.text
        draft = self._drafts.pop(new, "") if new is not None else ""
        history = composer.history
        # An untouched empty composer stays as it is: no repaint on every move through the list.
        if draft or composer.text or history.undo_stack or history.redo_stack:
            composer.load_text(draft)
            composer.move_cursor(composer.document.end)  # go on where the draft ends
        self._show_selected()

    @property
    def current(self) -> Report | None:
        """The report on display, if any."""
        return self._by_key.get(self.selected) if self.selected is not None else None

    @property
    def shown(self) -> list[Report]:
        """The reports in the list as filtered and sorted now."""
        return list(self._shown)

    def drafts(self) -> dict[str, str]:
        """Every unsent answer, the one in the composer included (closed reports' dropped)."""
        drafts = dict(self._drafts)
        if self.selected is not None:
            try:
                drafts[self.selected] = self.query_one("#composer", TextArea).text
            except NoMatches:  # the app is closing: the last text the composer reported
                drafts[self.selected] = self._composer_text
        closed = {r.root_event_id for r in self.reports if r.status == "afgehandeld"}
        return {k: v for k, v in drafts.items() if v.strip() and k not in closed}

    def forget_everything(self) -> None:
        """After a logout: no report, draft or search text stays on screen or in memory."""
        self._drafts.clear()
        self.reports = ()
        self.selected = None
        self._drafts.clear()  # watch_selected kept what the composer held
        with contextlib.suppress(NoMatches):
            self.query_one("#search", Input).value = ""
            self.query_one("#composer", TextArea).clear()

    def restore_drafts(self, drafts: dict[str, str]) -> None:
        """Unsent answers from an earlier run; the one on display goes into the composer."""
        try:
            composer: TextArea | None = self.query_one("#composer", TextArea)
        except NoMatches:  # not composed yet: selecting a report loads its draft
            composer = None
        for key, text in drafts.items():
            if composer is not None and key == self.selected:
                if not composer.text.strip():
                    composer.load_text(text)
                    composer.move_cursor(composer.document.end)
            else:
                self._drafts.setdefault(key, text)

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
        """Show the filtered, sorted reports (only changed rows are touched)."""
        try:
            table = self.query_one(ReportTable)
        except NoMatches:
            return  # news that arrives while the app closes

        self._shown = self._view.apply(self.reports, self.desk_filter, self.order)
        table.show(self._shown)
        self.query_one("#reports-empty").display = not self._shown
        self.query_one("#filter-line", Static).update(self._filter_line())
        row = table.row_of(self.selected) if self.selected is not None else None
        if row is not None:
            if table.cursor_row != row:
                table.move_cursor(row=row)
        elif self._shown:
            self.selected = self._shown[0].root_event_id
            table.move_cursor(row=0)
        elif self.selected is not None and self.current is None:
            self.selected = None
        self._show_selected()

    def _filter_line(self) -> Text:
        t, f = self.i18n, self.desk_filter
        parts: list[Text] = []
        if f.status:
            parts.append(Text(t.status(f.status) if f.status != "open" else t("filter.open")))
        if f.wijk:
            parts.append(safe_line(f.wijk))
        if f.category:
            parts.append(Text(t.category(f.category)))
        if f.unread_only:
            parts.append(Text(t("filter.unread_only")))
        if f.search.strip():
            parts.append(safe_line(f"“{f.search.strip()}”"))
        line = Text(t("filter.count", shown=len(self._shown), total=len(self.reports)) + " · ")
        line.append(t("filter.label") + ": ")
        line.append_text(Text(" · ").join(parts) if parts else Text(t("filter.all")))
        line.append(f" · {t('sort.label')}: {t(f'sort.{self.order}')}")
        return line

    def _show_selected(self) -> None:
        report = self.current
        title = report_title(report, self.i18n) if report else Text("")
        if self._title is None or not same_text(title, self._title):
            self.query_one("#thread-title", Static).update(title)
            self._title = title
        self.query_one(ThreadView).report = report
        has_photo = report is not None and bool(photos(report))
        if has_photo != self._photo_keys:
            # Only then: a new set of bindings rebuilds the footer.
            self._photo_keys = has_photo
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The photo keys are in the footer only for a report with a photo; the keys to go to
        the list or the answer box only where they move the focus."""
        if action in PHOTO_ACTIONS:
            return self._photo_keys
        if action == "focus_list":
            return not isinstance(self.focused, ReportTable)
        if action == "focus_composer":
            return not (isinstance(self.focused, TextArea) and self.focused.id == "composer")
        return True

    def _refresh_ages(self) -> None:
        self.query_one(ReportTable).refresh_ages()

    # -- events -------------------------------------------------------------------------

    def on_key(self, event: events.Key) -> None:
        """A photo key on a report without a photo: Textual skips a binding `check_action`
        refuses, so say here why nothing happens (the key is not in the footer then)."""
        if self._photo_keys or not isinstance(self.focused, ReportTable):
            return
        # The bindings from the list up, as remapped in the settings (Textual's own chain).
        bound = (
            b for _, keys in self._binding_chain for b in keys.key_to_bindings.get(event.key, ())
        )
        if any(binding.action in PHOTO_BINDINGS for binding in bound):
            self._with_photo(lambda *_: None)

    @on(ReportTable.RowHighlighted, "#reports")
    def _highlighted(self, event: ReportTable.RowHighlighted) -> None:
        # Read the cursor now rather than the event: a new list can move the cursor after
        # the message was sent, and the rows it passed must not count as opened.
        key = event.row_list.cursor_key
        if key is not None and key != self.selected:
            self.selected = key
            self.post_message(self.ReportOpened(key))

    @on(ReportTable.RowSelected, "#reports")
    def _chosen(self) -> None:
        if self.selected is not None:
            self.post_message(self.ReportOpened(self.selected))
        self.action_focus_composer()

    @on(TextArea.Changed, "#composer")
    def _composer_changed(self, event: TextArea.Changed) -> None:
        self._composer_text = event.text_area.text

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.desk_filter = DeskFilter(
            status=self.desk_filter.status,
            wijk=self.desk_filter.wijk,
            category=self.desk_filter.category,
            unread_only=self.desk_filter.unread_only,
            search=event.value,
        )

    @on(Input.Submitted, "#search")
    def _search_done(self) -> None:
        self.action_focus_list()

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
        keys = [r.root_event_id for r in self._shown]
        start = keys.index(self.selected) + 1 if self.selected in keys else 0
        for report in self._shown[start:] + self._shown[:start]:
            if report.unread:
                table = self.query_one(ReportTable)
                table.move_cursor(row=table.get_row_index(report.root_event_id))
                table.focus()
                return
        self.notify(self.i18n("desk.no_unread"), markup=False)

    def action_focus_list(self) -> None:
        search = self.query_one("#search", Input)
        if not search.value:
            search.display = False
        self.query_one(ReportTable).focus()

    def action_focus_composer(self) -> None:
        self.query_one("#composer", TextArea).focus()

    def _report_or_warn(self) -> Report | None:
        report = self.current
        if report is None:
            self.notify(self.i18n("desk.no_report"), severity="warning", markup=False)
        return report

    def _command(self, report: Report, command: str) -> None:
        self.post_message(self.CommandRequested(report, command))

    def action_claim(self) -> None:
        """Claim the report on display: `!neem`."""
        report = self._report_or_warn()
        if report is not None:
            self._command(report, commands.claim(report))

    def action_status(self) -> None:
        """Choose a new status for the report on display."""
        report = self._report_or_warn()
        if report is None:
            return
        t = self.i18n
        options = [(s, t.status(s)) for s in commands.STATUSES]

        def chosen(status: str | None) -> None:
            if status is not None and status != report.status:
                self._command(report, commands.set_status(report, status))

        title = t("action.status.title", report=report.report)
        self.app.push_screen(ChoiceScreen(t, title, options, current=report.status), chosen)

    def action_category(self) -> None:
        """Choose a category for the report on display."""
        report = self._report_or_warn()
        if report is None:
            return
        t = self.i18n
        options = [(c, t.category(c)) for c in commands.REPORT_CATEGORIES]

        def chosen(category: str | None) -> None:
            if category is not None and category != report.category:
                self._command(report, commands.set_category(report, category))

        title = t("action.category.title", report=report.report)
        self.app.push_screen(ChoiceScreen(t, title, options, current=report.category), chosen)

    def action_forward(self) -> None:
        """Forward the report on display to the police, with an edited text and a note."""
        report = self._report_or_warn()
        if report is None:
            return

        def chosen(result: tuple[str, str] | None) -> None:
            if result is not None:
                self._command(report, commands.forward(report, *result))

        screen = ForwardScreen(self.i18n, report, commands.forward_prefill(report))
        self.app.push_screen(screen, chosen)

    def action_block(self) -> None:
        """Block (or unblock) the member behind the report on display."""
        report = self._report_or_warn()
        if report is None:
            return
        t = self.i18n
        options = [("block", t("action.block.block")), ("unblock", t("action.block.unblock"))]

        def chosen(choice: str | None) -> None:
            if choice == "block":
                self._command(report, commands.block(report))
            elif choice == "unblock":
                self._command(report, commands.unblock(report))

        title = t("action.block.title", report=report.report)
        explain = t("action.block.explain")
        current = "unblock" if report.blocked else None
        screen = ChoiceScreen(t, title, options, current=current, explain=explain)
        self.app.push_screen(screen, chosen)

    def _with_photo(self, then: Callable[[Report, ThreadItem, int], None]) -> None:
        """Pick the report's photo (asking which one when there are several)."""
        report = self._report_or_warn()
        if report is None:
            return
        found = photos(report)
        t = self.i18n
        if not found:
            self.notify(t("image.none"), severity="warning", markup=False)
            return
        if len(found) == 1:
            then(report, found[0], 1)
            return
        options = [
            (
                str(n),
                t(
                    "image.choice",
                    number=n,
                    time=time.strftime("%d-%m %H:%M", time.localtime(p.ts)),
                ),
            )
            for n, p in enumerate(found, start=1)
        ]

        def chosen(value: str | None) -> None:
            if value is not None:
                then(report, found[int(value) - 1], int(value))

        title = t("image.which", report=report.report)
        self.app.push_screen(ChoiceScreen(t, title, options), chosen)

    def action_view_image(self) -> None:
        """Show the report's photo in the terminal (half blocks), if it can."""

        def show(report: Report, item: ThreadItem, number: int) -> None:
            self.post_message(self.ImageRequested(report, item, number, None))

        self._with_photo(show)

    def action_save_image(self) -> None:
        """Save the report's photo to a file (0600); asks where, suggests a folder."""

        def ask(report: Report, item: ThreadItem, number: int) -> None:
            assert item.file is not None
            name = suggested_name(report.report, number, item.file.mimetype)
            t = self.i18n

            def chosen(path: Path | None) -> None:
                if path is not None:
                    self.post_message(self.ImageRequested(report, item, number, path))

            screen = PathScreen(
                t,
                t("image.save_title", report=report.report),
                self.media_folder / name,
                t("image.save_explain"),
            )
            self.app.push_screen(screen, chosen)

        self._with_photo(ask)

    def action_search(self) -> None:
        """Show the search field and type in it; Enter goes back to the list."""
        search = self.query_one("#search", Input)
        search.display = True
        search.focus()

    def action_clear_search(self) -> None:
        """Empty the search field and go back to the list."""
        search = self.query_one("#search", Input)
        search.value = ""
        self.action_focus_list()

    def action_filter(self) -> None:
        """Choose status, wijk and category to show."""
        wijken = self.wijk_choices or tuple(sorted({r.wijk for r in self.reports if r.wijk}))

        def chosen(result: DeskFilter | None) -> None:
            if result is not None:
                self.desk_filter = result

        self.app.push_screen(FilterScreen(self.i18n, self.desk_filter, wijken), chosen)

    def action_sort(self) -> None:
        """Cycle the sort order: activity, opened, number, status, urgent first."""
        self.order = next_order(self.order)
        self.notify(
            self.i18n("sort.now", order=self.i18n(f"sort.{self.order}")), markup=False, timeout=2
        )
