"""The leak scanner finds a member's identifiers in every form and place, and only those."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from bridge.leakscan import MemberTrace, assert_no_leaks, find_leaks

TRACE = MemberTrace(
    user_id="@lidje:buurt.nl",
    display_name="Jan & Piet",
    room_ids=["!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM"],
    event_ids=["$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg"],
    mxc_urls=["mxc://buurt.nl/AbCdEfGhIjKlMnOpQrStUv"],
    file_names=["IMG_20261201_Kerkstraat12_Jansen.jpg"],
    extra=["Kerkstraat 12"],
)

CLEAN_EVENT: dict[str, Any] = {
    "type": "m.room.message",
    "sender": "@bot:buurt.nl",
    "room_id": "!desk:buurt.nl",
    "content": {
        "msgtype": "m.text",
        "body": "Melding M-0042 · Blauwe Reiger\n\n> Er staat een verdachte auto",
        "format": "org.matrix.custom.html",
        "formatted_body": "<p><strong>Melding M-0042</strong></p><blockquote>auto</blockquote>",
        "m.mentions": {},
        "nl.bin": {"v": 1, "kind": "report", "report": "M-0042", "pseudonym": "Blauwe Reiger"},
    },
    "unsigned": {"age": 12, "transaction_id": "m1234"},
}


def test_needles_include_every_encoding_of_the_user_id() -> None:
    needles = MemberTrace(user_id="@Lidje:buurt.nl").needles()
    for form in ["@Lidje:buurt.nl", "@lidje:buurt.nl", "%40Lidje%3Abuurt.nl", "Lidje"]:
        assert form in needles


def test_needles_include_escaped_display_names_and_skip_what_is_empty() -> None:
    needles = MemberTrace(
        user_id="@ab:hs", display_name='Jan "de" Vries & zn', extra=[""]
    ).needles()
    assert "Jan &quot;de&quot; Vries &amp; zn" in needles
    assert 'Jan \\"de\\" Vries & zn' in needles
    assert "Jan+%22de%22+Vries+%26+zn" in needles
    assert "" not in needles
    assert "ab" not in needles  # a localpart this short would match everywhere
    assert len(needles) == len(set(needles))


def test_needles_include_room_and_event_ids_without_their_sigil_and_mxc_media_ids() -> None:
    needles = TRACE.needles()
    assert "31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM" in needles
    assert "%2431hneApxJ" not in needles
    assert "%21" + "31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM" in needles
    assert "AbCdEfGhIjKlMnOpQrStUv" in needles


def test_a_clean_event_has_no_leaks() -> None:
    assert find_leaks(CLEAN_EVENT, TRACE) == []
    assert_no_leaks([CLEAN_EVENT, CLEAN_EVENT["content"], "plain text", 42, None], TRACE)


@pytest.mark.parametrize(
    ("event", "path"),
    [
        ({"sender": "@lidje:buurt.nl"}, "sender"),
        ({"content": {"body": "> <@LIDJE:BUURT.NL> citaat"}}, "content.body"),
        (
            {"content": {"m.mentions": {"user_ids": ["@lidje:buurt.nl"]}}},
            "content.m.mentions.user_ids[0]",
        ),
        (
            {
                "content": {
                    "formatted_body": '<a href="https://matrix.to/#/%40lidje%3Abuurt.nl">x</a>'
                }
            },
            "content.formatted_body",
        ),
        ({"content": {"body": "groet, Jan &amp; Piet"}}, "content.body"),
        ({"content": {"body": "groet, jan & piet"}}, "content.body"),
        (
            {"content": {"m.relates_to": {"m.in_reply_to": {"event_id": TRACE.event_ids[0]}}}},
            "content.m.relates_to.m.in_reply_to.event_id",
        ),
        ({"content": {"url": "mxc://buurt.nl/AbCdEfGhIjKlMnOpQrStUv"}}, "content.url"),
        (
            {
                "content": {
                    "info": {"thumbnail_file": {"url": "mxc://other/AbCdEfGhIjKlMnOpQrStUv"}}
                }
            },
            "content.info.thumbnail_file.url",
        ),
        ({"content": {"body": "img_20261201_kerkstraat12_jansen.jpg"}}, "content.body"),
        (
            {"content": {"file": {"name": "IMG_20261201_Kerkstraat12_Jansen.jpg"}}},
            "content.file.name",
        ),
        (
            {"unsigned": {"prev_content": {"displayname": "Jan & Piet"}}},
            "unsigned.prev_content.displayname",
        ),
        ({"content": {"@lidje:buurt.nl": "lezen"}}, "content.@lidje:buurt.nl (key)"),
        ({"content": {"nl.bin": {"text": "ik woon op Kerkstraat 12"}}}, "content.nl.bin.text"),
        ({"content": {"list": [("a", ["lidje woont hier"])]}}, "content.list[0][1][0]"),
        ({"content": {"body": b"@lidje:buurt.nl"}}, "content.body"),
        ({"room": "room %2131hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM"}, "room"),
        ('{"sender": "@lidje:buurt.nl"}', "<root>"),
    ],
    ids=[
        "sender",
        "uppercase-fallback",
        "mentions",
        "url-encoded-pill",
        "html-escaped-name",
        "lowercase-name",
        "relation",
        "mxc-url",
        "media-id-on-another-server",
        "lowercase-file-name",
        "file-name-in-encrypted-file-info",
        "unsigned-prev-content",
        "dict-key",
        "bin-fields",
        "localpart-in-nested-lists",
        "bytes",
        "encoded-room-id",
        "serialised-json",
    ],
)
def test_a_leak_is_found_wherever_it_hides(event: Any, path: str) -> None:
    leaks = find_leaks(event, TRACE)
    assert leaks and all(leak.startswith(f"{path}: ") for leak in leaks), leaks


def test_only_the_longest_needle_is_reported_per_place() -> None:
    assert find_leaks({"sender": "@lidje:buurt.nl"}, TRACE) == ["sender: '@lidje:buurt.nl'"]


def test_objects_with_a_source_and_dataclasses_are_walked() -> None:
    @dataclass
    class Event:
        source: dict[str, Any]

    @dataclass
    class Sent:
        room_id: str
        content: dict[str, Any]

    assert find_leaks(Event({"sender": "@lidje:buurt.nl"}), TRACE) == [
        "source.sender: '@lidje:buurt.nl'"
    ]
    assert find_leaks(Sent("!desk:hs", {"body": "Kerkstraat 12"}), TRACE) == [
        "content.body: 'kerkstraat 12'"
    ]


def test_cycles_do_not_hang_the_scanner() -> None:
    loop: dict[str, Any] = {"body": "schoon"}
    loop["self"] = loop
    assert find_leaks(loop, TRACE) == []


def test_assert_no_leaks_lists_every_leak_with_its_event() -> None:
    events = [CLEAN_EVENT, {"sender": "@lidje:buurt.nl"}, {"content": {"body": "Kerkstraat 12"}}]
    with pytest.raises(AssertionError) as failure:
        assert_no_leaks(events, TRACE)
    message = str(failure.value)
    assert "2 leak(s)" in message
    assert "event 1: sender: '@lidje:buurt.nl'" in message
    assert "event 2: content.body: 'kerkstraat 12'" in message
