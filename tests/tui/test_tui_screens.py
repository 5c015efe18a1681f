"""The police room, the broadcast composer, the overview, the help screen and remapped keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.geometry import Region
from textual.widgets import DataTable, ProgressBar, Select, Sparkline, Static, TextArea
from textual.widgets._footer import FooterKey

from bintui.gateway import Broadcast, PoliceItem, WijkStats
from bintui.keys import BINDING_IDS, help_sections
from bintui.overview import wijk_figures
from bintui.screens.composer import ComposerScreen, ConfirmBroadcast
from bintui.screens.desk import DeskScreen
from bintui.screens.help import HelpScreen
from bintui.screens.overview import OverviewScreen
from bintui.screens.police import PoliceScreen
from bintui.settings import ClientSettings
from bridge.settings import ConfigError

from .fakes import FIXED_NOW, FakeGateway, report
from .helpers import SIZES, make_app, rendered

BULLETIN = "Vannacht drie inbraken in schuurtjes aan de Beekstraat. Sluit schuren af."


def police_items() -> list[PoliceItem]:
    return [
        PoliceItem("$b1", "bulletin", "oost", "B-0001", BULLETIN, FIXED_NOW - 3600),
        PoliceItem("$f1", "forward", "oost", "M-0003", "Busje bij de school", FIXED_NOW - 60, "2x"),
        PoliceItem("$r1", "police_reply", "oost", "M-0003", "We rijden langs.", FIXED_NOW - 30),
    ]


def text_of(app, selector: str) -> str:
    return " ".join(rendered(app.screen.query_one(selector)).split())


def preview_lines(app) -> list[str]:
    """The members' preview in the composer as painted: header, then the quoted lines."""
    preview = app.screen.query_one("#composer-preview")
    return [
        strip.text.rstrip()
        for part in preview.children
        for strip in part.render_lines(Region(0, 0, *part.region.size))
    ]


def preview_of(app) -> str:
    return " ".join(" ".join(preview_lines(app)).split())


@pytest.mark.parametrize("size", SIZES)
async def test_the_police_room_lists_bulletins_forwards_and_replies(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    app, _ = make_app(FakeGateway(police=police_items()), tmp_path=tmp_path)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("f3")
        await pilot.pause()
        assert isinstance(app.screen, PoliceScreen)
        table = app.screen.query_one("#police-items", DataTable)
        kinds = [table.get_row_at(i)[0].plain for i in range(table.row_count)]
        assert kinds == ["Reactie politie", "Doorgestuurd", "Bulletin"]
        await pilot.press("down")
        await pilot.pause()
        assert "Notitie van de coördinator: 2x" in text_of(app, "#police-detail-note")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DeskScreen)


async def test_publishing_a_bulletin_opens_the_composer_and_sends_it_by_number(
    tmp_path: Path,
) -> None:
    gateway = FakeGateway(police=police_items(), bot=True, members=42)
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("f3", "down", "down", "p")
        await pilot.pause()
        composer = app.screen
        assert isinstance(composer, ComposerScreen)
        assert composer.query_one("#composer-text", TextArea).text == BULLETIN
        assert composer.query_one("#composer-category", Select).value == "politie"
        preview = preview_of(app)
        assert preview.startswith("Bericht van je BIN-coördinator · W-… · politie ▌ Vannacht")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert gateway.room_sends == [("oost", "wijk", "!publiceer B-0001")]
        assert isinstance(app.screen, ConfirmBroadcast)
        assert "W-0001 gaat naar 42 leden. Versturen?" in text_of(app, ".dialog-title")
        await pilot.click("#confirm-send")
        await pilot.pause()
        assert gateway.room_sends[-1] == ("oost", "wijk", "!ja")
        assert "W-0001 gaat over 30 seconden" in text_of(app, "#composer-status")
        assert preview_of(app).startswith("Bericht van je BIN-coördinator · W-0001 · politie")


