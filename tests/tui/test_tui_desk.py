"""The desk: listing reports, showing a thread, sending answers, and the connection state."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import events
from textual.widgets import Static, TextArea
from textual.widgets._footer import FooterKey

from bintui.gateway import ConnectionState
from bintui.screens.desk import DeskScreen
from bintui.widgets.report_table import ReportTable
from bintui.widgets.status import ConnectionIndicator
from bintui.widgets.thread import ThreadEntry

from .fakes import FakeGateway, report
from .helpers import SIZES, make_app, rendered


def two_reports() -> list:
    return [
        report(2, "Groene Specht", "Er staat een busje met draaiende motor.", minutes_ago=5),
        report(
            1,
            "Blauwe Reiger",
            "Fietsendiefstal bij de school.",
            answers=("Dank je, we kijken ernaar.",),
            unread=False,
            status="in behandeling",
            minutes_ago=90,
        ),
    ]


def thread_bodies(app) -> list[str]:
    """Each message's text as painted, without the quote bar in front of it."""
    bodies = [rendered(s) for s in app.screen.query("ThreadEntry > .body").results(Static)]
    assert all(body.startswith("▌ ") for body in bodies), "message text is drawn as a quote"
    return [body.removeprefix("▌ ") for body in bodies]


@pytest.mark.parametrize("size", SIZES)
async def test_the_desk_lists_every_report_with_its_columns_and_unread_mark(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    app, _ = make_app(FakeGateway(two_reports()), tmp_path=tmp_path)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#reports", ReportTable)
        assert table.row_count == 2
        first = [cell.plain for cell in table.get_row_at(0)]
        second = [cell.plain for cell in table.get_row_at(1)]
        assert first == ["●", "", "M-0002", "Groene Specht", "nieuw", "5 min", "", ""]
        assert second == ["", "", "M-0001", "Blauwe Reiger", "in behandeling", "1 u", "", ""]
        assert "Groene Specht" in rendered(table)


@pytest.mark.parametrize("size", SIZES)
async def test_selecting_a_report_shows_its_thread(tmp_path: Path, size: tuple[int, int]) -> None:
    gateway = FakeGateway(two_reports())
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("down")
        await pilot.pause()
        desk = app.screen
        assert isinstance(desk, DeskScreen)
        assert desk.selected == "$root1"
        assert "M-0001 · Blauwe Reiger · in behandeling · oost" in rendered(
            desk.query_one("#thread-title", Static)
        )
        entries = list(desk.query(ThreadEntry))
        assert [e.item.role for e in entries] == ["member", "coordinator"]
        assert thread_bodies(app) == [
            "Fietsendiefstal bij de school.",
            "Dank je, we kijken ernaar.",
        ]
        headers = [rendered(s) for s in desk.query("ThreadEntry > .header").results(Static)]
        assert headers[0].startswith("Blauwe Reiger · lid · ")
        assert headers[1].startswith("Coördinator Anna · coördinator · ")


async def test_opening_an_unread_report_marks_it_read(tmp_path: Path) -> None:
    gateway = FakeGateway(two_reports())
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("enter")  # open the highlighted (first) report
        await pilot.pause()
        table = app.screen.query_one("#reports", ReportTable)
        assert gateway.read == ["$root2"]
        assert table.get_row_at(0)[0].plain == ""
        assert app.screen.focused is app.screen.query_one("#composer", TextArea)


async def test_a_click_on_a_row_shows_that_report_and_a_second_click_opens_it(
    tmp_path: Path,
) -> None:
    gateway = FakeGateway(two_reports())
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        # The header is the list's first line, each report one line below it.
        await pilot.click("#reports", offset=(12, 2))
        await pilot.pause()
        desk = app.screen
        assert isinstance(desk, DeskScreen)
        assert desk.selected == "$root1"
        assert desk.query_one("#reports", ReportTable).cursor_row == 1
        assert thread_bodies(app)[0] == "Fietsendiefstal bij de school."
        await pilot.click("#reports", offset=(12, 0))  # the header: nothing happens
        await pilot.pause()
        assert desk.selected == "$root1"
        await pilot.click("#reports", offset=(12, 2))
        await pilot.pause()
        assert desk.focused is desk.query_one("#composer", TextArea)


@pytest.mark.parametrize("size", SIZES)
async def test_a_multi_line_answer_is_sent_with_every_line_intact(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    gateway = FakeGateway(two_reports())
    app, _ = make_app(gateway, tmp_path=tmp_path)
    pasted = "Tweede alinea, regel een.\nRegel twee.\n\n  Derde alinea, ingesprongen.\n"
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+o")
        composer = app.screen.query_one("#composer", TextArea)
        assert app.screen.focused is composer
        await pilot.press(*"Hoi", "enter", "enter")
        app.post_message(events.Paste(pasted))  # as the terminal delivers a paste
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        expected = "Hoi\n\n" + pasted.rstrip("\n")
        assert gateway.replies == [("$root2", expected)]
        assert composer.text == ""


async def test_a_failed_send_keeps_the_answer_and_shows_the_error(tmp_path: Path) -> None:
    gateway = FakeGateway(two_reports(), reply_error="not sent: server unreachable")
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+o", *"Ik bel je", "ctrl+s")
        await pilot.pause()
        assert app.screen.query_one("#composer", TextArea).text == "Ik bel je"
        assert any("server unreachable" in n.message for n in app._notifications)
        assert app.is_running


async def test_an_empty_answer_is_not_sent(tmp_path: Path) -> None:
    gateway = FakeGateway(two_reports())
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+o", "space", "enter", "ctrl+s")
        await pilot.pause()
        assert gateway.replies == []


async def test_new_reports_from_the_gateway_appear_and_keep_the_selection(tmp_path: Path) -> None:
    gateway = FakeGateway(two_reports())
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("down")
        await pilot.pause()
        gateway.push([report(3, "Rode Vos", "Nieuw!", minutes_ago=0), *two_reports()])
        await pilot.pause()
        table = app.screen.query_one("#reports", ReportTable)
        assert table.row_count == 3
        assert app.screen.selected == "$root1"
        assert table.get_row_at(table.cursor_row)[2].plain == "M-0001"
        assert gateway.read == []  # rebuilding the rows did not open other reports


async def test_next_unread_jumps_to_the_next_report_with_news(tmp_path: Path) -> None:
    reports = [*two_reports(), report(3, "Rode Vos", "Hallo", minutes_ago=200)]
    gateway = FakeGateway(reports)
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.screen.selected == "$root3"


@pytest.mark.parametrize("size", SIZES)
async def test_the_connection_indicator_shows_the_offline_state_and_error(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    offline = ConnectionState("offline", "ClientConnectorError: Connection refused")
    app, _ = make_app(FakeGateway(two_reports(), state=offline), tmp_path=tmp_path)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        indicator = app.screen.query_one(ConnectionIndicator)
        text = rendered(indicator)
        assert "niet verbonden" in text
        assert "Connection refused" in text
        assert indicator.has_class("-offline")


async def test_the_connection_indicator_follows_the_gateway(tmp_path: Path) -> None:
    gateway = FakeGateway(two_reports())
    app, _ = make_app(gateway, tmp_path=tmp_path, language="en")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        indicator = app.screen.query_one(ConnectionIndicator)
        assert "online" in rendered(indicator)
        gateway.push(two_reports(), ConnectionState("offline", "timeout"))
        await pilot.pause()
        assert "offline — timeout" in rendered(indicator)


async def test_footer_bindings_are_dutch_by_default_and_english_on_request(
    tmp_path: Path,
) -> None:
    for language, expected in (("nl", "Versturen"), ("en", "Send")):
        app, _ = make_app(FakeGateway(two_reports()), tmp_path=tmp_path, language=language)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("ctrl+o")
            await pilot.pause()
            descriptions = [key.description for key in app.screen.query(FooterKey)]
            assert expected in descriptions


async def test_the_command_palette_offers_the_desk_commands(tmp_path: Path) -> None:
    gateway = FakeGateway(two_reports())
    app, created = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Opnieuw verbinden")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert len(created) == 2  # reconnect made a fresh gateway
        assert gateway.closed


async def test_each_report_keeps_its_own_draft(tmp_path: Path) -> None:
    gateway = FakeGateway(two_reports())
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        composer = app.screen.query_one("#composer", TextArea)
        await pilot.press("ctrl+o", *"Voor het busje")
        await pilot.press("ctrl+l", "down")
        await pilot.pause()
        assert app.screen.selected == "$root1"
        assert composer.text == ""
        await pilot.press("ctrl+o", *"Voor de fiets", "ctrl+s")
        await pilot.pause()
        await pilot.press("ctrl+l", "up")
        await pilot.pause()
        assert composer.text == "Voor het busje"
        assert gateway.replies == [("$root1", "Voor de fiets")]


async def test_the_bell_rings_when_a_member_writes_if_asked(tmp_path: Path) -> None:
    gateway = FakeGateway(two_reports())
    app, _ = make_app(gateway, tmp_path=tmp_path, bell=True)
    rings: list[int] = []
    app.bell = lambda: rings.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert rings == []  # what was there at start-up does not ring
        gateway.push([report(3, "Rode Vos", "Nieuw!", minutes_ago=0), *two_reports()])
        await pilot.pause()
        assert rings == [1]
