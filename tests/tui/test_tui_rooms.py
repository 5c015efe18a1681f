"""The police and wijk rooms as the client reads them from the bot's own messages."""

from __future__ import annotations

from typing import Any

import pytest

from bintui.commands import BROADCAST_CATEGORIES
from bintui.reports import RoomEvent
from bintui.rooms import RoomBook, room_role, template_regex
from bridge import anonymise, i18n
from bridge.fairness import check_broadcast
from bridge.protocol import FIELD, BinFields, Kind

BOT = "@bin:localhost"
ANNA = "@anna:localhost"
DESK, POLICE, WIJK = "!desk:l", "!police:l", "!wijk:l"
TEXT = "Let op: babbeltrucs aan de deur."


def event(event_id: str, room: str, content: dict[str, Any], ts: float, sender: str = BOT):
    return RoomEvent(event_id, room, sender, "BIN", ts, content)


def say(text: str, **fields: Any) -> dict[str, Any]:
    """A plain notice as the bot's `_say` builds it."""
    content = anonymise.plain_content(text)
    content[FIELD] = BinFields(kind=Kind.SYSTEM, **fields).to_content()
    return content


def preview(label: str, text: str, count: int, category: str = "waarschuwing", lang="nl"):
    """The bot's preview notice, built exactly as bridge/broadcasts.py does."""
    verdict = check_broadcast(text)
    header = i18n.t(
        "broadcast.preview_unfair" if verdict.flagged else "broadcast.preview",
        lang,
        label=label,
        category=category,
        count=count,
        phrases=verdict.quoted,
    )
    content = anonymise.quoted_content(header, text, msgtype="m.notice")
    content[FIELD] = BinFields(kind=Kind.SYSTEM, wijk="oost", report=label, text=text).to_content()
    return content


def named_book() -> RoomBook:
    book = RoomBook(bot_user_id=BOT)
    book.set_room_name(DESK, "BIN Oost · Coördinatoren")
    book.set_room_name(POLICE, "BIN Oost · Politie & gemeente")
    book.set_room_name(WIJK, "BIN Oost · Wijkberichten")
    return book


def test_the_broadcast_categories_are_the_bots() -> None:
    from bridge.broadcasts import CATEGORIES

    assert BROADCAST_CATEGORIES == CATEGORIES


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("BIN Oost · Coördinatoren", ("desk", "Oost")),
        ("BIN Wijk Noord · Politie & gemeente", ("police", "Wijk Noord")),
        ("BIN Oost · Broadcasts", ("wijk", "Oost")),
        ("BIN Oost · Coordinators", ("desk", "Oost")),
        ("Oost · Coördinatoren", None),
        ("Koffie", None),
        (None, None),
    ],
)
def test_a_rooms_role_comes_from_the_name_the_bot_gave_it(name, expected) -> None:
    assert room_role(name) == expected


def test_the_wijk_slug_comes_from_the_bots_fields_in_any_of_its_rooms() -> None:
    book = named_book()
    assert [(w.slug, w.name) for w in book.wijken()] == [("oost", "Oost")]  # a guess so far
    bulletin = BinFields(kind=Kind.BULLETIN, wijk="o-1", report="B-0001", text="x")
    book.add(event("$b", POLICE, {"body": "…", FIELD: bulletin.to_content()}, 1))
    (wijk,) = book.wijken()
    assert (wijk.slug, wijk.desk, wijk.police, wijk.wijk) == ("o-1", DESK, POLICE, WIJK)