async def test_an_edited_bulletin_is_published_as_text_with_the_politie_category(
    tmp_path: Path,
) -> None:
    gateway = FakeGateway(police=police_items(), bot=True)
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f3", "down", "down", "enter")
        await pilot.pause()
        editor = app.screen.query_one("#composer-text", TextArea)
        editor.load_text("Drie inbraken in schuurtjes. Sluit schuren af.")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert gateway.room_sends == [
            ("oost", "wijk", "!publiceer politie: Drie inbraken in schuurtjes. Sluit schuren af.")
        ]


async def test_the_composer_follows_the_bot_until_delivered(tmp_path: Path) -> None:
    gateway = FakeGateway(bot=True, members=3, clock=lambda: FIXED_NOW)
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f4")
        await pilot.pause()
        composer = app.screen
        assert isinstance(composer, ComposerScreen)
        composer.query_one("#composer-category", Select).value = "waarschuwing"
        await pilot.press(*"Let op babbeltrucs.", "ctrl+s")
        await pilot.pause()
        assert gateway.room_sends == [
            ("oost", "wijk", "!publiceer waarschuwing: Let op babbeltrucs.")
        ]
        await pilot.press("enter")  # the focused button: send to 3 members
        await pilot.pause()
        assert gateway.room_sends[-1][2] == "!ja"
        sent = gateway.broadcast("W-0001")
        gateway.push_broadcast(Broadcast("oost", "W-0001", "sending", text=sent.text, total=3))
        await pilot.pause()
        assert "W-0001 wordt afgeleverd bij 3 leden" in text_of(app, "#composer-status")
        progress = composer.query_one(ProgressBar)
        assert progress.display and (progress.total, progress.progress) == (3, 0)
        gateway.push_broadcast(
            Broadcast("oost", "W-0001", "sending", text=sent.text, delivered=1, total=3)
        )
        await pilot.pause()
        assert "W-0001 wordt afgeleverd: 1 van 3 leden bereikt" in text_of(app, "#composer-status")
        assert (progress.total, progress.progress) == (3, 1)
        done = Broadcast("oost", "W-0001", "done", text=sent.text, delivered=2, total=3)
        gateway.push_broadcast(done)
        await pilot.pause()
        assert "W-0001: afgeleverd aan 2 van 3 leden." in text_of(app, "#composer-status")
        assert (progress.total, progress.progress) == (3, 2)


def footer(app) -> dict[str, str]:
    """The keys in the footer (key → description)."""
    return {key.key: key.description for key in app.screen.query(FooterKey)}


async def test_after_delivery_the_composer_is_empty_and_only_fitting_keys_are_offered(
    tmp_path: Path,
) -> None:
    gateway = FakeGateway(bot=True, members=3)
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("f4", *"Let op babbeltrucs.")
        await pilot.pause()
        app.screen.query_one("#composer-category", Select).value = "waarschuwing"
        await pilot.pause()
        assert "ctrl+s" in footer(app)
        assert "ctrl+g" not in footer(app) and "ctrl+t" not in footer(app)  # nothing to send
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("escape")  # not yet: the preview can still be confirmed or stopped
        await pilot.pause()
        assert footer(app)["ctrl+g"] == "Versturen" and footer(app)["ctrl+t"] == "Tegenhouden"
        await pilot.press("ctrl+g", "enter")
        await pilot.pause()
        assert gateway.room_sends[-1][2] == "!ja"
        assert "ctrl+g" not in footer(app) and footer(app)["ctrl+t"] == "Tegenhouden"
        sent = gateway.broadcast("W-0001")
        gateway.push_broadcast(Broadcast("oost", "W-0001", "sending", text=sent.text, total=3))
        await pilot.pause()
        assert "ctrl+t" not in footer(app)  # on its way: nothing to hold back
        done = Broadcast("oost", "W-0001", "done", text=sent.text, delivered=3, total=3)
        gateway.push_broadcast(done)
        await pilot.pause()
        composer = app.screen
        assert isinstance(composer, ComposerScreen)
        assert composer.query_one("#composer-text", TextArea).text == ""
        assert app.screen.focused is composer.query_one("#composer-text", TextArea)
        assert "W-0001: afgeleverd aan 3 van 3 leden." in text_of(app, "#composer-status")
        assert "ctrl+g" not in footer(app) and "ctrl+t" not in footer(app)
        assert preview_of(app).startswith("Bericht van je BIN-coördinator · W-… · waarschuwing")
        await pilot.press("ctrl+t")  # no longer does anything
        await pilot.pause()
        assert gateway.room_sends[-1][2] == "!ja"
        # The next message starts afresh and gets its own number.
        await pilot.press(*"Nog een bericht.", "ctrl+s")
        await pilot.pause()
        assert gateway.room_sends[-1][2] == "!publiceer waarschuwing: Nog een bericht."
        assert "W-0002 gaat naar 3 leden" in text_of(app, ".dialog-title")


