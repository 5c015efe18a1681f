"""Every key in view: the wrapping footer at 80×24, the palette without a screenshot, the help
screen without binding ids, and dialogs that offer their own keys rather than the desk's."""

from __future__ import annotations

from pathlib import Path

from textual.command import CommandPalette
from textual.pilot import Pilot

from bintui.screens.actions import ChoiceScreen
from bintui.screens.help import HelpScreen
from bintui.widgets.key_footer import footer_keys
from bintui.widgets.report_table import ReportTable

from .fakes import FakeGateway
from .helpers import make_app
from .test_tui_desk import two_reports
from .test_tui_photos_logout_drafts import photo_and_plain


async def settle(pilot: Pilot[None]) -> None:
    """Until the footers have recomposed (each waits for a refresh)."""
    for _ in range(3):
        await pilot.pause()


DESK_KEYS = {"n", "s", "c", "d", "b", "slash", "f", "o", "ctrl+s", "ctrl+n", "ctrl+o", "f1"}
"""The desk's action keys with the list focused (and F1, which lists the rest)."""


async def test_at_80_by_24_the_desk_footer_shows_every_desk_key(tmp_path: Path) -> None:
    for language in ("nl", "en"):
        app, _ = make_app(photo_and_plain(), tmp_path=tmp_path, language=language)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            keys = footer_keys(app.screen)  # M-0003, with a photo
            assert DESK_KEYS | {"i", "e", "f3", "f4"} <= keys.keys(), language
            assert "f2" not in keys and "ctrl+l" not in keys  # no-ops here
            await pilot.press("ctrl+o")
            await settle(pilot)
            keys = footer_keys(app.screen)
            assert {"ctrl+s", "ctrl+n", "ctrl+l", "f1", "f3", "f4", "f5"} <= keys.keys()
            assert "ctrl+o" not in keys


async def test_at_100_by_30_the_footer_shows_every_key_and_says_menu(tmp_path: Path) -> None:
    app, _ = make_app(FakeGateway(two_reports()), tmp_path=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        keys = footer_keys(app.screen)
        expected = {"f3", "f4", "f5", "f9", "ctrl+r", "ctrl+q", "ctrl+p"}
        assert DESK_KEYS | expected <= keys.keys()
        assert keys["ctrl+p"] == "menu"
        assert "palette" not in " ".join(keys.values())


def svg_files(folder: Path) -> list[Path]:
    return list(folder.rglob("*.svg"))


async def test_the_palette_is_dutch_and_offers_no_screenshot(tmp_path: Path) -> None:
    app, _ = make_app(FakeGateway(two_reports()), tmp_path=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Afsluiten" in titles and "Toetsen" in titles
        english = {"Screenshot", "Theme", "Quit", "Keys", "Maximize", "Minimize"}
        assert not english & set(titles)
        await pilot.press("ctrl+p")
        await settle(pilot)
        assert isinstance(app.screen, CommandPalette)
        assert app.screen.query_one("CommandInput").placeholder == "Zoek een opdracht…"
        assert footer_keys(app.screen) == {"escape": "Sluiten"}
        await pilot.press("escape")
        await settle(pilot)
        # Nothing can write a screenshot, whatever would call it.
        assert app.check_action("screenshot", ()) is False
        assert app.deliver_screenshot() is None
        assert not svg_files(tmp_path)


async def test_help_lists_every_key_without_binding_ids(tmp_path: Path) -> None:
    app, _ = make_app(FakeGateway(two_reports()), tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        text = "\n".join(str(s.render()) for s in app.screen.query(".help-section"))
        assert "Ctrl+Q  Afsluiten" in text and "Ctrl+P  Opdrachtenmenu" in text
        assert "app.help" not in text and "desk.claim" not in text
        assert footer_keys(app.screen) == {"escape": "Sluiten"}
        explain = [str(s.render()) for s in app.screen.query(".dialog-explain")]
        assert any("PageDown" in line for line in explain)


async def test_a_dialog_shows_its_own_keys_not_the_desks(tmp_path: Path) -> None:
    app, _ = make_app(photo_and_plain(), tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        desk = app.screen
        assert {"i", "e"} <= footer_keys(desk).keys()  # the report on display has a photo
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, ChoiceScreen)
        assert footer_keys(app.screen) == {"enter": "Kiezen", "escape": "Annuleren"}
        assert not desk.query_one("KeyFooter").visible  # the desk's keys are not offered
        await pilot.press("escape", "down")  # M-0001: no photo
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        # With a dialog on top the photo keys ask the desk, not the dialog.
        table = desk.query_one(ReportTable)
        assert table.check_action("desk", ("view_image",)) is False
        await pilot.press("escape")
        await settle(pilot)
        assert desk.query_one("KeyFooter").visible
        assert "i" not in footer_keys(desk) and "n" in footer_keys(desk)