def test_bulletins_and_forwards_are_listed_from_their_fields_and_redactions_remove_them() -> None:
    book = named_book()
    text = "Vannacht drie inbraken in schuurtjes. [bold]Let op[/bold]"
    ack = anonymise.plain_content(i18n.t("police.bulletin_ack", "nl", bulletin="B-0001"))
    ack[FIELD] = BinFields(kind=Kind.BULLETIN, wijk="oost", report="B-0001", text=text).to_content()
    book.add(event("$b1", POLICE, ack, 10))
    fwd = BinFields(kind=Kind.FORWARD, wijk="oost", report="M-0003", text="busje", note="2x")
    book.add(event("$f1", POLICE, {"body": "…", FIELD: fwd.to_content()}, 20))
    items = book.police_items()
    assert [(p.kind, p.label, p.text, p.note) for p in items] == [
        ("forward", "M-0003", "busje", "2x"),
        ("bulletin", "B-0001", text, None),
    ]
    assert book.redact("$b1")
    assert [p.label for p in book.police_items()] == ["M-0003"]


def test_a_broadcast_goes_from_preview_to_delivered_as_the_bot_reports_it() -> None:
    book = named_book()
    book.add(event("$p", WIJK, preview("W-0001", TEXT, 42), 10))
    (b,) = book.broadcasts()
    assert (b.wijk, b.label, b.phase, b.recipients, b.category, b.text, b.unfair) == (
        "oost",
        "W-0001",
        "preview",
        42,
        "waarschuwing",
        TEXT,
        None,
    )
    steps = [
        ("broadcast.confirmed", {"seconds": 30.0}, "confirmed"),
        ("broadcast.started", {"count": 42}, "sending"),
        ("broadcast.done", {"delivered": 41, "total": 42}, "done"),
    ]
    for ts, (key, values, phase) in enumerate(steps, start=11):
        book.add(event(f"${key}", WIJK, say(i18n.t(key, "nl", label="W-0001", **values)), ts))
        assert book.broadcasts()[0].phase == phase
    (b,) = book.broadcasts()
    assert (b.undo_seconds, b.delivered, b.total, b.recipients) == (30.0, 41, 42, 42)


def test_the_fairness_verdict_and_a_refusal_are_read_from_the_bots_preview() -> None:
    book = named_book()
    words = "Een donkere man liep richting station."
    book.add(event("$p", WIJK, preview("W-0002", words, 7, "verdachte situatie", "en"), 10))
    (b,) = book.broadcasts()
    assert (b.category, b.recipients, b.unfair) == ("verdachte situatie", 7, '"donkere man"')
    refused = i18n.t("broadcast.unfair_not_sent", "nl", label="W-0002", phrases='"donkere man"')
    book.add(event("$r", WIJK, say(refused), 11))
    assert book.broadcasts()[0].phase == "refused"
    cancelled = i18n.t("broadcast.cancelled", "nl", label="W-0002")
    book.add(event("$c", WIJK, say(cancelled), 12))
    assert book.broadcasts()[0].phase == "cancelled"


def test_nobody_but_the_bot_can_report_a_delivery() -> None:
    book = named_book()
    book.add(event("$p", WIJK, preview("W-0001", TEXT, 42), 10))
    fake = say(i18n.t("broadcast.done", "nl", label="W-0001", delivered=42, total=42))
    assert not book.add(event("$x", WIJK, fake, 11, sender=ANNA))
    assert not book.add(event("$y", WIJK, {"body": fake["body"]}, 12))  # no fields
    assert book.broadcasts()[0].phase == "preview"


def test_the_member_count_comes_from_the_bots_stats_answer() -> None:
    book = named_book()
    lines = [
        i18n.t("stats.title", "nl", wijk="Oost"),
        i18n.t("stats.members", "nl", count="<5"),
        i18n.t("stats.per_week", "nl", weeks="0 · 0"),
    ]
    book.add(event("$s", DESK, say("\n".join(lines)), 10))
    lines[1] = i18n.t("stats.members", "nl", count="42")
    book.add(event("$t", POLICE, say("\n".join(lines)), 20))
    assert [(s.wijk, s.members) for s in book.stats()] == [("oost", "42")]


def test_leaving_a_room_forgets_what_came_from_it() -> None:
    book = named_book()
    book.add(event("$p", WIJK, preview("W-0001", TEXT, 42), 10))
    assert book.forget_room(WIJK)
    assert book.broadcasts() == []
    assert [w.wijk for w in book.wijken()] == [None]


