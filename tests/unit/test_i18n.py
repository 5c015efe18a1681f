"""Filling in the bot's texts: plural words follow the number."""

from __future__ import annotations

import pytest

from bridge.i18n import CATALOG, fill, t


@pytest.mark.parametrize(
    ("count", "nl", "en"),
    [(0, "0 leden", "0 members"), (1, "1 lid", "1 member"), (2, "2 leden", "2 members")],
)
def test_plural_words_follow_the_number(count: int, nl: str, en: str) -> None:
    assert nl in t("broadcast.started", "nl", label="W-0001", count=count)
    assert en in t("broadcast.started", "en", label="W-0001", count=count)


def test_a_float_one_and_a_text_one_are_singular_too() -> None:
    assert fill("{s:.0f} {s:plural:seconde:seconden}", s=1.0) == "1 seconde"
    assert fill("{s} {s:plural:seconde:seconden}", s="1") == "1 seconde"
    assert fill("{s} {s:plural:seconde:seconden}", s="5") == "5 seconden"


def test_every_text_still_fills_in_without_a_stray_format_field() -> None:
    """No catalogue entry leaves a '{' or 'plural:' behind once its fields are given."""
    import string

    for key, entry in CATALOG.items():
        for template in entry.values():
            names = {n for _, n, _, _ in string.Formatter().parse(template) if n}
            filled = fill(template, **dict.fromkeys(names, 2))
            assert "plural:" not in filled, key
