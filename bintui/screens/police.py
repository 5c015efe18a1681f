"""The police & gemeente room: bulletins, our forwards and the police's replies."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static
from textual.widgets.data_table import CellDoesNotExist

from ..gateway import PoliceItem
from ..i18n import I18n
from ..safe_text import safe_line, safe_text
from ..widgets.key_footer import KeyFooter
from ..widgets.thread import format_time


class PoliceScreen(Screen[None]):
    """Lists `items` (set by the app); asks the app to publish a bulletin (messages up)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "publish", "Publiceren in de wijk", id="police.publish"),
        Binding("escape", "app.show_desk", "Terug", id="screen.back"),
    ]

    items: reactive[tuple[PoliceItem, ...]] = reactive(())
    selected: reactive[str | None] = reactive(None)

    class PublishRequested(Message):
        """Open the broadcast composer with this bulletin."""

        def __init__(self, item: PoliceItem) -> None:
            super().__init__()
            self.item = item

    def __init__(self, i18n: I18n, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.i18n = i18n
        self.clock = clock
        i18n.localise_bindings(self)

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="police"):
            yield DataTable[Text](id="police-items", cursor_type="row", zebra_stripes=True)
            yield Static(self.i18n("police.empty"), id="police-empty", markup=False)
            with VerticalScroll(id="police-detail"):
                yield Static("", id="police-detail-title", markup=False)
                yield Static("", id="police-detail-body", markup=False)
                yield Static("", id="police-detail-note", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.title = self.i18n("app.title")
        self.sub_title = self.i18n("police.title")
        table = self.query_one("#police-items", DataTable)
        for key in ("kind", "label", "wijk", "time", "text"):
            table.add_column(self.i18n(f"police.column.{key}"), key=key)
        self._fill()
        table.focus()

    def watch_items(self) -> None:
        if self.is_mounted:
            self._fill()

    def watch_selected(self) -> None:
        if self.is_mounted:
            self._show_selected()

    @property
    def current(self) -> PoliceItem | None:
        """The item on display."""
        return next((i for i in self.items if i.event_id == self.selected), None)

    def _fill(self) -> None:
        table: DataTable[Text] = self.query_one("#police-items", DataTable)
        table.clear()
        now = self.clock()
        for item in self.items:
            first_line = item.text.split("\n", 1)[0]
            table.add_row(
                Text(self.i18n(f"police.kind.{item.kind}")),
                safe_line(item.label, style="bold"),
                safe_line(item.wijk),
                Text(format_time(item.ts, now)),
                safe_line(first_line[:40] + ("…" if len(first_line) > 40 else "")),
                key=item.event_id,
            )
        self.query_one("#police-empty").display = not self.items
        if self.current is not None:
            table.move_cursor(row=table.get_row_index(self.selected or ""))
        elif self.items:
            self.selected = self.items[0].event_id
        else:
            self.selected = None
        self._show_selected()

    def _show_selected(self) -> None:
        item = self.current
        t = self.i18n
        title, body, note = Text(""), Text(""), Text("")
        if item is not None:
            title = Text(t(f"police.kind.{item.kind}") + " · ", style="bold")
            title.append_text(safe_line(item.label, style="bold"))
            title.append(" · ")
            title.append_text(safe_line(item.wijk))
            if item.kind == "bulletin":
                title.append(" · " + t("police.publish_hint"), style="dim")
            body = safe_text(item.text)
            if item.note:
                note = Text(t("police.note") + ": ", style="italic")
                note.append_text(safe_text(item.note))
        self.query_one("#police-detail-title", Static).update(title)
        self.query_one("#police-detail-body", Static).update(body)
        self.query_one("#police-detail-note", Static).update(note)

    @on(DataTable.RowHighlighted, "#police-items")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        table = event.data_table
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return
        self.selected = key

    @on(DataTable.RowSelected, "#police-items")
    def _chosen(self) -> None:
        self.action_publish()

    def action_publish(self) -> None:
        """Open the composer with the bulletin on display."""
        item = self.current
        if item is None or item.kind != "bulletin":
            self.notify(self.i18n("police.not_a_bulletin"), severity="warning", markup=False)
            return
        self.post_message(self.PublishRequested(item))