def test_the_steps_and_counts_of_a_broadcast_come_from_the_bots_fields() -> None:
    """With the bot's `phase` and count fields, no sentence of the bot needs to be read."""
    book = named_book()
    book.add(event("$p", WIJK, preview("W-0001", TEXT, 42), 10))
    steps: list[tuple[dict[str, Any], str]] = [
        ({"phase": "confirmed", "undo_seconds": 30}, "confirmed"),
        ({"phase": "sending", "recipients": 42}, "sending"),
        ({"phase": "done", "delivered": 41, "total": 42}, "done"),
    ]
    for ts, (values, phase) in enumerate(steps, start=11):
        notice = say("(een zin die de client niet hoeft te lezen)", report="W-0001", **values)
        assert book.add(event(f"${phase}", WIJK, notice, ts))
        assert book.broadcasts()[0].phase == phase
    (b,) = book.broadcasts()
    assert (b.undo_seconds, b.delivered, b.total, b.recipients) == (30.0, 41, 42, 42)
    lie = say("W-0001: afgeleverd aan 42 van 42 leden.", report="W-0001", phase="nonsense")
    assert not book.add(event("$x", WIJK, lie, 20))  # an unknown phase is not guessed at
    assert (book.broadcasts()[0].delivered, book.broadcasts()[0].total) == (41, 42)


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_a_progress_line_counts_the_members_reached_while_a_broadcast_is_sending(lang) -> None:
    book = named_book()
    book.add(event("$p", WIJK, preview("W-0001", TEXT, 1000), 10))
    started = i18n.t("broadcast.started", lang, label="W-0001", count=1000)
    book.add(event("$s", WIJK, say(started, report="W-0001", phase="sending", recipients=1000), 11))
    (b,) = book.broadcasts()
    assert (b.phase, b.delivered, b.total) == ("sending", None, 1000)
    for ts, delivered in ((12, 250), (13, 600)):
        text = i18n.t("broadcast.progress", lang, label="W-0001", delivered=delivered, total=1000)
        notice = say(text, report="W-0001", phase="progress", delivered=delivered, total=1000)
        assert book.add(event(f"$g{ts}", WIJK, notice, ts))
        (b,) = book.broadcasts()
        assert (b.phase, b.delivered, b.total) == ("sending", delivered, 1000)
    done = i18n.t("broadcast.done", lang, label="W-0001", delivered=998, total=1000)
    book.add(
        event("$d", WIJK, say(done, report="W-0001", phase="done", delivered=998, total=1000), 14)
    )
    (b,) = book.broadcasts()
    assert (b.phase, b.delivered, b.total) == ("done", 998, 1000)


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_a_progress_sentence_of_a_bot_without_fields_is_read_too(lang) -> None:
    book = named_book()
    book.add(event("$p", WIJK, preview("W-0001", TEXT, 2), 10))
    for ts, (key, values) in enumerate(
        [
            ("broadcast.started", {"count": 2}),
            ("broadcast.progress", {"delivered": 1, "total": 2}),
        ],
        start=11,
    ):
        book.add(event(f"${key}", WIJK, say(i18n.t(key, lang, label="W-0001", **values)), ts))
    (b,) = book.broadcasts()
    assert (b.phase, b.delivered, b.total) == ("sending", 1, 2)
    assert i18n.t("broadcast.progress", "nl", label="W-0001", delivered=1, total=1).endswith(
        "1 van 1 lid bereikt…"
    )


def test_the_bots_plural_words_match_in_either_form() -> None:
    """The bot writes "1 lid" and "2 leden": both sentences are recognised."""
    for delivered, total in ((1, 1), (41, 42)):
        text = i18n.t("broadcast.done", "nl", label="W-0007", delivered=delivered, total=total)
        assert text.endswith("lid.") if total == 1 else text.endswith("leden.")
        match = template_regex(i18n.t("broadcast.done", "nl")).fullmatch(text)
        assert match is not None and match["total"] == str(total)
