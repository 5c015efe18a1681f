"""Dialogs for the cross-signing identity: show a new recovery key once, or ask for it."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from ..i18n import I18n
from ..safe_text import safe_text
from ..widgets.key_footer import KeyFooter


class RecoveryKeyScreen(ModalScreen[None]):
    """The new recovery key, to write down; closed only by saying it was written down."""

    def __init__(self, i18n: I18n, recovery_key: str) -> None:
        super().__init__(classes="dialog")
        self.i18n = i18n
        self.recovery_key = recovery_key

    def compose(self) -> ComposeResult:
        t = self.i18n
        with Vertical(classes="dialog-box", id="recovery-box"):
            yield Static(t("identity.created.title"), classes="dialog-title", markup=False)
            yield Static(t("identity.created.explain"), classes="dialog-explain", markup=False)
            yield Static(self.recovery_key, id="recovery-key", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(t("identity.created.done"), variant="primary", id="recovery-done")
        yield KeyFooter()  # no keys: the desk's are not offered while this is open

    def on_mount(self) -> None:
        self.query_one(Button).focus()

    @on(Button.Pressed, "#recovery-done")
    def _done(self) -> None:
        self.dismiss(None)


class AskRecoveryKeyScreen(ModalScreen[str | None]):
    """Asks for the recovery key; dismisses with what was typed, or None for 'later'."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "later", "Later", id="identity.later"),
    ]

    def __init__(self, i18n: I18n, message: str = "") -> None:
        super().__init__(classes="dialog")
        self.i18n = i18n
        self.message = message
        i18n.localise_bindings(self)

    def compose(self) -> ComposeResult:
        t = self.i18n
        with Vertical(classes="dialog-box", id="ask-recovery-box"):
            yield Static(t("identity.ask.title"), classes="dialog-title", markup=False)
            yield Static(t("identity.ask.explain"), classes="dialog-explain", markup=False)
            yield Input(placeholder="EsT… …", password=True, id="recovery-input")
            yield Static(safe_text(self.message), id="recovery-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(t("identity.ask.submit"), variant="primary", id="recovery-submit")
                yield Button(t("identity.ask.later"), id="recovery-later")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#recovery-submit")
    def _submit(self) -> None:
        typed = self.query_one(Input).value.strip()
        if typed:
            self.dismiss(typed)

    @on(Button.Pressed, "#recovery-later")
    def action_later(self) -> None:
        self.dismiss(None)
