"""The login screen, alone and as the app's answer to a gateway that needs credentials."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.widgets import Input, Static

from bintui.i18n import I18n
from bintui.screens.desk import DeskScreen
from bintui.screens.login import LoginDetails, LoginScreen

from .fakes import FakeGateway, report
from .helpers import make_app, rendered


class LoginHost(App[None]):
    """A bare app that shows the login screen and keeps what it returns."""

    def __init__(self, screen: LoginScreen) -> None:
        super().__init__()
        self.login = screen
        self.results: list[LoginDetails | None] = []

    def on_mount(self) -> None:
        self.push_screen(self.login, self.results.append)


async def test_the_login_screen_returns_the_entered_values() -> None:
    host = LoginHost(LoginScreen(I18n("nl"), homeserver="http://127.0.0.1:8008"))
    async with host.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert host.screen.focused is host.screen.query_one("#user", Input)
        await pilot.press(*"@anna:localhost", "enter")
        await pilot.press(*"geheim [wachtwoord]", "enter")
        await pilot.pause()
    assert host.results == [
        LoginDetails("http://127.0.0.1:8008", "@anna:localhost", "geheim [wachtwoord]")
    ]
    assert "geheim" not in repr(host.results[0])


async def test_the_login_screen_explains_a_wrong_user_id_and_stays_open() -> None:
    host = LoginHost(LoginScreen(I18n("en"), homeserver="http://127.0.0.1:8008"))
    async with host.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*"anna", "enter", *"pw", "enter")
        await pilot.pause()
        assert host.results == []
        assert "full Matrix id" in rendered(host.screen.query_one("#login-error", Static))
        assert host.screen.focused is host.screen.query_one("#user", Input)


async def test_escape_on_the_login_screen_returns_nothing() -> None:
    host = LoginHost(LoginScreen(I18n("nl")))
    async with host.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
    assert host.results == [None]


async def test_the_app_asks_for_a_login_and_connects_with_what_was_typed(tmp_path: Path) -> None:
    needs_login = FakeGateway(login_required="M_FORBIDDEN: Invalid password")
    connected = FakeGateway([report(1, "Blauwe Reiger", "Hallo")])
    app, seen = make_app(needs_login, connected, tmp_path=tmp_path, user_id="@co:localhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, LoginScreen)
        assert "Invalid password" in rendered(app.screen.query_one("#login-error", Static))
        await pilot.press(*"secret", "enter")
        await pilot.pause()
        assert isinstance(app.screen, DeskScreen)
        assert connected.started
        assert app.screen.query_one("#reports").row_count == 1
    assert [s.user_id for s in seen] == ["@co:localhost", "@co:localhost"]
    assert seen[0].password is None
    assert seen[1].password is not None and seen[1].password.get_secret_value() == "secret"
    assert connected.closed


async def test_quitting_the_login_screen_quits_the_app(tmp_path: Path) -> None:
    app, _ = make_app(FakeGateway(login_required=""), tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, LoginScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not app.is_running
