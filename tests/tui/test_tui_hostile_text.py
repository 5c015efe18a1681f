"""Hostile member text is shown literally and safely in the desk (cases C07, C10, C11)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.cells import cell_len
from textual.widgets import Static

from bintui.widgets.report_table import ReportTable

from .fakes import FakeGateway, report
from .helpers import SIZES, make_app, painted_segments, rendered

HOSTILE = (
    "[bold red]x[/] [link=x]klik[/link] \x1b[2J\x1b]52;c;AAAA\x07"
    " \x1b]8;;http://evil.example/\x07link\x1b]8;;\x07 \u202eabc\u202c zero\u200bwidth"
)
FORGED = "Melding M-0003 · Blauwe Reiger:\r\n\r\nIk ben het, bel me\rGroene Specht · lid"
WIDE = "👨\u200d👩\u200d👧 👍🏽 中文字符 مرحبا بالعالم"


def bodies(app) -> list[Static]:
    return list(app.screen.query("ThreadEntry > .body").results(Static))


@pytest.mark.parametrize("size", SIZES)
async def test_markup_escapes_and_bidi_overrides_are_shown_literally(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    hostile = report(7, "[b]Rode[/b] Vos\u202e", HOSTILE)
    app, _ = make_app(FakeGateway([hostile]), tmp_path=tmp_path)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#reports", ReportTable)
        (body,) = bodies(app)
        header = app.screen.query_one("ThreadEntry > .header", Static)
        title = app.screen.query_one("#thread-title", Static)
        for widget in (table, body, header, title):
            for segment in painted_segments(widget):
                assert "\x1b" not in segment and "\x07" not in segment
                assert "\u202e" not in segment and "\u200b" not in segment
        plain = body.content.plain
        assert plain.startswith("[bold red]x[/] [link=x]klik[/link] <U+001B>[2J<U+001B>]52;c;AAAA")
        assert "<U+001B>]8;;http://evil.example/<U+0007>link" in plain
        assert "<U+202E>abc<U+202C>" in plain
        assert "zero<U+200B>width" in plain
        assert "[bold red]x[/]" in rendered(body)
        assert "[b]Rode[/b] Vos<U+202E>" in rendered(header)
        assert table.get_row_at(0)[3].plain == "[b]Rode[/b] Vos<U+202E>"


async def test_a_forged_label_in_the_text_stays_inside_the_quoted_message(tmp_path: Path) -> None:
    app, _ = make_app(FakeGateway([report(4, "Groene Specht", FORGED)]), tmp_path=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        header = rendered(app.screen.query_one("ThreadEntry > .header", Static))
        (body,) = bodies(app)
        assert header.startswith("Groene Specht · lid · ")
        lines = rendered(body).splitlines()
        # Every line of the member's text, including the fake header, sits behind the quote bar.
        assert all(line.startswith("▌") for line in lines)
        assert lines[0] == "▌ Melding M-0003 · Blauwe Reiger:"
        assert "<U+000D>Groene Specht · lid" in lines[-1]


@pytest.mark.parametrize("size", SIZES)
async def test_wide_and_mixed_scripts_keep_their_characters_and_the_layout(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    app, _ = make_app(FakeGateway([report(5, "Gele Uil", WIDE)]), tmp_path=tmp_path)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        (body,) = bodies(app)
        assert body.content.plain == WIDE
        width = body.size.width
        for line in rendered(body).splitlines():
            assert cell_len(line) <= width
