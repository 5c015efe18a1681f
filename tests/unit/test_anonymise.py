"""What crosses the relay: tables of real Matrix event content and what must come out."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from bridge.anonymise import (
    LINK_REMOVED,
    MENTION_REMOVED,
    clean_text,
    coordinator_text,
    defuse_room_mention,
    member_text,
    plain_content,
    quoted_content,
    strip_mx_reply,
    strip_reply_fallback,
)
from bridge.leakscan import MemberTrace, assert_no_leaks

WJ = "\u2060"
HEADER = "Melding M-0042 · Groene Specht"
ROOM_V12 = "!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM"
EVENT = "$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg"


def text_content(body: str, **extra: Any) -> dict[str, Any]:
    return {"msgtype": "m.text", "body": body, **extra}


# Element Web's reply to the bot's relayed answer, as it arrives in the member's room (C01).
ELEMENT_REPLY: dict[str, Any] = {
    "msgtype": "m.text",
    "body": (
        "> <@bot:hs> Antwoord van je coördinator: we sturen iemand langs\n"
        "> Groet, BIN Oost\n"
        "\n"
        "Dank je, de auto staat er nog"
    ),
    "format": "org.matrix.custom.html",
    "formatted_body": (
        "<mx-reply><blockquote>"
        '<a href="https://matrix.to/#/!priv:hs/$ev?via=hs">In reply to</a> '
        '<a href="https://matrix.to/#/@bot:hs">@bot:hs</a>'
        "<br>Antwoord van je coördinator: we sturen iemand langs<br>Groet, BIN Oost"
        "</blockquote></mx-reply>"
        "Dank je, de auto staat er nog"
    ),
    "m.relates_to": {"m.in_reply_to": {"event_id": "$ev"}},
    "m.mentions": {"user_ids": ["@bot:hs"]},
}

# A coordinator's threaded reply on the bot's report in the desk (C02): the fallback quotes the
# report and, replying to a colleague, names that coordinator.
COORDINATOR_REPLY: dict[str, Any] = {
    "msgtype": "m.text",
    "body": (
        "> <@co2:hs> Ik bel morgen de wijkagent over Melding M-0042 · Blauwe Reiger\n"
        "\n"
        "We hebben de politie gevraagd langs te rijden."
    ),
    "format": "org.matrix.custom.html",
    "formatted_body": (
        "<mx-reply><blockquote>"
        '<a href="https://matrix.to/#/!desk:hs/$colleague?via=hs">In reply to</a> '
        '<a href="https://matrix.to/#/@co2:hs">@co2:hs</a><br>'
        "Ik bel morgen de wijkagent over Melding M-0042 · Blauwe Reiger"
        "</blockquote></mx-reply>"
        "We hebben de politie gevraagd langs te rijden."
    ),
    "m.relates_to": {
        "rel_type": "m.thread",
        "event_id": "$report",
        "is_falling_back": False,
        "m.in_reply_to": {"event_id": "$colleague"},
    },
    "m.mentions": {"user_ids": ["@co2:hs"]},
}


# --- strip_reply_fallback -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("> <@bot:hs> citaat\n> tweede regel\n\nnieuwe tekst", "nieuwe tekst"),
        ("> <@bot:hs> citaat\nnieuwe tekst", "nieuwe tekst"),
        ("> <@bot:hs> citaat\r\n\r\nnieuwe\r\ntekst", "nieuwe\ntekst"),
        ("> <@bot:hs> citaat\r\rnieuw", "nieuw"),
        ("> <@bot:hs> citaat\n> meer citaat", ""),
        ("> > <@a:hs> dieper\n> <@b:hs> citaat\n\nnieuw", "nieuw"),
        (">citaat zonder spatie\n>\n\nnieuw", "nieuw"),
        ("  > ingesprongen citaat\n\nnieuw", "nieuw"),
        ("> <@bot:hs> citaat\n\n\n\nnieuw", "nieuw"),
        ("> <@bot:hs> citaat\n\nnieuw\n> mijn eigen citaat", "nieuw\n> mijn eigen citaat"),
        ("gewone tekst\n> later citaat", "gewone tekst\n> later citaat"),
        ("", ""),
    ],
    ids=[
        "spec-shape",
        "no-blank-line",
        "crlf",
        "bare-cr",
        "only-quote-lines",
        "nested-quotes",
        "no-space-after-marker",
        "indented",
        "several-blank-lines",
        "later-quote-kept",
        "no-fallback",
        "empty",
    ],
)
def test_strip_reply_fallback_removes_only_the_leading_quote(body: str, expected: str) -> None:
    assert strip_reply_fallback(body) == expected


# --- strip_mx_reply -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (ELEMENT_REPLY["formatted_body"], "Dank je, de auto staat er nog"),
        ("<MX-REPLY><blockquote>citaat</blockquote></Mx-Reply>nieuw", "nieuw"),
        ('<mx-reply data-x="1"><blockquote>citaat</blockquote></mx-reply >nieuw', "nieuw"),
        ("< mx-reply>citaat</ mx-reply>nieuw", "nieuw"),
        ("<mx-reply><mx-reply>binnen</mx-reply>buiten</mx-reply>nieuw", "nieuw"),
        ("<mx-reply><blockquote>nooit gesloten</blockquote>nieuw", ""),
        ("nieuw</mx-reply> meer", "nieuw meer"),
        ("voor<mx-reply>citaat</mx-reply>na", "voorna"),
        ("<p>geen antwoord</p>", "<p>geen antwoord</p>"),
        ("<mx-replyx>geen mx-reply</mx-replyx>", "<mx-replyx>geen mx-reply</mx-replyx>"),
    ],
    ids=[
        "element",
        "uppercase",
        "attributes",
        "spaces-in-tag",
        "nested",
        "unclosed",
        "stray-close",
        "in-the-middle",
        "none",
        "other-tag",
    ],
)
def test_strip_mx_reply_removes_every_reply_block(html: str, expected: str) -> None:
    assert strip_mx_reply(html) == expected


# --- clean_text ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("regel een\r\nregel twee\rregel drie", "regel een\nregel twee\nregel drie"),
        ("a\u2028b\u2029c\x85d", "a\nb\nc\nd"),
        ("kijk\x1b]52;c;ZXZpbCBjbGlwYm9hcmQ=\x07 uit", "kijk uit"),
        ("\x1b[2Jweg\x1b[31;1mrood\x1b[0m", "wegrood"),
        ("\x1b]8;;http://tracker.example/x\x1b\\klik hier\x1b]8;;\x1b\\", "klik hier"),
        ("\x1b]8;;http://tracker.example/x\x07klik\x1b]8;;\x07", "klik"),
        ("\x9b2Jweg\x9d0;titel\x9c", "weg"),
        ("\x1bcreset\x1b(Bcharset", "resetcharset"),
        ("\x1b]52;c;nooit beëindigd\nvolgende regel", "52;c;nooit beëindigd\nvolgende regel"),
        ("a\x00b\x07c\x08d\x7fe\x0bf\x0cg", "abcdefg"),
        ("kolom\tkolom", "kolom\tkolom"),
        ("gewoon \u202eesrever\u202c en \u2066geïsoleerd\u2069", "gewoon esrever en geïsoleerd"),
        ("\u200b\ufeff \u2060hallo\u200f \u200d", "hallo"),
        ("\u3164\u2800 hallo \u00ad", "hallo"),
        ("a\n\n\n\n\nb", "a\n\n\nb"),
        ("a\n \n\t\n  \n\nb", "a\n\n\nb"),
        ("a\n\n\nb", "a\n\n\nb"),
        ("a\ud800b", "ab"),
        ("[bold red]geen opmaak[/] [link=x]", "[bold red]geen opmaak[/] [link=x]"),
        ("  \n tekst met spaties  \n ", "tekst met spaties"),
    ],
    ids=[
        "crlf-and-cr",
        "unicode-line-separators",
        "osc52-clipboard",
        "csi-clear-and-colour",
        "osc8-hyperlink-st",
        "osc8-hyperlink-bel",
        "c1-csi-and-osc",
        "two-char-escapes",
        "unterminated-osc",
        "c0-controls-and-del",
        "tab-kept",
        "bidi-overrides-and-isolates",
        "zero-width-at-ends",
        "fillers-at-ends",
        "many-blank-lines",
        "whitespace-only-lines-count-as-blank",
        "two-blank-lines-kept",
        "lone-surrogate",
        "rich-markup-is-text",
        "outer-whitespace",
    ],
)
def test_clean_text_neutralises_controls_and_keeps_the_words(text: str, expected: str) -> None:
    assert clean_text(text) == expected
    assert clean_text(expected) == expected


@pytest.mark.parametrize(
    "text",
    [
        "👍🏽 Goed gedaan",
        "👩🏾\u200d🤝\u200d👨🏻 buren helpen elkaar",
        "👨\u200d👩\u200d👧\u200d👦",
        "🏳️\u200d🌈 ❤️",
        "有人在偷自行车，就在学校旁边",
        "مرحبا، هناك سيارة مشبوهة أمام المدرسة",
        "עברית ו-English door elkaar",
        "Café naïve — ‘aanhalingstekens’ … €5,00",
        "ज़िला 🇳🇱 कार",
        "ZWSP\u200bbinnenin blijft",
    ],
)
def test_wide_and_mixed_scripts_are_relayed_unchanged(text: str) -> None:  # C11
    assert clean_text(text) == text
    assert member_text(text_content(text)) == text
    assert quoted_content(HEADER, text)["body"] == f"{HEADER}\n\n> {text}"


# --- member_text --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (ELEMENT_REPLY, "Dank je, de auto staat er nog"),
        (
            text_content(
                "Zonder citaat (nieuwe clients)",
                **{"m.relates_to": {"m.in_reply_to": {"event_id": "$ev"}}},
            ),
            "Zonder citaat (nieuwe clients)",
        ),
        (text_content("> <@lid:hs> oude client zonder relatie\n\nnieuw"), "nieuw"),
        (
            text_content("\u200b> <@bot:hs> verstopt citaat\n\nnieuw"),
            "nieuw",
        ),
        (
            text_content("> dat zei de buurman\n\nik ben het eens"),
            "> dat zei de buurman\n\nik ben het eens",
        ),
        ({"msgtype": "m.notice", "body": "een notice"}, "een notice"),
        ({"msgtype": "m.emote", "body": "zwaait naar de buurt"}, "zwaait naar de buurt"),
        (
            text_content("Verdachte auto\r\nKenteken XX-123-Y\r\n"),
            "Verdachte auto\nKenteken XX-123-Y",
        ),
    ],
    ids=[
        "element-reply-C01",
        "reply-without-fallback",
        "legacy-fallback-without-relation",
        "fallback-behind-zero-width",
        "members-own-quote-kept",
        "notice",
        "emote",
        "crlf",
    ],
)
def test_member_text_keeps_only_the_new_words(content: dict[str, Any], expected: str) -> None:
    assert member_text(content) == expected


def test_the_element_reply_leaves_no_trace_of_the_private_room() -> None:  # C01
    trace = MemberTrace(
        user_id="@lid:hs",
        room_ids=["!priv:hs"],
        event_ids=["$ev"],
        extra=["@bot:hs", "Antwoord van je", "Groet, BIN Oost", "In reply to", "matrix.to"],
    )
    text = member_text(ELEMENT_REPLY)
    assert text is not None
    assert_no_leaks([quoted_content(HEADER, text)], trace)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("kijk https://matrix.to/#/@lid:hs en", f"kijk {LINK_REMOVED} en"),
        ("zie https://matrix.to/#/!priv:hs/$ev?via=hs.", f"zie {LINK_REMOVED}."),
        ("zie (https://matrix.to/#/%40lid%3Ahs)", f"zie ({LINK_REMOVED})"),
        (f"matrix.to/#/{ROOM_V12}/{EVENT}", LINK_REMOVED),
        ("HTTPS://MATRIX.TO/#/@LID:HS", LINK_REMOVED),
        ("https://app.element.io/#/room/!priv:hs/$ev", LINK_REMOVED),
        ("https://chat.buurt.nl/#/user/@lid:hs", LINK_REMOVED),
        ("https://links.buurt.nl/#/%40lid%3Ahs", LINK_REMOVED),
        ("https://chat.buurt.nl/element/#/!priv:hs/$ev", LINK_REMOVED),
        ("matrix:u/lid:hs?action=chat", LINK_REMOVED),
        ("matrix:roomid/priv:hs/e/ev?via=hs", LINK_REMOVED),
        ("matrix:r/wijk-oost:hs", LINK_REMOVED),
        ("foto: mxc://hs/AbCdEfGhIjKlMnOp", f"foto: {LINK_REMOVED}"),
        ("vraag @lid:hs maar", f"vraag {MENTION_REMOVED} maar"),
        ("@lid:127.0.0.1:8008 zegt", f"{MENTION_REMOVED} zegt"),
        ("kamer !priv:hs en #wijk-oost:hs", f"kamer {MENTION_REMOVED} en {MENTION_REMOVED}"),
        (
            f"kamer {ROOM_V12}, bericht {EVENT}",
            f"kamer {MENTION_REMOVED}, bericht {MENTION_REMOVED}",
        ),
    ],
    ids=[
        "user-permalink",
        "event-permalink",
        "url-encoded-permalink",
        "permalink-without-scheme",
        "uppercase-permalink",
        "element-web-room-link",
        "element-web-user-link",
        "custom-permalink-prefix",
        "permalink-under-a-path",
        "matrix-uri-user",
        "matrix-uri-event",
        "matrix-uri-alias",
        "mxc-url",
        "bare-user-id",
        "bare-user-id-with-port",
        "bare-room-id-and-alias",
        "server-less-ids-room-v12",
    ],
)
def test_links_and_ids_that_point_at_people_or_rooms_are_removed(body: str, expected: str) -> None:
    assert member_text(text_content(body)) == expected


@pytest.mark.parametrize(
    "body",
    [
        "mail jan@example.nl of bel 0900-8844",
        "@room kijk uit",
        "om 10:30 uur, tijd 22:15",
        "zie https://www.politie.nl/aangifte-of-melding-doen",
        "kost €5,00 of $5:00",
        "Let op!!! Inbraak:gisteren",
        "#hashtag en !belangrijk",
    ],
)
def test_ordinary_text_that_looks_a_bit_like_an_id_is_kept(body: str) -> None:
    assert member_text(text_content(body)) == body


@pytest.mark.parametrize(
    ("body", "formatted_body", "expected"),
    [
        (
            "Co Coördinator kijk uit bij de school",
            '<a href="https://matrix.to/#/@co:hs">Co Coördinator</a> kijk uit bij de school',
            f"{MENTION_REMOVED} kijk uit bij de school",
        ),
        (
            "@room kijk uit, @Jan ook",
            '@room kijk uit, <a href="https://matrix.to/#/%40jan%3Ahs">Jan</a> ook',
            f"@room kijk uit, {MENTION_REMOVED} ook",
        ),
        (
            "Janneke en Jan",
            '<a href="https://matrix.to/#/@jan:hs">Jan</a> en Janneke',
            f"Janneke en {MENTION_REMOVED}",
        ),
        (
            "zie #wijk-oost",
            '<a href="https://matrix.to/#/#wijk-oost:hs">#wijk-oost</a>',
            f"zie {MENTION_REMOVED}",
        ),
        (
            "A & B",
            '<a href="matrix:u/ab:hs">A &amp; B</a>',
            MENTION_REMOVED,
        ),
        (
            "Bert gaat mee",
            '<a href="https://www.buurt.nl">Bert</a> gaat mee',
            "Bert gaat mee",
        ),
    ],
    ids=[
        "pill",
        "pill-with-at-sign",
        "whole-words-only",
        "room-pill",
        "escaped-pill",
        "ordinary-link",
    ],
)
def test_pills_are_removed_from_the_plain_text(  # C03
    body: str, formatted_body: str, expected: str
) -> None:
    content = text_content(
        body,
        format="org.matrix.custom.html",
        formatted_body=formatted_body,
        **{"m.mentions": {"user_ids": ["@co:hs"]}},
    )
    assert member_text(content) == expected


def test_room_mentions_and_pills_ping_nobody_in_the_desk() -> None:  # C03
    content = text_content(
        "@room kijk uit, Co Coördinator weet ervan",
        format="org.matrix.custom.html",
        formatted_body='@room kijk uit, <a href="https://matrix.to/#/@co:hs">Co Coördinator</a>'
        " weet ervan",
        **{"m.mentions": {"user_ids": ["@co:hs"], "room": True}},
    )
    text = member_text(content)
    assert text is not None
    out = quoted_content(HEADER, text)
    assert out["m.mentions"] == {}
    assert "@room" not in json.dumps(out, ensure_ascii=False).lower()
    assert (
        out["body"].replace(WJ, "").endswith("> @room kijk uit, " + MENTION_REMOVED + " weet ervan")
    )
    assert_no_leaks([out], MemberTrace(user_id="@co:hs", display_name="Co Coördinator"))


@pytest.mark.parametrize(
    "content",
    [
        text_content(""),
        text_content("   "),
        text_content("\n\n\t\n"),
        text_content("\u200b\u200b"),
        text_content("\u2060\ufeff\u200d"),
        text_content("\u3164 \u2800"),
        text_content("\u202e"),
        text_content("\x1b[2J\x07"),
        text_content(
            "> <@bot:hs> alleen een citaat",
            **{"m.relates_to": {"m.in_reply_to": {"event_id": "$ev"}}},
        ),
        {"msgtype": "m.image", "body": "IMG_20261201_Kerkstraat12_Jansen.jpg", "url": "mxc://hs/x"},
        {"msgtype": "m.file", "body": "aangifte.pdf"},
        {"msgtype": "m.location", "body": "Locatie", "geo_uri": "geo:51.6,5.3"},
        {"msgtype": "m.text"},
        {"msgtype": "m.text", "body": ["geen", "tekst"]},
        {"body": "geen msgtype"},
        {},
    ],
    ids=[
        "empty",
        "spaces",
        "newlines-and-tabs",
        "zero-width-spaces",
        "joiners-and-bom",
        "fillers",
        "bidi-override",
        "only-escapes",
        "only-a-reply-quote",
        "image",
        "file",
        "location",
        "no-body",
        "body-not-text",
        "no-msgtype",
        "no-content",
    ],
)
def test_nothing_is_relayed_when_there_are_no_words(content: dict[str, Any]) -> None:  # C15
    assert member_text(content) is None


@pytest.mark.parametrize(
    "formatted_body",
    ["<a href=", "<<<>>>", "<a href='https://matrix.to/#/@x:hs'>nooit dicht", "&#xd800;", "<!--"],
)
def test_broken_html_does_not_break_member_text(formatted_body: str) -> None:
    content = text_content("hallo", format="org.matrix.custom.html", formatted_body=formatted_body)
    assert member_text(content) in {"hallo", MENTION_REMOVED}


# --- coordinator_text ---------------------------------------------------------------------------


def test_a_coordinators_reply_quote_never_reaches_the_member() -> None:  # C02
    assert coordinator_text(COORDINATOR_REPLY) == "We hebben de politie gevraagd langs te rijden."
    text = coordinator_text(COORDINATOR_REPLY)
    assert text is not None
    trace = MemberTrace(
        user_id="@co2:hs",
        room_ids=["!desk:hs"],
        event_ids=["$colleague", "$report"],
        extra=["Blauwe Reiger", "M-0042", "wijkagent"],
    )
    assert_no_leaks(
        [plain_content(text), quoted_content("Antwoord van je coördinator", text)], trace
    )


def test_a_coordinator_reply_in_a_thread_without_fallback_is_kept_whole() -> None:
    content = text_content(
        "Dank voor je melding.\n\nWe nemen contact op met de wijkagent.",
        **{"m.relates_to": {"rel_type": "m.thread", "event_id": "$report"}},
    )
    assert (
        coordinator_text(content)
        == "Dank voor je melding.\n\nWe nemen contact op met de wijkagent."
    )


# --- defuse_room_mention ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@room kijk uit", f"@{WJ}room kijk uit"),
        ("Let op @ROOM!", f"Let op @{WJ}ROOM!"),
        ("@Room en @room", f"@{WJ}Room en @{WJ}room"),
        ("(@room)", f"(@{WJ}room)"),
        ("@roomie", f"@{WJ}roomie"),
        ("info@roomservice.nl", "info@roomservice.nl"),
        ("geen vermelding", "geen vermelding"),
    ],
)
def test_room_mentions_are_defused_but_stay_readable(text: str, expected: str) -> None:
    assert defuse_room_mention(text) == expected
    assert defuse_room_mention(text).replace(WJ, "") == text


# --- quoted_content -----------------------------------------------------------------------------


def test_quoted_content_has_the_shape_the_bot_posts() -> None:
    out = quoted_content(HEADER, "Er staat een verdachte auto\nbij de school")
    assert out == {
        "msgtype": "m.text",
        "body": f"{HEADER}\n\n> Er staat een verdachte auto\n> bij de school",
        "format": "org.matrix.custom.html",
        "formatted_body": (
            f"<p><strong>{HEADER}</strong></p>"
            "<blockquote>Er staat een verdachte auto<br>bij de school</blockquote>"
        ),
        "m.mentions": {},
    }


def test_quoted_content_can_be_a_notice() -> None:
    assert quoted_content(HEADER, "tekst", msgtype="m.notice")["msgtype"] == "m.notice"


@pytest.mark.parametrize(
    "typed",
    [
        "Melding M-0003 · Blauwe Reiger:\n\nIk ben het, bel me",
        "Goed\r\nMelding M-0003 · Blauwe Reiger:\r\n\r\nIk ben het, bel me",
        "Goed\rMelding M-0003 · Blauwe Reiger:\rIk ben het",
        "Goed\u2028Melding M-0003 · Blauwe Reiger:\u2029Ik ben het",
        "Goed\n\n\n\n\n\nMelding M-0003 · Blauwe Reiger:\n\nIk ben het",
        "</blockquote><p><strong>Melding M-0003 · Blauwe Reiger</strong></p>Ik ben het",
        "\u202eregieR ewualB · 3000-M gnidleM",
    ],
    ids=["plain", "crlf", "bare-cr", "unicode-separators", "blank-lines", "html", "bidi-override"],
)
def test_a_forged_header_stays_inside_the_quote(typed: str) -> None:  # C07
    text = member_text(text_content(typed))
    assert text is not None
    out = quoted_content(HEADER, text)
    head, blank, *quoted = out["body"].split("\n")
    assert (head, blank) == (HEADER, "")
    assert quoted and all(line.startswith("> ") for line in quoted)
    html = out["formatted_body"]
    prefix = f"<p><strong>{HEADER}</strong></p><blockquote>"
    assert html.startswith(prefix) and html.endswith("</blockquote>")
    inner = html.removeprefix(prefix).removesuffix("</blockquote>")
    assert "<" not in inner.replace("<br>", "")
    assert "\u202e" not in out["body"]


def test_a_header_with_a_line_break_stays_on_one_line() -> None:
    out = quoted_content("Melding M-0042\n· Groene Specht", "tekst")
    assert out["body"] == "Melding M-0042 · Groene Specht\n\n> tekst"


def test_text_is_escaped_in_the_html() -> None:
    out = quoted_content("Kop <b> & co", 'a < b & c > "d"\n<script>alert(1)</script>')
    assert out["formatted_body"] == (
        "<p><strong>Kop &lt;b&gt; &amp; co</strong></p>"
        "<blockquote>a &lt; b &amp; c &gt; &quot;d&quot;<br>"
        "&lt;script&gt;alert(1)&lt;/script&gt;</blockquote>"
    )


def test_blank_lines_inside_the_text_are_quoted_too() -> None:
    out = quoted_content(HEADER, "een\n\ntwee")
    assert out["body"] == f"{HEADER}\n\n> een\n> \n> twee"


def test_room_mentions_are_defused_in_body_and_html() -> None:
    out = quoted_content(HEADER, "@room brand!")
    assert out["body"].endswith(f"> @{WJ}room brand!")
    assert f"@{WJ}room brand!" in out["formatted_body"]


C08_FORMATTED = (
    "<script>alert(document.cookie)</script>"
    '<p>Kijk deze foto <img src="mxc://evil.example/tracker" alt="foto"></p>'
    '<a href="javascript:alert(1)">klik</a> '
    '<font data-mx-color="#ff0000" color="red">rood</font> '
    '<span data-mx-spoiler="geheim">x</span>'
    + "<div><blockquote><ul><li><b><i>" * 200
    + "diep"
    + "</i></b></li></ul></blockquote></div>" * 200
)


@pytest.mark.parametrize(
    "body",
    [
        "Kijk deze foto klik rood x diep",
        "[klik](javascript:alert(1)) foto mxc://evil.example/tracker",
    ],
    ids=["element-plain-text", "markdown-source"],
)
def test_nothing_of_the_members_html_survives(body: str) -> None:  # C08
    content = text_content(body, format="org.matrix.custom.html", formatted_body=C08_FORMATTED)
    text = member_text(content)
    assert text is not None
    out = quoted_content(HEADER, text)
    html = out["formatted_body"].lower()
    for fragment in ["<script", "<img", "<a ", "<font", "<span", "<div", "href=", "src=", "mxc://"]:
        assert fragment not in html
    for fragment in ["data-mx-", "mxc://", "evil.example", "<script"]:
        assert fragment not in json.dumps(out).lower()


def test_text_typed_as_html_is_shown_literally() -> None:  # C08
    text = member_text(text_content('<img src="x" onerror="alert(1)">'))
    assert text is not None
    out = quoted_content(HEADER, text)
    assert out["body"].endswith('> <img src="x" onerror="alert(1)">')
    assert "<img" not in out["formatted_body"]
    assert "&lt;img src=&quot;x&quot;" in out["formatted_body"]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("kijk\x1b]52;c;ZXZpbA==\x07 uit", "kijk uit"),
        ("\x1b[2J\x1b[Hschoon", "schoon"),
        ("\x1b]8;;http://tracker.example/?id=1\x07klik\x1b]8;;\x07", "klik"),
        ("abc\u202edef", "abcdef"),
        ("\u200bzero\u200b", "zero"),
        ("[bold red]tekst[/] [link=x]", "[bold red]tekst[/] [link=x]"),
    ],
)
def test_terminal_escapes_never_reach_the_desk(typed: str, expected: str) -> None:  # C10
    text = member_text(text_content(typed))
    assert text == expected
    out = quoted_content(HEADER, text)
    for value in (out["body"], out["formatted_body"]):
        assert not any(ch in value for ch in "\x1b\x07\x9b\x9d\u202e")


# --- plain_content -----------------------------------------------------------------------------


def test_plain_content_is_a_notice_with_escaped_html_that_pings_nobody() -> None:
    out = plain_content("Bedankt <voor> je melding.\n@room: 112 bij spoed")
    assert out == {
        "msgtype": "m.notice",
        "body": f"Bedankt <voor> je melding.\n@{WJ}room: 112 bij spoed",
        "format": "org.matrix.custom.html",
        "formatted_body": f"Bedankt &lt;voor&gt; je melding.<br>@{WJ}room: 112 bij spoed",
        "m.mentions": {},
    }


def test_plain_content_can_be_a_text_message() -> None:
    assert plain_content("hallo", msgtype="m.text")["msgtype"] == "m.text"


# --- size and speed -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "a" + " " * 60_000 + "b",
        "@" * 60_000,
        "@x" * 30_000,
        "\x1b]" * 30_000,
        "https://matrix.to/#/" + "a" * 60_000 + ".",
        "!" + "A" * 60_000,
        "> " * 30_000,
        "\n" * 60_000 + "x",
        "woord " * 10_000,
        "http://" * 8_000,
        "https://a/#/" * 5_000,
        "@a:" + "1" * 60_000,
        "@a:1" * 15_000,
        "\x1b]" + "a" * 60_000,
    ],
    ids=[
        "spaces",
        "at-signs",
        "at-pairs",
        "osc-starts",
        "long-link",
        "long-id",
        "quotes",
        "newlines",
        "words",
        "scheme-run",
        "permalink-run",
        "long-server",
        "id-run",
        "unterminated-osc",
    ],
)
def test_a_hostile_60_kb_message_is_handled_quickly(body: str) -> None:  # C09
    content = text_content(body, **{"m.relates_to": {"m.in_reply_to": {"event_id": "$ev"}}})
    started = time.perf_counter()
    text = member_text(content)
    quoted_content(HEADER, text or "")
    assert time.perf_counter() - started < 2.0
