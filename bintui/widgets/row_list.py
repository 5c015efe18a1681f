"""A keyboard list of one-line rows in fixed-width columns that renders only what is on screen.

Textual's `DataTable` keeps every row as cells and re-renders each visible row whenever the
cursor moves; with ten thousand reports that costs both at start-up (a row object per report)
and on every key press. `RowList` is a Line API widget (`ScrollView.render_line`): a subclass
says how many rows there are and what the cells of row *i* are, and only the rows in view are
ever turned into cells and segments (kept in a small cache). A cursor move repaints two lines.

It looks and behaves like a `DataTable` with a row cursor and zebra stripes: the same CSS
component styles, keys (↑ ↓, page up/down, ctrl+home/end; ← → home end scroll sideways),
a click moves the cursor and a click on the cursor's row selects it, the hover highlight.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

HEADER = -1
"""The row index of the header line."""


@dataclass(frozen=True, slots=True)
class Column:
    """A column: its key, its header label and its width in cells (without padding)."""

    key: str
    label: str
    width: int


_SPACE = Segment(" ")


def cell_segments(console: Console, cell: Text, width: int) -> list[Segment]:
    """One cell as segments exactly `width` + 2 cells wide: a space either side, the text
    cut or padded with unstyled spaces (as `DataTable` pads)."""
    if cell.spans:
        segments = list(cell.render(console, end=""))
    else:  # `Text.render` leaves out the text's own style when it has no spans
        style = console.get_style(cell.style) if cell.style else None
        segments = [Segment(cell.plain, style)]
    return [_SPACE, *Segment.adjust_line_length(segments, width), _SPACE]


class RowList(ScrollView, can_focus=True):
    """Rows `0 … row_count - 1`, each `row_cells(i)`; a header line that stays on top."""

    DEFAULT_CSS = """
    RowList {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .row-list--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .row-list--header {
                background-tint: $foreground 5%;
            }
        }
        &:dark > .row-list--even-row {
            background: $surface-darken-1 40%;
        }
        & > .row-list--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .row-list--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .row-list--odd-row {
        }
        & > .row-list--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .row-list--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .row-list--hover {
            background: $block-hover-background;
        }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "row-list--header",
        "row-list--odd-row",
        "row-list--even-row",
        "row-list--cursor",
        "row-list--hover",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("right", "scroll_right", "Scroll right", show=False),
        Binding("left", "scroll_left", "Scroll left", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("ctrl+home", "first_row", "Top", show=False),
        Binding("ctrl+end", "last_row", "Bottom", show=False),
        Binding("home", "scroll_home", "Home", show=False),
        Binding("end", "scroll_end", "End", show=False),
    ]

    cursor_row: reactive[int] = reactive(0, repaint=False, always_update=True)
    """The row under the cursor (0 when there are no rows)."""

    class RowHighlighted(Message):
        """The cursor moved to row `cursor_row`, whose key is `row_key`."""

        def __init__(self, row_list: RowList, cursor_row: int, row_key: str) -> None:
            super().__init__()
            self.row_list = row_list
            self.cursor_row = cursor_row
            self.row_key = row_key

        @property
        def control(self) -> RowList:
            return self.row_list

    class RowSelected(Message):
        """Enter on, or a click on, the cursor's row."""

        def __init__(self, row_list: RowList, cursor_row: int, row_key: str) -> None:
            super().__init__()
            self.row_list = row_list
            self.cursor_row = cursor_row
            self.row_key = row_key

        @property
        def control(self) -> RowList:
            return self.row_list

    def __init__(self, columns: Sequence[Column], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns = tuple(columns)
        self._table_width = sum(column.width + 2 for column in self.columns)
        self._segments: LRUCache[str, tuple[object, list[Segment]]] = LRUCache(1024)
        # Finished lines by (key, zebra/hover/cursor, width, scroll x): scrolling by a line
        # repaints every visible row, and most of them were painted just before.
        self._lines: LRUCache[tuple[str, int, int, int], tuple[object, Strip]] = LRUCache(256)
        self._styles: dict[str, Style] = {}
        self._pseudo_state: object = None
        self._hover_row: int | None = None

    # -- what a subclass provides ---------------------------------------------------------

    @property
    def row_count(self) -> int:
        """How many rows there are."""
        raise NotImplementedError

    def row_key(self, index: int) -> str:
        """The key of row `index` (0 ≤ index < row_count)."""
        raise NotImplementedError

    def row_cells(self, index: int) -> tuple[Text, ...]:
        """The cells of row `index`, one per column."""
        raise NotImplementedError

    def row_version(self, index: int) -> object:
        """Something that changes (by identity) whenever row `index`'s cells change: its
        rendering is cached until then."""
        raise NotImplementedError

    # -- for the subclass and the parent -------------------------------------------------

    def get_row_at(self, index: int) -> list[Text]:
        """The cells of row `index` (as `DataTable.get_row_at`)."""
        if not 0 <= index < self.row_count:
            raise IndexError(index)
        return list(self.row_cells(index))

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor, None without rows."""
        return self.row_key(self.cursor_row) if self.row_count else None

    def move_cursor(self, *, row: int) -> None:
        """Put the cursor on row `row` (and scroll it into view)."""
        self.cursor_row = row

    def rows_changed(self) -> None:
        """The subclass changed the rows: new size, cursor kept within them, repaint."""
        self.virtual_size = Size(self._table_width, self.row_count + 1)
        if self.cursor_row >= self.row_count > 0 or (self.row_count == 0 and self.cursor_row):
            self.cursor_row = max(self.row_count - 1, 0)
        self.refresh()

    def forget_rendering(self, keys: Sequence[str] | None = None) -> None:
        """Drop the cached rendering of these rows (all when None), e.g. removed ones."""
        self._lines.clear()
        if keys is None:
            self._segments.clear()
        else:
            for key in keys:
                self._segments.discard(key)

    def cached_keys(self) -> list[str]:
        """The rows whose rendering is cached."""
        return list(self._segments.keys())

    # -- cursor ---------------------------------------------------------------------------

    def validate_cursor_row(self, row: int) -> int:
        return max(0, min(row, self.row_count - 1))

    def watch_cursor_row(self, old: int, new: int) -> None:
        self.refresh_row(old)
        self.refresh_row(new)
        self._scroll_to_cursor()
        if self.row_count:
            self.post_message(self.RowHighlighted(self, new, self.row_key(new)))

    def refresh_row(self, row: int) -> None:
        """Repaint row `row` if it is on screen."""
        top = round(self.scroll_y)
        line = row - top + 1
        if 1 <= line < self.size.height:
            self.refresh_lines(line + top)

    def _scroll_to_cursor(self) -> None:
        visible = self.scrollable_content_region.height - 1
        if visible <= 0:
            return
        top, row = round(self.scroll_y), self.cursor_row
        if row < top:
            self.scroll_to(y=row, animate=False, force=True)
        elif row >= top + visible:
            self.scroll_to(y=row - visible + 1, animate=False, force=True)

    def on_resize(self) -> None:
        self._scroll_to_cursor()

    def _keyboard(self) -> None:
        if self._hover_row is not None:
            self.refresh_row(self._hover_row)
            self._hover_row = None

    def action_cursor_up(self) -> None:
        self._keyboard()
        self.cursor_row -= 1

    def action_cursor_down(self) -> None:
        self._keyboard()
        self.cursor_row += 1

    def _page(self) -> int:
        return max(self.scrollable_content_region.height - 1, 1)

    def action_page_up(self) -> None:
        self._keyboard()
        self.cursor_row -= self._page()

    def action_page_down(self) -> None:
        self._keyboard()
        self.cursor_row += self._page()

    def action_first_row(self) -> None:
        self._keyboard()
        self.cursor_row = 0

    def action_last_row(self) -> None:
        self._keyboard()
        self.cursor_row = self.row_count - 1

    def action_select_cursor(self) -> None:
        self._keyboard()
        if self.row_count:
            row = self.cursor_row
            self.post_message(self.RowSelected(self, row, self.row_key(row)))

    # -- mouse ----------------------------------------------------------------------------

    def _row_at(self, event: events.MouseEvent) -> int | None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return None
        row = offset.y - 1 + round(self.scroll_y)
        return row if row < self.row_count else None

    async def _on_click(self, event: events.Click) -> None:
        row = self._row_at(event)
        if row is None:
            return
        event.stop()
        if row == self.cursor_row:
            self.post_message(self.RowSelected(self, row, self.row_key(row)))
        else:
            self.cursor_row = row

    def on_mouse_move(self, event: events.MouseMove) -> None:
        row = self._row_at(event)
        if row != self._hover_row:
            if self._hover_row is not None:
                self.refresh_row(self._hover_row)
            self._hover_row = row
            if row is not None:
                self.refresh_row(row)

    def on_leave(self) -> None:
        self._keyboard()

    # -- rendering ------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = {}
        self._lines.clear()

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            if name in ("row-list--cursor", "row-list--hover"):
                style = self.get_component_rich_style(name)
            else:
                style = self.get_component_styles(name).rich_style
            self._styles[name] = style
        return style

    def render_lines(self, crop: Region) -> list[Strip]:
        state = self.get_pseudo_class_state()
        if state != self._pseudo_state:  # focus changes the cursor's colours
            self._pseudo_state = state
            self._styles = {}
            self._lines.clear()
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        x = round(self.scroll_x)
        base = self.rich_style
        if y == 0:
            return self._header_strip(width).crop_extend(x, x + width, base).simplify()
        row = y - 1 + round(self.scroll_y)
        if row >= self.row_count:
            return Strip.blank(width, base)
        version = self.row_version(row)
        variant = (row % 2) | (self._hover_row == row) << 1 | (row == self.cursor_row) << 2
        key = (self.row_key(row), variant, width, x)
        cached = self._lines.get(key)
        if cached is None or cached[0] is not version:
            line = self._row_strip(row, width).crop_extend(x, x + width, base).simplify()
            cached = (version, line)
            self._lines.discard(key)
            self._lines.set(key, cached)
        return cached[1]

    def _header_strip(self, width: int) -> Strip:
        style = self._style("row-list--header")
        console = self.app.console
        segments: list[Segment] = []
        for column in self.columns:
            segments += cell_segments(console, Text(column.label), column.width)
        return self._finish(segments, style, style, Style(), width)

    def _row_strip(self, row: int, width: int) -> Strip:
        key, version = self.row_key(row), self.row_version(row)
        cached = self._segments.get(key)
        if cached is None or cached[0] is not version:
            console = self.app.console
            segments: list[Segment] = []
            for column, cell in zip(self.columns, self.row_cells(row), strict=True):
                segments += cell_segments(console, cell, column.width)
            cached = (version, segments)
            self._segments.discard(key)  # LRUCache.set keeps an existing entry
            self._segments.set(key, cached)
        row_style = self._style("row-list--odd-row" if row % 2 else "row-list--even-row")
        highlight = Style()
        if self._hover_row == row:
            highlight += self._style("row-list--hover")
        if row == self.cursor_row:
            highlight += self._style("row-list--cursor")
        # As DataTable: the cursor's text colour wins over the cell's own (CSS priority).
        post = Style.from_color(color=highlight.color)
        return self._finish(cached[1], row_style + highlight, row_style + highlight, post, width)

    def _finish(
        self, segments: list[Segment], pre: Style, extend: Style, post: Style, width: int
    ) -> Strip:
        styled = list(Segment.apply_style(segments, pre, post))
        remaining = width - self._table_width
        if remaining > 0:
            styled.append(Segment(" " * remaining, extend))
        return Strip(styled, max(width, self._table_width))
