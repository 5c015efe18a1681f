"""Pure parts of report handling: categories, forward text and note, small counts."""

from __future__ import annotations

import pytest

from bridge.desk import parse_category, small, split_forward


@pytest.mark.parametrize(
    ("word", "category"),
    [
        ("inbraak", "inbraak"),
        ("INBRAAK", "inbraak"),
        ("verdacht", "verdachte situatie"),
        ("babbeltruc", "oplichting/babbeltruc"),
        ("oplichting", "oplichting/babbeltruc"),
        ("overlast", "overlast"),
        ("", None),
        ("fiets", None),
    ],
)
def test_a_category_is_found_by_its_name_or_the_start_of_a_word(
    word: str, category: str | None
) -> None:
    assert parse_category(word) == category


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("M-0003 Bus bij school", (3, "Bus bij school", None)),
        ("Bus bij school", (None, "Bus bij school", None)),
        ("M-0003\nRegel een\nRegel twee", (3, "Regel een\nRegel twee", None)),
        ("Bus\nnotitie: graag langsrijden", (None, "Bus", "graag langsrijden")),
        ("m-0012 Bus\nNote: twee regels\nnotitie", (12, "Bus", "twee regels\nnotitie")),
        ("M-0003", (3, "", None)),
    ],
)
def test_a_forward_splits_into_report_text_and_note(
    argument: str, expected: tuple[int | None, str, str | None]
) -> None:
    assert split_forward(argument) == expected


@pytest.mark.parametrize(
    ("count", "shown"), [(0, "0"), (1, "<5"), (4, "<5"), (5, "5"), (143, "143")]
)
def test_counts_below_five_are_hidden(count: int, shown: str) -> None:
    assert small(count) == shown