async def test_the_undo_window_counts_down_each_second(tmp_path: Path) -> None:
    gateway = FakeGateway(bot=True, members=3, undo_seconds=2)
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f4", *"Oproep: wie zag de witte bus?", "ctrl+s")
        await pilot.pause()
        await pilot.click("#confirm-send")
        await pilot.pause()
        assert "W-0001 gaat over 2 seconden naar alle leden" in text_of(app, "#composer-status")
        assert "ctrl+t" in footer(app)
        await pilot.pause(1.1)
        assert "W-0001 gaat over 1 seconde naar alle leden" in text_of(app, "#composer-status")
        await pilot.pause(1.1)
        assert "W-0001 gaat nu naar alle leden" in text_of(app, "#composer-status")
        assert "ctrl+t" not in footer(app)  # the window is over
        sent = gateway.broadcast("W-0001")
        gateway.push_broadcast(Broadcast("oost", "W-0001", "sending", text=sent.text, total=3))
        await pilot.pause()
        assert "W-0001 wordt afgeleverd bij 3 leden" in text_of(app, "#composer-status")


@pytest.mark.parametrize("size", SIZES)
async def test_the_preview_keeps_the_quote_bar_on_every_wrapped_line(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    """As in the conversation view: the bar is the body's border, on each line it wraps to."""
    text = "Vannacht is er ingebroken in schuurtjes aan de Beekstraat. " * 4 + "\nSluit af."
    app, _ = make_app(FakeGateway(bot=True), tmp_path=tmp_path)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("f4")
        await pilot.pause()
        app.screen.query_one("#composer-text", TextArea).load_text(text)
        await pilot.pause()
        header, *body = preview_lines(app)
        assert header.strip() == "Bericht van je BIN-coördinator · W-… · informatie"
        assert len(body) >= 3  # wrapped at this width, and the second paragraph
        assert all(line.startswith("▌") for line in body), body
        assert body[-1].strip() == "▌ Sluit af."
        words = " ".join(line.removeprefix("▌") for line in body).split()
        assert words == text.split()


async def test_the_fairness_warning_is_shown_and_only_send_anyway_sends(tmp_path: Path) -> None:
    gateway = FakeGateway(bot=True)
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("f4", *"Een donkere man liep weg.")
        await pilot.pause()
        assert '"donkere man"' in text_of(app, "#composer-fairness")  # before asking the bot
        await pilot.press("ctrl+s")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ConfirmBroadcast)
        assert not dialog.query("#confirm-send")
        assert '"donkere man"' in text_of(app, "#confirm-unfair")
        await pilot.click("#confirm-anyway")
        await pilot.pause()
        assert gateway.room_sends[-1][2] == "!ja zeker"


async def test_holding_back_sends_stop(tmp_path: Path) -> None:
    gateway = FakeGateway(bot=True)
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f4", *"Oproep: wie zag de witte bus?", "ctrl+s")
        await pilot.pause()
        await pilot.click("#confirm-send")
        await pilot.pause()
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert gateway.room_sends[-1][2] == "!stop"
        assert "tegengehouden" in text_of(app, "#composer-status")


