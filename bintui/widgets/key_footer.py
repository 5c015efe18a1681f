"""The footer of every bintui screen: each key that works here, wrapped over up to two lines.

Textual's `Footer` is one line that scrolls sideways, so at 80 or 100 columns most keys were
cut off. This one keeps Textual's `FooterKey`s (a click presses the key) but lays them out in
rows as wide as the terminal; an action reachable by two keys (F2 and Escape both go back to
the desk) is shown once. When the keys do not fit, the least needed app keys are left out
(`LEAVE_OUT_FIRST`); the help screen (F1) lists every key.

It shows only on the screen on top: while a dialog is open, the screen below does not offer
its keys (the dialog has its own footer).
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import HorizontalGroup
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

MAX_ROWS = 2
LEAVE_OUT_FIRST = ("app.reconnect", "app.quit", "app.logout", "app.palette", "app.overview")
"""Binding ids left out of a footer that does not fit, in this order (F1 help lists them)."""


class FooterItem(NamedTuple):
    key: str
    display: str
    description: str
    action: str
    enabled: bool
    tooltip: str
    binding_id: str | None

    @property
    def width(self) -> int:
        """Columns in the compact style: key, a space, the description, a space after."""
        return len(self.display) + 1 + len(self.description) + 1


def key_display(key: str) -> str:
    """A short key name for the footer: 'F1', '^s', 'esc', '/'."""
    names = {"escape": "esc", "slash": "/", "question_mark": "?", "enter": "enter"}
    if key in names:
        return names[key]
    if key.startswith("f") and key[1:].isdigit():
        return key.upper()
    if key.startswith("ctrl+") and len(key) == 6:
        return "^" + key[-1]
    return key


def fit(items: list[FooterItem], width: int, rows: int = MAX_ROWS) -> list[list[FooterItem]]:
    """The items packed into rows of `width` columns, leaving out `LEAVE_OUT_FIRST` ones (in
    that order) until they fit in `rows`; what still does not fit is cut off."""
    usable = max(width - 1, 1)  # one column of padding on the left
    kept = list(items)

    def pack(candidates: list[FooterItem]) -> list[list[FooterItem]]:
        packed: list[list[FooterItem]] = [[]]
        used = 0
        for item in candidates:
            if packed[-1] and used + item.width > usable:
                packed.append([])
                used = 0
            packed[-1].append(item)
            used += item.width
        return packed

    packed = pack(kept)
    for binding_id in LEAVE_OUT_FIRST:
        if len(packed) <= rows:
            break
        kept = [i for i in kept if i.binding_id != binding_id]
        packed = pack(kept)
    return packed[:rows]


class KeyFooter(Footer):
    """A footer that wraps instead of scrolling (see the module)."""

    DEFAULT_CSS = """
    KeyFooter {
        height: auto;
        max-height: 2;
        layout: vertical;
    }
    KeyFooter > HorizontalGroup.key-row {
        height: 1;
        padding-left: 1;
    }
    """

    TEXTUAL_LABELS: ClassVar[dict[str, str]] = {}
    """Labels of Textual's own keys (no binding id) in the app's language, set by the app:
    e.g. Escape in an open Select list, 'Dismiss menu'."""

    def __init__(self) -> None:
        super().__init__(compact=True)
        self._width = 0

    def on_mount(self) -> None:
        # (Footer.on_mount, called too, follows the screen's bindings.)
        self.app.screen_change_signal.subscribe(self, self._screen_changed)

    def on_unmount(self) -> None:
        self.app.screen_change_signal.unsubscribe(self)

    def _screen_changed(self, screen: Screen[object]) -> None:
        self.visible = screen is self.screen

    def on_resize(self) -> None:
        if self.app.size.width != self._width and self._bindings_ready:
            self.call_after_refresh(self.recompose)

    def items(self) -> list[FooterItem]:
        """What the footer offers now, in the order of Textual's binding chain (the focused
        widget's keys first, the app's last), each action once."""
        found: list[FooterItem] = []
        seen: set[tuple[int, str, tuple[object, ...]]] = set()
        palette: FooterItem | None = None
        app = self.app
        for namespace, binding, enabled, tooltip in self.screen.active_bindings.values():
            item = self._item(binding, enabled, tooltip)
            if binding.action in {"command_palette", "app.command_palette"}:
                palette = item
                continue
            if not binding.show:
                continue
            target, name, parameters = app._parse_action(binding.action, namespace)
            action = (id(target), name, parameters)
            if action in seen:
                continue
            seen.add(action)
            found.append(item)
        if palette is not None and self.show_command_palette:
            found.append(palette)
        return found

    def _item(self, binding: Binding, enabled: bool, tooltip: str) -> FooterItem:
        return FooterItem(
            binding.key,
            binding.key_display or key_display(binding.key),
            binding.description
            if binding.id
            else self.TEXTUAL_LABELS.get(binding.description, binding.description),
            binding.action,
            enabled,
            tooltip or binding.tooltip,
            binding.id,
        )

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        self._width = self.app.size.width
        for row in fit(self.items(), self._width):
            with HorizontalGroup(classes="key-row"):
                for item in row:
                    yield FooterKey(
                        item.key,
                        item.display,
                        item.description,
                        item.action,
                        disabled=not item.enabled,
                        tooltip=item.tooltip,
                    ).data_bind(compact=Footer.compact)


def footer_keys(node: DOMNode) -> dict[str, str]:
    """The keys in view in the footer of `node`'s screen, with their labels (for tests)."""
    screen = node if isinstance(node, Screen) else node.screen
    return {key.key: key.description for key in screen.query(FooterKey)}
