"""Small dialogs for report actions: pick one option, forward to the police, filter the list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import CommandPalette
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Select, Static, TextArea
from textual.widgets.option_list import Option

from .. import commands
from ..desk_view import OPEN, DeskFilter
from ..gateway import Report
from ..i18n import I18n
from ..safe_text import safe_line
from ..widgets.key_footer import KeyFooter


class ChoiceList(OptionList):
    """A dialog's options; Enter, shown in the footer, picks the highlighted one.

    Enter belongs to the list itself rather than being a priority binding of the dialog: the
    app runs priority bindings the moment a key arrives, while arrow keys typed just before
    (one read over a slow SSH link) are still on their way to the list, so "↓ ↓ Enter" picked
    the option highlighted before the arrows. Handled by the list, keys keep their order.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Kiezen", id="dialog.choose"),
    ]


class ChoiceScreen(ModalScreen[str | None]):
    """A short list of choices; Enter picks one, Escape cancels (dismisses with None)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Annuleren", id="dialog.cancel"),
    ]

    def __init__(
        self,
        i18n: I18n,
        title: str,
        options: Sequence[tuple[str, str]],
        *,
        current: str | None = None,
        explain: str = "",
    ) -> None:
        super().__init__(classes="dialog")
        self.i18n = i18n
        self.title_text = title
        self.options = list(options)
        self.current = current
        self.explain = explain
        i18n.localise_bindings(self)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            if self.explain:
                yield Static(self.explain, classes="dialog-explain", markup=False)
            choices = ChoiceList(
                *(
                    Option(Text(("● " if v == self.current else "  ") + label), id=v)
                    for v, label in self.options
                ),
                id="choices",
            )
            self.i18n.localise_bindings(choices)
            yield choices
        yield KeyFooter()

    def on_mount(self) -> None:
        choices = self.query_one(OptionList)
        values = [v for v, _ in self.options]
        choices.highlighted = values.index(self.current) if self.current in values else 0
        choices.focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ForwardScreen(ModalScreen[tuple[str, str] | None]):
    """Forward a report to the police: the member's words to edit, and a note."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Doorsturen", id="forward.submit"),
        Binding("escape", "cancel", "Annuleren", id="dialog.cancel"),
    ]

    def __init__(self, i18n: I18n, report: Report, text: str) -> None:
        super().__init__(classes="dialog")
        self.i18n = i18n
        self.report = report
        self.text = text
        i18n.localise_bindings(self)

    def compose(self) -> ComposeResult:
        t = self.i18n
        with Vertical(classes="dialog-box", id="forward-box"):
            title = Text(t("forward.title") + " · ")
            title.append_text(safe_line(self.report.report))
            yield Static(title, classes="dialog-title", markup=False)
            yield Static(t("forward.explain"), classes="dialog-explain", markup=False)
            yield TextArea(self.text, id="forward-text", soft_wrap=True, show_line_numbers=False)
            yield Label(t("forward.note"), markup=False)
            yield Input(placeholder=t("forward.note_placeholder"), id="forward-note")
            yield Static("", id="forward-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(t("forward.submit"), variant="primary", id="forward-submit")
                yield Button(t("dialog.cancel"), id="forward-cancel")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#forward-text", TextArea).focus()

    @on(Button.Pressed, "#forward-submit")
    def action_submit(self) -> None:
        text = self.query_one("#forward-text", TextArea).text.strip()
        if not text:
            self.query_one("#forward-error", Static).update(self.i18n("forward.empty"))
            return
        self.dismiss((text, self.query_one("#forward-note", Input).value.strip()))

    @on(Input.Submitted, "#forward-note")
    def _note_done(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#forward-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class FilterScreen(ModalScreen[DeskFilter | None]):
    """Choose which reports the desk lists: status, wijk, category, only unread."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "apply", "Toepassen", id="filter.apply"),
        Binding("escape", "cancel", "Annuleren", id="dialog.cancel"),
    ]

    def __init__(self, i18n: I18n, current: DeskFilter, wijken: Sequence[str]) -> None:
        super().__init__(classes="dialog")
        self.i18n = i18n
        self.current = current
        self.wijken = list(wijken)
        i18n.localise_bindings(self)

    def compose(self) -> ComposeResult:
        t, f = self.i18n, self.current
        statuses = [(t("filter.open"), OPEN), *((t.status(s), s) for s in commands.STATUSES)]
        categories = [(t.category(c), c) for c in commands.REPORT_CATEGORIES]
        with Vertical(classes="dialog-box", id="filter-box"):
            yield Static(t("filter.title"), classes="dialog-title", markup=False)
            yield Select(
                statuses, value=f.status or Select.NULL, prompt=t("filter.any_status"), id="fs"
            )
            yield Select(
                [(w, w) for w in self.wijken],
                value=f.wijk if f.wijk in self.wijken else Select.NULL,
                prompt=t("filter.any_wijk"),
                id="fw",
            )
            yield Select(
                categories,
                value=f.category or Select.NULL,
                prompt=t("filter.any_category"),
                id="fc",
            )
            yield Checkbox(t("filter.unread_only"), f.unread_only, id="fu")
            with Horizontal(classes="dialog-buttons"):
                yield Button(t("filter.apply"), variant="primary", id="filter-apply")
                yield Button(t("filter.clear"), id="filter-clear")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#fs", Select).focus()

    @staticmethod
    def _value(select: Select[str]) -> str | None:
        value = select.value
        return value if isinstance(value, str) else None

    @on(Button.Pressed, "#filter-apply")
    def action_apply(self) -> None:
        self.dismiss(
            DeskFilter(
                status=self._value(self.query_one("#fs", Select)),
                wijk=self._value(self.query_one("#fw", Select)),
                category=self._value(self.query_one("#fc", Select)),
                unread_only=self.query_one("#fu", Checkbox).value,
                search=self.current.search,
            )
        )

    @on(Button.Pressed, "#filter-clear")
    def _clear(self) -> None:
        self.dismiss(DeskFilter(search=self.current.search))

    def action_cancel(self) -> None:
        self.dismiss(None)


class PathScreen(ModalScreen[Path | None]):
    """Where to save a file: a path to edit (Enter saves, Escape cancels)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Annuleren", id="dialog.cancel"),
    ]

    def __init__(self, i18n: I18n, title: str, suggested: Path, explain: str = "") -> None:
        super().__init__(classes="dialog")
        self.i18n = i18n
        self.title_text = title
        self.suggested = suggested
        self.explain = explain
        i18n.localise_bindings(self)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box", id="path-box"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            if self.explain:
                yield Static(self.explain, classes="dialog-explain", markup=False)
            yield Input(str(self.suggested), id="path")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    @on(Input.Submitted, "#path")
    def _submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        self.dismiss(Path(value).expanduser() if value else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ImageScreen(ModalScreen[None]):
    """A photo drawn with half blocks; any of the listed keys closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "close", "Sluiten", id="image.close"),
    ]

    def __init__(self, i18n: I18n, title: Text, picture: Text) -> None:
        super().__init__(classes="dialog")
        self.i18n = i18n
        self.title_text = title
        self.picture = picture
        i18n.localise_bindings(self)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box", id="image-box"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield Static(self.picture, id="image", markup=False)
        yield KeyFooter()

    def action_close(self) -> None:
        self.dismiss(None)


class BinCommandPalette(CommandPalette):
    """Textual's command palette with the placeholder, the footer and Escape's label in the
    app's language."""

    def __init__(self, i18n: I18n) -> None:
        super().__init__(placeholder=i18n("palette.placeholder"), id="--command-palette")
        bindings = self._bindings
        for key, key_bindings in bindings.key_to_bindings.items():
            bindings.key_to_bindings[key] = [
                replace(b, description=i18n("palette.close"), tooltip="")
                if b.action == "escape"
                else b
                for b in key_bindings
            ]

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield KeyFooter()
