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


def key_label(binding: Binding, keymap: dict[str, str]) -> str:
    """The keys of a binding after remapping, e.g. 'ctrl+s' or 'f1, ?'."""
    keys = keymap.get(binding.id or "", binding.key)
    return ", ".join(_pretty(k.strip()) for k in keys.split(","))


def _pretty(key: str) -> str:
    names = {"question_mark": "?", "slash": "/", "escape": "Esc", "enter": "Enter"}
    if key in names:
        return names[key]
    parts = key.split("+")
    if len(parts) == 1:
        return key.upper() if key.startswith("f") and key[1:].isdigit() else key
    return "+".join([*(p.capitalize() for p in parts[:-1]), _pretty(parts[-1]).upper()])


class HelpScreen(ModalScreen[None]):
    """Lists `sections`: (title, bindings) pairs; any of Escape, F1 or q closes it."""

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
        with Vertical(classes="dialog-box", id="help-box"):
            yield Static(self.i18n("help.title"), classes="dialog-title", markup=False)
            with VerticalScroll(id="help-keys"):
                for title, bindings in self.sections:
                    lines = Text(title, style="bold underline")
                    for binding in bindings:
                        key = key_label(binding, self.keymap)
                        lines.append(f"\n{key:>12}  ")
                        lines.append(self.i18n(f"binding.{binding.id}"))
                        lines.append(f"  {binding.id}", style="dim")
                    yield Static(lines, classes="help-section", markup=False)
            yield Static(self.i18n("help.remap"), classes="dialog-explain", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
