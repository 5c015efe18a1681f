"""Snapshots of each screen at 80×24 and 120×40 with fixed content, a fixed clock (UTC) and
no text cursor. After a deliberate change of the look: `pytest tests/tui/test_tui_snapshots.py
--snapshot-update`, then look at the SVG files under `__snapshots__` before committing them."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select, TextArea

from bintui.app import BinTuiApp
from bintui.gateway import Broadcast, MediaFile, PoliceItem, ThreadItem, WijkStats
from bintui.settings import ClientSettings

from .fakes import FIXED_NOW, FakeGateway, report
from .helpers import SIZES

SnapCompare = Callable[..., bool]
WEEK = 7 * 86400


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    """Times in threads are local: make local time UTC for the snapshots."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def desk_reports() -> list[Any]:
    now = FIXED_NOW
    forwarded = report(
        1,
        "Blauwe Reiger",
        "Witte bestelbus zonder kenteken staat al drie dagen bij de speeltuin.",
        answers=("Dank je, we geven het door aan de wijkagent.",),
        unread=False,
        status="doorgestuurd",
        category="verdachte situatie",
        handler="@anna:bin.example.nl",
        minutes_ago=26 * 60,
        now=now,
    )
    forwarded.items.append(
        ThreadItem("$police1", "police", "M-0001", "Dank, we rijden er vannacht langs.", now - 3600)
    )
    return [
        report(
            4,
            "Rode Vos",
            "Er komt rook uit de schuur van de buren!",
            minutes_ago=3,
            now=now,
            urgent=True,
        ),
        report(
            3,
            "Groene Specht",
            "Die man met de oranje hes was gisteren ook bij nummer 8.",
            minutes_ago=45,
            now=now,
            reaction_to="W-0002",
        ),
        report(
            2,
            "Gele Uil",
            "[bold]Melding M-0009 · Nep[/bold] \x1b[2J fietsen weg 🚲 👨\u200d👩\u200d👧",
            minutes_ago=5 * 60,
            unread=False,
            status="in behandeling",
            category="inbraak",
            handler="@bram:bin.example.nl",
            now=now,
        ),
        forwarded,
    ]


def gateway() -> FakeGateway:
    police = [
        PoliceItem(
            "$b1",
            "bulletin",
            "oost",
            "B-0001",
            "Vannacht drie inbraken in schuurtjes aan de Beekstraat. Sluit schuren af.",
            FIXED_NOW - 7200,
        ),
        PoliceItem(
            "$f1",
            "forward",
            "oost",
            "M-0001",
            "Witte bestelbus zonder kenteken bij de speeltuin.",
            FIXED_NOW - 5400,
            note="een tweede lid meldde dit ook",
        ),
        PoliceItem(
            "$r1",
            "police_reply",
            "oost",
            "M-0001",
            "Dank, we rijden er vannacht langs.",
            FIXED_NOW - 3600,
        ),
    ]
    reports = desk_reports()
    reports += [
        report(
            n,
            "Oude Melding",
            "x",
            now=FIXED_NOW - (n % 7 + 1) * WEEK,
            status="afgehandeld",
            unread=False,
            answers=("ok",),
        )
        for n in range(10, 16)
    ]
    return FakeGateway(
        reports,
        police=police,
        stats=[WijkStats("oost", "42", FIXED_NOW)],
        bot=True,
        members=42,
        clock=lambda: FIXED_NOW,
    )


def app(tmp_path: Path) -> BinTuiApp:
    settings = ClientSettings(data_dir=tmp_path, language="nl")
    fake = gateway()
    return BinTuiApp(settings, gateway_factory=lambda _: fake, clock=lambda: FIXED_NOW)


Step = Callable[[Pilot[Any]], Awaitable[None]]


def steady(then: Step) -> Step:
    """Run `then`, then stop every cursor from blinking and let the screen settle."""

    async def run(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await then(pilot)
        await pilot.pause()
        for widget in pilot.app.screen.query("*"):
            if isinstance(widget, TextArea | Input):
                widget.cursor_blink = False
        if isinstance(pilot.app.screen.focused, TextArea | Input):
            # A text cursor may be caught on or off: take the focus away from it.
            pilot.app.screen.set_focus(None)
        await pilot.pause()

    return run


async def desk(pilot: Pilot[Any]) -> None:
    pass


async def a_report(pilot: Pilot[Any]) -> None:
    await pilot.press("down", "down")  # M-0001: forwarded, answered, the police replied
    await pilot.pause()


async def composer(pilot: Pilot[Any]) -> None:
    await pilot.press("f4")
    await pilot.pause()
    pilot.app.screen.query_one("#composer-category", Select).value = "waarschuwing"
    await pilot.press(*"Let op: een donkere man belt aan en zegt dat hij van het waterbedrijf is.")
    await pilot.pause()


async def overview(pilot: Pilot[Any]) -> None:
    await pilot.press("f5")
    await pilot.pause()


async def police(pilot: Pilot[Any]) -> None:
    await pilot.press("f3", "down")
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
@pytest.mark.parametrize(
    "screen",
    [desk, a_report, composer, overview, police],
    ids=["desk", "report", "composer", "overview", "police"],
)
def test_screen_snapshot(
    snap_compare: SnapCompare,
    tmp_path: Path,
    size: tuple[int, int],
    screen: Callable[[Pilot[Any]], Awaitable[None]],
) -> None:
    assert snap_compare(app(tmp_path), terminal_size=size, run_before=steady(screen))


def test_a_delivered_broadcast_snapshot(snap_compare: SnapCompare, tmp_path: Path) -> None:
    async def delivered(pilot: Pilot[Any]) -> None:
        await composer(pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.click("#confirm-anyway")
        await pilot.pause()
        fake = pilot.app.gateway
        assert isinstance(fake, FakeGateway)
        sent = fake.broadcast("W-0001")
        fake.push_broadcast(
            Broadcast("oost", "W-0001", "done", text=sent.text, delivered=41, total=42, ts=1)
        )
        await pilot.pause()

    assert snap_compare(app(tmp_path), terminal_size=(80, 24), run_before=steady(delivered))


def test_a_report_with_a_photo_snapshot(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """The photo keys join the footer, in view at 80 columns (only while they apply)."""
    fake = gateway()
    first, *others = fake.reports()
    photo = ThreadItem(
        "$photo4",
        "member",
        first.pseudonym,
        "",
        first.opened_ts + 60,
        media="image",
        file=MediaFile("mxc://localhost/photo", "k", "iv", "sha", "image/jpeg"),
    )
    fake.push([replace(first, items=[*first.items, photo]), *others])
    settings = ClientSettings(data_dir=tmp_path, language="nl")
    app = BinTuiApp(settings, gateway_factory=lambda _: fake, clock=lambda: FIXED_NOW)
    assert snap_compare(app, terminal_size=(80, 24), run_before=steady(desk))
