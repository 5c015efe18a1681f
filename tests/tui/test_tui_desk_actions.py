"""The desk's columns, filters, sort and search, and the report actions sent as desk commands."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from textual import events
from textual.widgets import Checkbox, Input, OptionList, Select, Static, TextArea

from bintui.gateway import ThreadItem
from bintui.screens.actions import ChoiceScreen, FilterScreen, ForwardScreen
from bintui.screens.desk import DeskScreen
from bintui.widgets import report_table
from bintui.widgets.report_table import ReportTable

from .fakes import FakeGateway, report
from .helpers import SIZES, make_app, rendered


def desk_reports() -> list:
    return [
        report(3, "Rode Vos", "Er brandt iets in de schuur!", minutes_ago=2, urgent=True),
        report(
            2,
            "Groene Specht",
            "Ik zag die man ook, bij nummer 8.",
            minutes_ago=30,
            reaction_to="W-0001",
            unread=False,
        ),
        report(
            1,
            "Blauwe Reiger",
            "Fietsendiefstal bij de school.",
            answers=("Dank je.",),
            unread=False,
            status="in behandeling",
            category="inbraak",
            handler="@anna:localhost",
            minutes_ago=90,
        ),
    ]


def rows(app) -> list[list[str]]:
    table = app.screen.query_one("#reports", ReportTable)
    return [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)]


@pytest.mark.parametrize("size", SIZES)
async def test_the_list_shows_category_handler_urgent_flag_and_reactions(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    app, _ = make_app(FakeGateway(desk_reports()), tmp_path=tmp_path)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert rows(app) == [
            ["●", "⚠", "M-0003", "Rode Vos", "nieuw", "2 min", "", ""],
            ["", "", "M-0002", "Groene Specht ↩W-0001", "nieuw", "30 min", "", ""],
            ["", "", "M-0001", "Blauwe Reiger", "in behandeling", "1 u", "inbraak", "anna"],
        ]
        title = rendered(app.screen.query_one("#thread-title", Static)).strip()
        assert title.startswith("⚠ DRINGEND? · M-0003 · Rode Vos")
        await pilot.press("down")
        await pilot.pause()
        title = rendered(app.screen.query_one("#thread-title", Static)).strip()
        assert title.startswith("Reactie op W-0001 · M-0002 · Groene Specht")


async def test_status_category_and_handler_update_live_when_the_bot_announces_them(
    tmp_path: Path,
) -> None:
    gateway = FakeGateway(desk_reports(), bot=True)
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("n")  # claim the highlighted report
        await pilot.pause()
        assert gateway.commands == [("$root3", "!neem M-0003")]
        assert (rows(app)[0][4], rows(app)[0][7]) == ("in behandeling", "anna")
        assert any("!neem M-0003" in n.message for n in app._notifications)
        await pilot.press("c")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ChoiceScreen)
        options = dialog.query_one(OptionList)
        await pilot.press("down", "enter")  # the second category: verdachte situatie
        await pilot.pause()
        assert options is not None
        assert gateway.commands[-1] == ("$root3", "!categorie M-0003 verdachte situatie")
        assert rows(app)[0][6] == "verdachte situatie"
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("down", "down", "enter")  # from 'in behandeling' to 'afgehandeld'
        await pilot.pause()
        assert gateway.commands[-1] == ("$root3", "!status M-0003 afgehandeld")
        assert rows(app)[0][4] == "afgehandeld"
        assert "afgehandeld" in rendered(app.screen.query_one("#thread-title", Static))


async def test_forwarding_prefills_the_members_words_and_sends_text_and_note(
    tmp_path: Path,
) -> None:
    reports = desk_reports()
    gateway = FakeGateway(reports, bot=True)
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ForwardScreen)
        editor = dialog.query_one("#forward-text", TextArea)
        assert editor.text == "Er brandt iets in de schuur!"
        editor.load_text("Er brandt iets in een schuur aan de Beekstraat.")
        dialog.query_one("#forward-note", Input).value = "lid is ingelicht over 112"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert gateway.commands == [
            (
                "$root3",
                "!doorsturen M-0003 Er brandt iets in een schuur aan de Beekstraat.\n"
                "notitie: lid is ingelicht over 112",
            )
        ]
        assert rows(app)[0][4] == "doorgestuurd"
        # Escape cancels without sending anything.
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DeskScreen)
        assert len(gateway.commands) == 1


async def test_the_forward_text_holds_no_terminal_escapes(tmp_path: Path) -> None:
    hostile = report(9, "Gele Uil", "bus\x1b[2J bij \u202eschool\x07\nregel twee")
    app, _ = make_app(FakeGateway([hostile]), tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        text = app.screen.query_one("#forward-text", TextArea).text
        assert text == "bus bij school\nregel twee"


async def test_block_and_unblock_are_sent_with_the_report_number(tmp_path: Path) -> None:
    gateway = FakeGateway(desk_reports())
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("b")
        await pilot.pause()
        explain = " ".join(rendered(app.screen.query_one(".dialog-explain")).split())
        assert "Niemand leert wie het is" in explain
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("b", "down", "enter")
        await pilot.pause()
        assert [c for _, c in gateway.commands] == ["!blokkeer M-0003", "!deblokkeer M-0003"]


async def test_filter_by_status_wijk_and_category(tmp_path: Path) -> None:
    reports = [*desk_reports(), report(1, "Paarse Das", "In west", wijk="west", minutes_ago=5)]
    app, _ = make_app(FakeGateway(reports), tmp_path=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("f")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, FilterScreen)
        dialog.query_one("#fs", Select).value = "in behandeling"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert [r[2] for r in rows(app)] == ["M-0001"]
        line = rendered(app.screen.query_one("#filter-line", Static))
        assert "in behandeling" in line and "1 van 4" in line
        await pilot.press("f")
        await pilot.pause()
        app.screen.query_one("#fs", Select).clear()
        app.screen.query_one("#fw", Select).value = "west"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert [(r[2], r[3]) for r in rows(app)] == [("M-0001", "Paarse Das")]
        await pilot.press("f")
        await pilot.pause()
        app.screen.query_one("#fw", Select).clear()
        app.screen.query_one("#fc", Select).value = "inbraak"
        app.screen.query_one("#fu", Checkbox).value = False
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert [r[3] for r in rows(app)] == ["Blauwe Reiger"]
        await pilot.press("f")
        await pilot.pause()
        await pilot.click("#filter-clear")
        await pilot.pause()
        assert len(rows(app)) == 4


async def test_search_finds_words_in_the_whole_conversation(tmp_path: Path) -> None:
    app, _ = make_app(FakeGateway(desk_reports()), tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("slash", *"dank")
        await pilot.pause()
        assert [r[2] for r in rows(app)] == ["M-0001"]  # found in the coordinator's answer
        assert app.screen.selected == "$root1"
        await pilot.press("enter")  # back to the list, the search stays
        await pilot.pause()
        assert isinstance(app.screen.focused, ReportTable)
        await pilot.press("slash", "escape")
        await pilot.pause()
        assert len(rows(app)) == 3


async def test_the_sort_order_cycles_and_is_shown(tmp_path: Path) -> None:
    app, _ = make_app(FakeGateway(desk_reports()), tmp_path=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("o", "o")  # activity → newest first → number
        await pilot.pause()
        assert "sortering: nummer" in rendered(app.screen.query_one("#filter-line", Static))
        assert [r[2] for r in rows(app)] == ["M-0003", "M-0002", "M-0001"]
        await pilot.press("o")  # status
        await pilot.pause()
        assert [r[2] for r in rows(app)] == ["M-0003", "M-0002", "M-0001"]
        await pilot.press("o")  # urgent and unread first
        await pilot.pause()
        assert rows(app)[0][2] == "M-0003"


async def test_a_new_report_shows_a_toast_and_keeps_the_cursor(tmp_path: Path) -> None:
    gateway = FakeGateway(desk_reports())
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert not app._notifications  # what was there at start-up is not news
        await pilot.press("down")
        gateway.push([report(4, "Witte \x1b[2JZwaan", "Hallo", minutes_ago=0), *desk_reports()])
        await pilot.pause()
        (toast,) = list(app._notifications)
        assert toast.title == "Nieuwe melding"
        assert toast.message == "M-0004 · Witte <U+001B>[2JZwaan (oost)"
        assert app.screen.selected == "$root2"


async def test_a_police_reply_marks_the_report_unread_and_shows_a_toast(tmp_path: Path) -> None:
    """The police answered a forwarded report: the coordinator must see it (● and a toast)."""
    reports = desk_reports()
    forwarded = replace(reports[2], status="doorgestuurd", police_reply="$p0")
    gateway = FakeGateway([*reports[:2], forwarded])
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert not app._notifications  # a reply from before start-up is not news
        assert rows(app)[2][0] == ""
        police = ThreadItem("$p1", "police", "M-0001", "We rijden langs.", forwarded.last_ts + 1)
        answered = replace(
            forwarded, items=[*forwarded.items, police], unread=True, police_reply="$p1"
        )
        gateway.push([*reports[:2], answered])
        await pilot.pause()
        (toast,) = list(app._notifications)
        assert toast.message == "Politie antwoordde op M-0001"
        row = next(r for r in rows(app) if r[2] == "M-0001")
        assert row[0] == "●"
        gateway.push([*reports[:2], replace(answered, status="in behandeling")])
        await pilot.pause()
        assert len(app._notifications) == 1  # the same reply again is no news


async def test_a_redacted_report_disappears_from_the_list_and_the_thread(tmp_path: Path) -> None:
    """C06: what the bot redacted is gone from the client, including the open thread."""
    gateway = FakeGateway(desk_reports())
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.screen.selected == "$root3"
        gateway.push(desk_reports()[1:])
        await pilot.pause()
        assert [r[2] for r in rows(app)] == ["M-0002", "M-0001"]
        assert app.screen.selected == "$root2"
        assert "brandt" not in rendered(app.screen.query_one("#thread"))


async def test_the_command_palette_offers_every_report_action(tmp_path: Path) -> None:
    gateway = FakeGateway(desk_reports())
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p", *"Neem de melding")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert gateway.commands == [("$root3", "!neem M-0003")]


async def test_a_thousand_reports_make_cells_only_for_rows_on_screen_and_changed_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []
    original = report_table.row_cells

    def counting(report, i18n, now):  # type: ignore[no-untyped-def]
        made.append(report.report)
        return original(report, i18n, now)

    monkeypatch.setattr(report_table, "row_cells", counting)
    many = [report(n, f"Naam {n}", "tekst", minutes_ago=n, unread=False) for n in range(1, 1001)]
    gateway = FakeGateway(many)
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#reports", ReportTable)
        assert table.row_count == 1000
        assert 0 < len(made) <= table.size.height  # a screenful, not a thousand
        made.clear()
        changed = list(many)
        changed[1] = replace(many[1], status="afgehandeld")  # the second row, on screen
        changed[500] = replace(many[500], status="afgehandeld")  # far below
        gateway.push(changed)
        await pilot.pause()
        assert made == ["M-0002"]  # the far one is made when it is scrolled to
        assert table.get_row_at(1)[4].plain == "afgehandeld"
        assert table.row_count == 1000


async def test_keys_typed_ahead_in_a_choice_dialog_pick_the_option_they_point_at(
    tmp_path: Path,
) -> None:
    # Over a slow SSH connection "↓ ↓ Enter" arrive together, in one read: Enter must choose
    # the option the arrows moved to, not the one highlighted before (it did while Enter was
    # a priority binding of the dialog, run before the arrows had reached the list).
    gateway = FakeGateway(desk_reports(), bot=True)
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("s")  # status of M-0003, now 'nieuw'
        await pilot.pause()
        assert isinstance(app.screen, ChoiceScreen)
        for key in ("down", "down", "enter"):  # as the terminal driver posts them
            app.post_message(events.Key(key, None))
        await pilot.pause()
        await pilot.pause()
        assert gateway.commands[-1] == ("$root3", "!status M-0003 doorgestuurd")
        assert rows(app)[0][4] == "doorgestuurd"
