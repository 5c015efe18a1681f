"""The help screen: every key of every screen, as the keymap has it now."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..i18n import I18n
from ..widgets.key_footer import KeyFooter


def key_label(binding: Binding, keymap: dict[str, str]) -> str:
    """The keys of a binding after remapping, e.g. 'Ctrl+S' or 'F1, ?'."""
    keys = keymap.get(binding.id or "", binding.key)
    return ", ".join(key_label_of(k.strip()) for k in keys.split(","))


def key_label_of(key: str) -> str:
    """One key as people write it: 'ctrl+s' → 'Ctrl+S', 'f1' → 'F1', 'slash' → '/'."""
    names = {"question_mark": "?", "slash": "/", "escape": "Esc", "enter": "Enter"}
    if key in names:
        return names[key]
    parts = key.split("+")
    if len(parts) == 1:
        return key.upper() if key.startswith("f") and key[1:].isdigit() else key
    return "+".join([*(p.capitalize() for p in parts[:-1]), key_label_of(parts[-1]).upper()])


class HelpScreen(ModalScreen[None]):
    """Lists `sections`: (title, bindings) pairs, each key with what it does (the names for
    `[keys]` are in the guide); any of Escape, F1 or q closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "close", "Sluiten", id="help.close"),
    ]

    def __init__(
        self,
        i18n: I18n,
        sections: Iterable[tuple[str, Iterable[Binding]]],
        keymap: dict[str, str],
    ) -> None:
        super().__init__(classes="dialog")
        self.i18n = i18n
        self.sections = [(title, list(bindings)) for title, bindings in sections]
        self.keymap = keymap
        i18n.localise_bindings(self)

    def compose(self) -> ComposeResult:
        width = max(
            (len(key_label(b, self.keymap)) for _, bindings in self.sections for b in bindings),
            default=6,
        )
        with Vertical(classes="dialog-box", id="help-box"):
            yield Static(self.i18n("help.title"), classes="dialog-title", markup=False)
            yield Static(self.i18n("help.more"), classes="dialog-explain", markup=False)
            with VerticalScroll(id="help-keys"):
                for title, bindings in self.sections:
                    lines = Text(title, style="bold underline")
                    for binding in bindings:
                        lines.append(f"\n{key_label(binding, self.keymap):>{width}}  ", "bold")
                        lines.append(self.i18n(f"binding.{binding.id}"))
                    yield Static(lines, classes="help-section", markup=False)
                yield Static(self.i18n("help.remap"), classes="dialog-explain", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#help-keys", VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss(None)
