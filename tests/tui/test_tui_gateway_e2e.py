"""MatrixGateway against the real bot on the test run's Synapse: reports in, answers out."""

from __future__ import annotations

import asyncio
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import DataTable

from bintui.app import BinTuiApp
from bintui.gateway import Report
from bintui.matrix_gateway import SESSION_FILE, MatrixGateway, account_dir
from bintui.settings import ClientSettings
from bridge.homeserver import EmbeddedHomeserver
from tests.conftest import MakeAccount
from tests.integration.harness import running_world

pytestmark = pytest.mark.integration


async def eventually(check: Callable[[], object], timeout: float = 20, what: str = "") -> object:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_the_gateway_shows_reports_and_delivers_answers_to_the_member(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        coordinator = world.coordinator("oost")
        settings = ClientSettings(
            homeserver=homeserver.url,
            user_id=coordinator.user_id,
            password=coordinator.account.password,
            data_dir=tmp_path / "bintui",
            bot_user_id=world.settings.bot.user_id,
        )
        gateway = MatrixGateway(settings, sync_timeout_ms=1000)
        changes: list[int] = []
        await gateway.start(lambda: changes.append(1))
        try:
            assert gateway.state.status == "online"
            folder = account_dir(tmp_path / "bintui", coordinator.user_id)
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700
            assert stat.S_IMODE((folder / SESSION_FILE).stat().st_mode) == 0o600
            assert "password" not in (folder / SESSION_FILE).read_text()

            member = await world.signed_up_member(make_account, "oost")
            hostile = "[bold]Melding M-0009 · Nep Naam[/bold]\nbel me \x1b[2J"
            await member.user.say(member.private_room, hostile)

            def first_report() -> Report | None:
                return gateway.reports()[0] if gateway.reports() else None

            report = await eventually(first_report, what="the report")
            assert isinstance(report, Report)
            assert report.report == "M-0001"
            assert report.wijk == "oost"
            assert report.unread
            assert [(i.role, i.author) for i in report.items] == [("member", report.pseudonym)]
            assert "Nep Naam" in report.items[0].text  # the text, never the label

            await member.user.say(member.private_room, "Nog iets:\ntweede regel")

            def two_items() -> Report | None:
                current = first_report()
                return current if current and len(current.items) == 2 else None

            report = await eventually(two_items, what="the member's second message")
            assert isinstance(report, Report)
            assert report.items[1].role == "member"
            assert report.items[1].text == "Nog iets:\ntweede regel"

            answer = "Dank je.\n\nWe komen langs:\n- morgen\n- om tien uur"
            await gateway.reply(report, answer)
            delivered = await member.user.wait_for_event(
                lambda e: e.room_id == member.private_room and e.fields.get("kind") == "answer",
                what="the answer in the member's room",
            )
            assert delivered.fields["text"] == answer

            def answered() -> Report | None:
                current = first_report()
                return current if current and len(current.items) >= 3 else None

            report = await eventually(answered, what="the answer in the desk thread")
            assert isinstance(report, Report)
            assert (report.items[2].role, report.items[2].text) == ("coordinator", answer)
            assert not report.unread
        finally:
            await gateway.close()

        # A restart restores the session without a password; the desk shows the whole thread
        # and sends what the coordinator types.
        app = BinTuiApp(settings.model_copy(update={"password": None}))
        async with app.run_test(size=(120, 40)) as pilot:
            desk = app.desk
            await eventually(lambda: desk.reports, what="the report in the desk")
            assert app.gateway is not None and app.gateway.state.status == "online"
            table = desk.query_one("#reports", DataTable)
            assert [c.plain for c in table.get_row_at(0)][2] == "M-0001"
            assert [i.role for i in desk.reports[0].items] == ["member", "member", "coordinator"]
            await pilot.press("enter", *"Tot morgen!", "ctrl+s")
            delivered = await member.user.wait_for_event(
                lambda e: (
                    e.room_id == member.private_room and e.fields.get("text") == "Tot morgen!"
                ),
                what="the answer typed in the desk",
            )
            assert delivered.fields["kind"] == "answer"


async def test_reports_older_than_the_first_sync_window_are_read_back(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        coordinator = world.coordinator("oost")
        settings = ClientSettings(
            homeserver=homeserver.url,
            user_id=coordinator.user_id,
            password=coordinator.account.password,
            data_dir=tmp_path / "bintui",
        )
        # The device must exist before the report: a new device cannot read older messages.
        first = MatrixGateway(settings, sync_timeout_ms=1000)
        await first.start(lambda: None)
        await first.close()

        member = await world.signed_up_member(make_account, "oost")
        desk = world.room("oost", "desk")
        await member.user.say(member.private_room, "Een oude melding")
        await coordinator.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("kind") == "report", what="the report"
        )
        for i in range(130):  # coordinators chatting push the report out of the first sync
            await coordinator.say(desk, f"overleg {i}")

        gateway = MatrixGateway(settings, sync_timeout_ms=1000)
        await gateway.start(lambda: None)
        try:
            reports = gateway.reports()
            assert [r.report for r in reports] == ["M-0001"]
            assert reports[0].items[0].text == "Een oude melding"
        finally:
            await gateway.close()