def test_figures_per_wijk_count_open_reports_weeks_and_first_answers() -> None:
    week = 7 * 86400
    reports = [
        report(1, "A", "x", now=FIXED_NOW, minutes_ago=10, answers=("ok",)),
        report(2, "B", "x", now=FIXED_NOW - week, minutes_ago=0, status="afgehandeld"),
        report(3, "C", "x", now=FIXED_NOW - 9 * week, minutes_ago=0),
        report(4, "D", "x", now=FIXED_NOW, minutes_ago=5, wijk="west"),
    ]
    figures = wijk_figures(reports, "oost", FIXED_NOW)
    assert figures.per_week == (0, 0, 0, 0, 0, 0, 1, 1)
    assert (figures.total, figures.open) == (3, 2)
    assert figures.first_answer_hours == pytest.approx(1 / 3600)


@pytest.mark.parametrize("size", SIZES)
async def test_the_overview_shows_members_open_reports_a_sparkline_and_answer_time(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    reports = [report(1, "A", "x", answers=("ok",)), report(2, "B", "x")]
    gateway = FakeGateway(reports, stats=[WijkStats("oost", "42", FIXED_NOW)])
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("f5")
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen)
        lines = text_of(app, ".wijk-lines")
        assert "Leden: 42" in lines
        assert "Open meldingen: 2 van 2 (2 ongelezen)" in lines
        assert "eerste antwoord: 1 min" in lines
        assert app.screen.query_one(Sparkline).data == [0, 0, 0, 0, 0, 0, 0, 2]
        await pilot.press("r")
        await pilot.pause()
        assert gateway.room_sends == [("oost", "desk", "!stats")]


@pytest.mark.parametrize("key", ["f1", "question_mark"])
async def test_the_help_screen_lists_every_action_with_its_key(tmp_path: Path, key: str) -> None:
    app, _ = make_app(FakeGateway([report(1, "A", "x")]), tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = "\n".join(rendered(s) for s in app.screen.query(".help-section").results(Static))
        for needle in ("Ctrl+S  Versturen", "n  Neem", "d  Doorsturen", "F4  Wijkbericht"):
            assert needle in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DeskScreen)


async def test_a_key_remapped_in_the_settings_works_and_is_shown(tmp_path: Path) -> None:
    gateway = FakeGateway([report(1, "A", "x")])
    app, _ = make_app(gateway, tmp_path=tmp_path, keys={"desk.claim": "t", "app.help": "f12"})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        assert gateway.commands == []
        await pilot.press("t")
        await pilot.pause()
        assert gateway.commands == [("$root1", "!neem M-0001")]
        await pilot.press("f12")
        await pilot.pause()
        text = "\n".join(rendered(s) for s in app.screen.query(".help-section").results(Static))
        assert "t  Neem" in text and "F12  Toetsen" in text


def test_an_unknown_action_in_the_keys_table_is_a_clear_error(tmp_path: Path) -> None:
    file = tmp_path / "bintui.toml"
    file.write_text('[keys]\n"desk.claimm" = "t"\n', encoding="utf-8")
    from bintui.settings import load_client_settings

    with pytest.raises(ConfigError, match=r"desk\.claimm"):
        load_client_settings(file)
    assert ClientSettings(keys={"desk.claim": "t"}).keys == {"desk.claim": "t"}


def test_every_binding_id_is_known_to_the_settings() -> None:
    from bintui.screens.actions import ChoiceScreen, ImageScreen, PathScreen
    from bintui.screens.identity import AskRecoveryKeyScreen
    from bintui.screens.login import LoginScreen

    declared = {b.id for _, bindings in help_sections() for b in bindings}  # type: ignore[union-attr]
    declared |= {b.id for b in [*ChoiceScreen.BINDINGS, *LoginScreen.BINDINGS]}  # type: ignore[union-attr]
    declared |= {b.id for b in HelpScreen.BINDINGS}  # type: ignore[union-attr]
    declared |= {b.id for b in AskRecoveryKeyScreen.BINDINGS}  # type: ignore[union-attr]
    declared |= {b.id for b in [*PathScreen.BINDINGS, *ImageScreen.BINDINGS]}  # type: ignore[union-attr]
    assert declared == set(BINDING_IDS)
