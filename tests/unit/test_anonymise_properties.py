"""Properties: whatever a member's client wraps around their words, only the words cross."""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from bridge.anonymise import (
    LINK_REMOVED,
    MENTION_REMOVED,
    clean_text,
    member_text,
    quoted_content,
)
from bridge.leakscan import MemberTrace, assert_no_leaks, find_leaks

HEADER = "Melding M-0042 · Groene Specht"
BASE64URL = string.ascii_letters + string.digits + "-_"

# The member's own words: Dutch, with numbers, punctuation, emoji and other scripts.
WORDS = st.sampled_from(
    [
        "er",
        "staat",
        "een",
        "verdachte",
        "auto",
        "bij",
        "de",
        "school",
        "gisteren",
        "om",
        "22:15",
        "kenteken",
        "XX-123-Y",
        "fiets",
        "gestolen!",
        "inbraak?",
        "buurman",
        "ziet",
        "(rood)",
        "hoek",
        "€5,00",
        "👍🏽",
        "👩🏾\u200d🤝\u200d👨🏻",
        "自行车",
        "سيارة",
        "jan@example.nl",
        "@room",
    ]
)
SERVERS = st.sampled_from(["hs", "buurt.nl", "matrix.example.org", "127.0.0.1:8008"])
OPAQUE = st.text(alphabet=string.ascii_letters + string.digits, min_size=6, max_size=18)


@st.composite
def traces(draw: st.DrawFn) -> MemberTrace:
    server = draw(SERVERS)
    localpart = "x" + draw(
        st.text(alphabet=string.ascii_lowercase + string.digits, min_size=4, max_size=12)
    )
    name_parts = draw(
        st.lists(
            st.text(alphabet="QWZqwzÉéÿ", min_size=2, max_size=8).map(str.capitalize),
            min_size=1,
            max_size=3,
        )
    )
    room_v12 = "!" + draw(st.text(alphabet=BASE64URL, min_size=43, max_size=43))
    room_old = f"!{draw(OPAQUE)}:{server}"
    event_id = "$" + draw(st.text(alphabet=BASE64URL, min_size=43, max_size=43))
    mxc = f"mxc://{server}/{draw(OPAQUE)}"
    return MemberTrace(
        user_id=f"@{localpart}:{server}",
        display_name=" ".join(name_parts),
        room_ids=[draw(st.sampled_from([room_v12, room_old]))],
        event_ids=[event_id],
        mxc_urls=[mxc],
        extra=["GEHEIM" + draw(OPAQUE)],  # what the reply quoted
    )


@dataclass
class Case:
    content: dict[str, Any]
    words: list[str]


def permalink(trace: MemberTrace, kind: str) -> str:
    room, event, user = trace.room_ids[0], trace.event_ids[0], trace.user_id
    return {
        "user": f"https://matrix.to/#/{user}",
        "user-encoded": f"https://matrix.to/#/{user.replace('@', '%40').replace(':', '%3A')}",
        "event": f"https://matrix.to/#/{room}/{event}?via=hs",
        "room": f"https://matrix.to/#/{room}",
        "element": f"https://app.element.io/#/room/{room}/{event}",
        "uri-user": f"matrix:u/{user[1:]}?action=chat",
        "uri-event": f"matrix:roomid/{room[1:]}/e/{event[1:]}",
        "mxc": trace.mxc_urls[0],
        "bare-user": user,
    }[kind]


LINK_KINDS = st.sampled_from(
    [
        "user",
        "user-encoded",
        "event",
        "room",
        "element",
        "uri-user",
        "uri-event",
        "mxc",
        "bare-user",
    ]
)


