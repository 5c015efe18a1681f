"""Links in answers, long texts in parts, locations and captions: the pure rules (C04, C09, C16)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge import anonymise
from bridge.settings import DEFAULT_ALLOWED_LINK_DOMAINS

ALLOWED = (*DEFAULT_ALLOWED_LINK_DOMAINS, "sint-michielsgestel.nl")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("zie https://www.politie.nl/nieuws.html.", "zie https://www.politie.nl/nieuws.html."),
        ("HTTPS://POLITIE.NL/X", "HTTPS://POLITIE.NL/X"),
        ("https://politie.nl:443/a", "https://politie.nl:443/a"),
        ("kijk op www.sint-michielsgestel.nl/afval", "kijk op www.sint-michielsgestel.nl/afval"),
        ("bel 112.nl of mail info@gemeente.example", "bel 112.nl of mail info@gemeente.example"),
        ("Om 12.30 uur, o.a. bij nr. 5", "Om 12.30 uur, o.a. bij nr. 5"),
        ("klik https://evil.example/t?id=abc nu", "klik hxxps://evil[.]example/t?id=abc nu"),
        ("(http://bit.ly/3xYz)", "(hxxp://bit[.]ly/3xYz)"),
        ("www.bit.ly/x", "www[.]bit[.]ly/x"),
        ("kijk op tracker.example", "kijk op tracker[.]example"),
        ("https://politie.nl.evil.example/", "hxxps://politie[.]nl[.]evil[.]example/"),
        ("https://politie.nl@evil.example/", "hxxps://politie[.]nl@evil[.]example/"),
        ("https://evil.example\\@politie.nl", "hxxps://evil[.]example\\@politie[.]nl"),
        ("https://nepolitie.nl/", "hxxps://nepolitie[.]nl/"),
        ("https://p\u043elitie.nl/", "hxxps://p\u043elitie[.]nl/"),
        ("ftp://files.evil.org/a", "ftp[:]//files[.]evil[.]org/a"),
        ("javascript://politie.nl/%0aalert(1)", "javascript[:]//politie[.]nl/%0aalert(1)"),
        ("https://192.0.2.7/x", "hxxps://192[.]0[.]2[.]7/x"),
    ],
)
def test_links_in_an_answer_pass_only_into_allow_listed_domains(text: str, expected: str) -> None:
    assert anonymise.defang_links(text, ALLOWED) == expected


def test_with_an_empty_allow_list_every_link_is_defanged() -> None:
    assert anonymise.defang_links("https://politie.nl/", []) == "hxxps://politie[.]nl/"


def test_the_gemeente_site_is_allowed_only_when_configured() -> None:
    text = "https://www.sint-michielsgestel.nl/melden"
    assert anonymise.defang_links(text, DEFAULT_ALLOWED_LINK_DOMAINS).startswith("hxxps://")
    assert anonymise.defang_links(text, ALLOWED) == text


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-./:?=&@ \n", max_size=80))
def test_no_clickable_link_to_an_unlisted_domain_survives(text: str) -> None:
    out = anonymise.defang_links(text, ["politie.nl"])
    for match in anonymise._URL.finditer(out):
        url = match.group(0).rstrip(anonymise._URL_TRAILING)
        assert not url or anonymise.allowed_link(url, ["politie.nl"]), (text, out)


# --- long texts ------------------------------------------------------------------------------


def _fits(limit: int) -> Any:
    return lambda part: len(json.dumps(part)) <= limit


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("woord " * 3000, id="words"),
        pytest.param("regel\n" * 2000, id="lines"),
        pytest.param("x" * 20_000, id="no spaces"),
        pytest.param("\U0001f469\U0001f3fd\u200d\U0001f692" * 800, id="ZWJ emoji with skin tones"),
        pytest.param("e\u0301" * 5000, id="combining accents"),
    ],
)
def test_a_long_text_splits_into_parts_that_fit_and_lose_nothing(text: str) -> None:
    parts = anonymise.split_text(text, _fits(4_000), max_parts=50)
    assert parts is not None and len(parts) > 1
    assert all(len(json.dumps(part)) <= 4_000 for part in parts)
    assert "".join(parts).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace(
        "\n", ""
    )
    for part in parts:  # never cut inside a grapheme
        assert not part.startswith(("\u200d", "\u0301", "\U0001f3fd"))
        assert not part.endswith("\u200d")


def test_a_text_that_needs_too_many_parts_is_not_split_at_all() -> None:
    assert anonymise.split_text("x" * 10_000, _fits(1_000), max_parts=3) is None


def test_a_short_text_is_one_part() -> None:
    assert anonymise.split_text("kort", _fits(1_000)) == ["kort"]


# --- locations and captions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("geo:52.123456,5.987654;u=35", "geo:52.123,5.988"),
        ("geo:52.1,5.1", "geo:52.100,5.100"),
        ("geo:-33.86785,151.20732,40", "geo:-33.868,151.207"),
        ("geo:91.0,5.0", None),
        ("geo:abc", None),
        ("https://maps.example/?q=52.1,5.1", None),
    ],
)
def test_a_location_is_rounded_to_about_a_hundred_metres(uri: str, expected: str | None) -> None:
    assert anonymise.rounded_geo_uri(uri) == expected


def test_the_location_uri_is_found_in_classic_and_extensible_fields() -> None:
    assert anonymise.location_uri({"geo_uri": "geo:1,2"}) == "geo:1,2"
    assert anonymise.location_uri({"org.matrix.msc3488.location": {"uri": "geo:3,4"}}) == "geo:3,4"
    assert anonymise.location_uri({"body": "x"}) is None


@pytest.mark.parametrize(
    ("content", "live"),
    [
        ({"msgtype": "m.location", "org.matrix.msc3488.asset": {"type": "m.self"}}, False),
        ({"msgtype": "m.location", "org.matrix.msc3488.asset": {"type": "m.live"}}, True),
        ({"live": True, "timeout": 60_000}, True),
    ],
)
def test_live_location_is_recognised(content: dict[str, Any], live: bool) -> None:
    assert anonymise.is_live_location("m.room.message", content) is live
    assert anonymise.is_live_location("org.matrix.msc3672.beacon", {}) is True


@pytest.mark.parametrize(
    ("content", "caption"),
    [
        ({"body": "IMG_20261201_Kerkstraat12_Jansen.jpg"}, None),
        ({"body": "IMG_1.jpg", "filename": "IMG_1.jpg"}, None),
        ({"body": "Kapotte lamp", "filename": "IMG_1.jpg"}, "Kapotte lamp"),
        (
            {"body": "zie @lid:hs.example mxc://hs/abc", "filename": "a.jpg"},
            "zie [vermelding verwijderd] [link verwijderd]",
        ),
        ({"body": "  \u200b ", "filename": "a.jpg"}, None),
    ],
)
def test_an_image_caption_is_cleaned_like_text_and_a_file_name_never_counts(
    content: dict[str, Any], caption: str | None
) -> None:
    assert anonymise.image_caption({"msgtype": "m.image", **content}) == caption
