"""The login screen: homeserver, user id and password, returned as a `LoginDetails`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from ..i18n import I18n
from ..safe_text import safe_text
from ..settings import check_homeserver, check_user_id
from ..widgets.key_footer import KeyFooter


@dataclass(frozen=True, slots=True)
class LoginDetails:
    """What the coordinator typed; the password is used once and not stored."""

    homeserver: str
    user_id: str
    password: str

    def __repr__(self) -> str:
        return f"LoginDetails(homeserver={self.homeserver!r}, user_id={self.user_id!r})"


class LoginScreen(ModalScreen[LoginDetails | None]):
    """Asks for credentials; dismisses with them, or with None when the coordinator quits."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Stoppen", id="login.cancel")
    ]

    def __init__(
        self,
        i18n: I18n,
        *,
        homeserver: str = "",
        user_id: str = "",
        message: str = "",
    ) -> None:
        super().__init__()
        self.i18n = i18n
        self.homeserver = homeserver
        self.user_id = user_id
        self.message = message
        i18n.localise_bindings(self)

    def compose(self) -> ComposeResult:
        t = self.i18n
        with Vertical(id="login-form"):
            yield Static(t("login.title"), id="login-title", markup=False)
            yield Label(t("login.homeserver"), markup=False)
            yield Input(self.homeserver, placeholder="https://", id="homeserver")
            yield Label(t("login.user"), markup=False)
            yield Input(self.user_id, placeholder="@naam:server", id="user")
            yield Label(t("login.password"), markup=False)
            yield Input(password=True, id="password")
            # The message may come from the server: shown literally.
            yield Static(safe_text(self.message), id="login-error", markup=False)
            yield Button(t("login.submit"), variant="primary", id="login-submit")
        yield KeyFooter()

    def on_mount(self) -> None:
        empty = next((i for i in self.query(Input) if not i.value), None)
        (empty or self.query_one("#password", Input)).focus()

    @on(Input.Submitted)
    def _next_or_submit(self, event: Input.Submitted) -> None:
        if event.input.id == "password":
            self.submit()
        else:
            self.focus_next()

    @on(Button.Pressed, "#login-submit")
    def _pressed(self) -> None:
        self.submit()

    def submit(self) -> None:
        """Check the fields and dismiss with them, or show what to fix."""
        homeserver = self.query_one("#homeserver", Input).value.strip()
        user_id = self.query_one("#user", Input).value.strip()
        password = self.query_one("#password", Input).value
        try:
            homeserver = check_homeserver(homeserver)
        except ValueError:
            self._complain("login.bad_homeserver", "#homeserver")
            return
        try:
            check_user_id(user_id)
        except ValueError:
            self._complain("login.bad_user", "#user")
            return
        if not password:
            self._complain("login.no_password", "#password")
            return
        self.dismiss(LoginDetails(homeserver, user_id, password))

    def _complain(self, key: str, field: str) -> None:
        self.query_one("#login-error", Static).update(self.i18n(key))
        self.query_one(field, Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)