@st.composite
def cases(draw: st.DrawFn, trace: MemberTrace) -> Case:
    """A member's message in the shapes real clients send, identifiers hidden all over it."""
    words = draw(st.lists(WORDS, min_size=1, max_size=12))
    plain: list[str] = []  # body pieces
    html: list[str] = []  # formatted_body pieces
    for word in words:
        plain.append(word)
        html.append(word)
        extra = draw(st.sampled_from(["none", "none", "pill", "link", "newline"]))
        if extra == "pill":
            # A pill: the display name in `body`, a link to the user in the HTML.
            plain.append(trace.display_name or "")
            html.append(f'<a href="https://matrix.to/#/{trace.user_id}">{trace.display_name}</a>')
        elif extra == "link":
            link = permalink(trace, draw(LINK_KINDS))
            plain.append(link)
            html.append(f'<a href="{link}">{link}</a>')
        elif extra == "newline":
            plain.append("\n")
            html.append("<br>")
    body = " ".join(plain)
    formatted = " ".join(html) + f'<img src="{trace.mxc_urls[0]}">'
    content: dict[str, Any] = {"msgtype": draw(st.sampled_from(["m.text", "m.notice", "m.emote"]))}

    reply = draw(st.sampled_from(["none", "element", "legacy", "no-blank-line", "crlf", "nested"]))
    quoted = f"{trace.extra[0]} {trace.display_name} {permalink(trace, 'event')}"
    sender = trace.user_id
    fallback = {
        "none": "",
        "element": f"> <{sender}> {quoted}\n> {trace.display_name}\n\n",
        "legacy": f"> <{sender}> {quoted}\n\n",
        "no-blank-line": f"> <{sender}> {quoted}\n",
        "crlf": f"> <{sender}> {quoted}\r\n> meer\r\n\r\n",
        "nested": f"> > <{sender}> {quoted}\n> <{sender}> {trace.display_name}\n\n",
    }[reply]
    if reply != "none":
        formatted = (
            "<mx-reply><blockquote>"
            f'<a href="{permalink(trace, "event")}">In reply to</a> '
            f'<a href="https://matrix.to/#/{sender}">{sender}</a><br>{quoted}'
            "</blockquote></mx-reply>" + formatted
        )
        if reply != "legacy":
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": trace.event_ids[0]}}
    content["body"] = fallback + body
    content["format"] = "org.matrix.custom.html"
    content["formatted_body"] = formatted
    content["m.mentions"] = {"user_ids": [trace.user_id]}
    return Case(content=content, words=words)


@st.composite
def traced_cases(draw: st.DrawFn) -> tuple[MemberTrace, Case]:
    trace = draw(traces())
    case = draw(cases(trace))
    # The generated words, and what the bot adds, must not contain an identifier by chance.
    fixed = [HEADER, LINK_REMOVED, MENTION_REMOVED, *case.words]
    assume(not find_leaks(fixed, trace))
    return trace, case


@given(traced_cases())
def test_no_identifier_crosses_and_the_members_words_do(
    generated: tuple[MemberTrace, Case],
) -> None:
    trace, case = generated
    text = member_text(case.content)
    assert text is not None
    out = quoted_content(HEADER, text)
    assert_no_leaks([out], trace)
    for word in case.words:
        if word == "@room":
            assert "@\u2060room" in out["body"]
        else:
            assert word in text
            assert word in out["body"]
    assert out["m.mentions"] == {}


@given(traced_cases())
def test_every_line_of_the_members_words_is_quoted(generated: tuple[MemberTrace, Case]) -> None:
    _, case = generated
    text = member_text(case.content)
    assert text is not None
    head, blank, *quoted = quoted_content(HEADER, text)["body"].split("\n")
    assert (head, blank) == (HEADER, "")
    assert quoted and all(line.startswith("> ") for line in quoted)


# Fragments that make broken HTML and half reply fallbacks more likely than plain text does.
FRAGMENTS = st.sampled_from(
    [*"<>/=\"' a&;#x@:!$\n\r", "<a href=", "mx-reply", "> <@", "matrix.to/#/", "\x1b]", "\u200b"]
)
HTMLISH = st.lists(FRAGMENTS | st.text(max_size=3)).map("".join)


@given(st.text() | HTMLISH, st.text() | HTMLISH)
def test_member_text_never_fails_and_gives_clean_text(body: str, formatted_body: str) -> None:
    text = member_text({"msgtype": "m.text", "body": body, "formatted_body": formatted_body})
    if text is not None:
        assert text == text.strip()
        assert clean_text(text) == text
        assert not any(ord(ch) < 32 and ch not in "\n\t" for ch in text)
        quoted_content(HEADER, text)["formatted_body"].encode("utf-8")


@given(st.text() | HTMLISH)
def test_cleaning_twice_changes_nothing_more(text: str) -> None:
    once = clean_text(text)
    assert clean_text(once) == once
