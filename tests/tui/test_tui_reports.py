"""Report building from room events: authors come from fields and senders, never from text."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bintui.reports import ReportBook, RoomEvent
from bridge.protocol import BinFields, Kind, Status

BOT = "@bin:localhost"
ANNA = "@anna:localhost"
DESK = "!desk:localhost"


def root_event(event_id: str = "$root", *, ts: float = 100.0, **fields: Any) -> RoomEvent:
    values: dict[str, Any] = {
        "report": "M-0001",
        "pseudonym": "Blauwe Reiger",
        "wijk": "oost",
        "status": Status.NEW,
        "conversation": "c1",
        "text": "Fietsendiefstal bij de school.",
    }
    values.update(fields)
    bin_fields = BinFields(kind=Kind.REPORT, **values)
    content = {
        "msgtype": "m.text",
        "body": f"Melding {values['report']} · {values['pseudonym']}\n\n{values['text']}",
        "nl.bin": bin_fields.to_content(),
    }
    return RoomEvent(event_id, DESK, BOT, "BIN", ts, content)


def in_thread(
    event_id: str,
    sender: str,
    body: str,
    *,
    ts: float,
    root: str = "$root",
    fields: BinFields | None = None,
    name: str | None = None,
) -> RoomEvent:
    content: dict[str, Any] = {
        "msgtype": "m.text",
        "body": body,
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": root},
        },
    }
    if fields is not None:
        content["nl.bin"] = fields.to_content()
    return RoomEvent(event_id, DESK, sender, name or sender, ts, content)


def member_message(event_id: str, text: str, *, ts: float, pseudonym: str = "Blauwe Reiger"):
    fields = BinFields(kind=Kind.MEMBER_MESSAGE, report="M-0001", pseudonym=pseudonym, text=text)
    return in_thread(event_id, BOT, f"{pseudonym}: {text}", ts=ts, fields=fields, name="BIN")


def test_a_report_root_becomes_a_report_with_its_fields() -> None:
    book = ReportBook()
    assert book.add(root_event())
    (report,) = book.reports()
    assert (report.report, report.pseudonym, report.wijk, report.status) == (
        "M-0001",
        "Blauwe Reiger",
        "oost",
        "nieuw",
    )
    assert report.room_id == DESK
    assert [(i.role, i.author, i.text) for i in report.items] == [
        ("member", "Blauwe Reiger", "Fietsendiefstal bij de school.")
    ]
    assert report.unread


def test_thread_messages_are_attributed_by_sender_and_fields() -> None:
    book = ReportBook()
    book.add(root_event())
    book.add(member_message("$m1", "Het was een blauwe fiets.", ts=110))
    book.add(in_thread("$a1", ANNA, "Dank je!", ts=120, name="Anna (coördinator)"))
    system = BinFields(kind=Kind.SYSTEM, report="M-0001", status=Status.FORWARDED)
    book.add(
        in_thread("$s1", BOT, "Doorgestuurd naar de politie.", ts=130, fields=system, name="BIN")
    )
    (report,) = book.reports()
    assert [(i.role, i.author, i.text) for i in report.items] == [
        ("member", "Blauwe Reiger", "Fietsendiefstal bij de school."),
        ("member", "Blauwe Reiger", "Het was een blauwe fiets."),
        ("coordinator", "Anna (coördinator)", "Dank je!"),
        ("bot", "BIN", "Doorgestuurd naar de politie."),
    ]
    assert report.status == "doorgestuurd"


@pytest.mark.parametrize(
    "forged_text",
    [
        "Melding M-0003 · Groene Specht:\n\nIk ben het, bel me",
        "Anna (coördinator): ik ben ook coördinator\r\nnl.bin kind report",
    ],
)
def test_a_member_cannot_forge_an_author_by_typing_a_label(forged_text: str) -> None:
    """C07: whatever the member types, the label comes from the bot's fields."""
    book = ReportBook()
    book.add(root_event(text=forged_text))
    book.add(member_message("$m1", forged_text, ts=110))
    (report,) = book.reports()
    assert {(i.role, i.author) for i in report.items} == {("member", "Blauwe Reiger")}
    assert [i.text for i in report.items] == [forged_text, forged_text]


def test_structured_fields_from_anyone_but_the_bot_do_not_make_a_member_message() -> None:
    book = ReportBook()
    book.add(root_event())
    fake = BinFields(kind=Kind.MEMBER_MESSAGE, pseudonym="Groene Specht", text="nep")
    book.add(in_thread("$x", ANNA, "nep", ts=110, fields=fake, name="Anna"))
    (report,) = book.reports()
    assert (report.items[1].role, report.items[1].author) == ("coordinator", "Anna")


def test_with_a_configured_bot_only_its_reports_count() -> None:
    book = ReportBook(bot_user_id=BOT)
    forged = root_event("$forged")
    forged = RoomEvent(forged.event_id, DESK, ANNA, "Anna", forged.ts, forged.content)
    assert not book.add(forged)
    assert book.add(root_event())
    assert [r.root_event_id for r in book.reports()] == ["$root"]


def test_thread_messages_that_arrive_before_their_root_are_kept() -> None:
    book = ReportBook()
    assert not book.add(member_message("$m1", "later", ts=110))
    assert book.add(root_event())
    (report,) = book.reports()
    assert [i.text for i in report.items] == ["Fietsendiefstal bij de school.", "later"]


def test_the_same_event_twice_is_counted_once() -> None:
    book = ReportBook()
    book.add(root_event())
    book.add(member_message("$m1", "een", ts=110))
    assert not book.add(member_message("$m1", "een", ts=110))
    assert len(book.reports()[0].items) == 2


def test_reports_are_ordered_by_latest_activity() -> None:
    book = ReportBook()
    book.add(root_event("$old", ts=100, report="M-0001"))
    book.add(root_event("$new", ts=200, report="M-0002"))
    assert [r.report for r in book.reports()] == ["M-0002", "M-0001"]
    later = BinFields(kind=Kind.MEMBER_MESSAGE, pseudonym="Blauwe Reiger", text="nog iets")
    book.add(in_thread("$m1", BOT, "nog iets", ts=300, root="$old", fields=later))
    assert [r.report for r in book.reports()] == ["M-0001", "M-0002"]


def test_unread_means_a_member_wrote_after_the_last_answer_and_nobody_looked() -> None:
    book = ReportBook()
    book.add(root_event())
    assert book.reports()[0].unread
    book.add(in_thread("$a1", ANNA, "Dank je!", ts=120))
    assert not book.reports()[0].unread
    book.add(member_message("$m1", "Nog een vraag", ts=130))
    assert book.reports()[0].unread
    book.mark_read("$root")
    assert not book.reports()[0].unread
    book.add(member_message("$m2", "Hallo?", ts=140))
    assert book.reports()[0].unread


def test_a_redacted_message_is_dropped_and_a_redacted_root_drops_the_report() -> None:
    """C06: after the bot redacts an old copy, the client no longer holds it."""
    book = ReportBook()
    book.add(root_event())
    book.add(member_message("$m1", "Ik woon op Kerkstraat 12", ts=110))
    book.add(member_message("$m2", "Ik woon in de buurt", ts=111))
    assert book.redact("$m1")
    assert [i.text for i in book.reports()[0].items][1:] == ["Ik woon in de buurt"]
    assert book.redact("$root")
    assert book.reports() == []
    assert not book.redact("$unknown")


def test_leaving_a_room_forgets_its_reports() -> None:
    book = ReportBook()
    book.add(root_event())
    assert book.forget_room(DESK)
    assert book.reports() == []


def test_messages_without_bin_fields_or_of_other_kinds_are_not_reports() -> None:
    book = ReportBook()
    assert not book.add(RoomEvent("$x", DESK, BOT, "BIN", 1, {"msgtype": "m.text", "body": "hi"}))
    notice = {"body": "x", "nl.bin": BinFields(kind=Kind.SYSTEM).to_content()}
    assert not book.add(RoomEvent("$y", DESK, BOT, "BIN", 1, notice))
    future = {"body": "x", "nl.bin": {"v": 1, "kind": "something-new"}}
    assert not book.add(RoomEvent("$z", DESK, BOT, "BIN", 1, future))
    assert book.reports() == []


def test_the_reply_fallback_is_removed_from_coordinator_answers() -> None:
    """C02: a coordinator who used a client's reply button does not see the quote twice."""
    book = ReportBook()
    book.add(root_event())
    quoted = "> <@bin:localhost> Melding M-0001 · Blauwe Reiger\n> Fietsen\n\nWe komen kijken."
    book.add(in_thread("$a1", ANNA, quoted, ts=120, name="Anna"))
    assert book.reports()[0].items[1].text == "We komen kijken."


def announcement(event_id: str, ts: float, **fields: Any) -> RoomEvent:
    """The bot's system message in a thread, with the report's whole current state."""
    values: dict[str, Any] = {"report": "M-0001", "wijk": "oost", "status": Status.NEW}
    values.update(fields)
    system = BinFields(kind=Kind.SYSTEM, **values)
    return in_thread(event_id, BOT, "…", ts=ts, fields=system, name="BIN")


def test_status_category_and_handler_follow_the_bots_latest_announcement() -> None:
    book = ReportBook()
    book.add(root_event())
    book.add(announcement("$s1", 110, status=Status.IN_PROGRESS, handler=ANNA))
    book.add(announcement("$s2", 120, status=Status.IN_PROGRESS, handler=ANNA, category="inbraak"))
    (report,) = book.reports()
    assert (report.status, report.category, report.handler) == ("in behandeling", "inbraak", ANNA)
    # Announcements can arrive out of order (backfill): the latest in time wins.
    book.add(announcement("$s0", 105, status=Status.NEW))
    (report,) = book.reports()
    assert (report.status, report.category, report.handler) == ("in behandeling", "inbraak", ANNA)
    book.add(announcement("$s3", 130, status=Status.FORWARDED, handler=ANNA, category="overlast"))
    assert book.reports()[0].category == "overlast"
    assert book.reports()[0].status == "doorgestuurd"


def test_a_system_message_without_a_status_does_not_reset_the_state() -> None:
    """The block notice and the escalation carry no state: they change nothing."""
    book = ReportBook()
    book.add(root_event())
    book.add(announcement("$s1", 110, status=Status.IN_PROGRESS, category="inbraak"))
    book.add(announcement("$s2", 120, status=None))
    (report,) = book.reports()
    assert (report.status, report.category) == ("in behandeling", "inbraak")


def test_the_block_flag_follows_the_bots_latest_block_or_unblock_announcement() -> None:
    book = ReportBook()
    book.add(root_event())
    assert not book.reports()[0].blocked
    book.add(announcement("$b1", 110, status=None, blocked=True))
    book.add(announcement("$s1", 115, status=Status.IN_PROGRESS))  # a status leaves it alone
    assert book.reports()[0].blocked
    forged = BinFields(kind=Kind.SYSTEM, report="M-0001", blocked=False)
    book.add(in_thread("$x", ANNA, "!deblokkeer M-0001", ts=118, fields=forged))
    assert book.reports()[0].blocked  # only the bot's word counts
    book.add(announcement("$b2", 120, status=None, blocked=False))
    assert not book.reports()[0].blocked


def test_urgent_messages_flag_the_report_and_a_reaction_says_to_which_broadcast() -> None:
    book = ReportBook()
    book.add(root_event(reaction_to="W-0003"))
    assert not book.reports()[0].urgent
    assert book.reports()[0].reaction_to == "W-0003"
    fields = BinFields(
        kind=Kind.MEMBER_MESSAGE, pseudonym="Blauwe Reiger", text="Er brandt iets!", urgent=True
    )
    book.add(in_thread("$m1", BOT, "x", ts=110, fields=fields))
    (report,) = book.reports()
    assert report.urgent
    assert report.items[1].urgent


def test_a_police_reply_is_attributed_to_the_police_from_its_kind() -> None:
    book = ReportBook()
    book.add(root_event())
    reply = BinFields(kind=Kind.POLICE_REPLY, report="M-0001", text="We rijden langs.")
    book.add(in_thread("$p1", BOT, "Reactie van politie/gemeente op M-0001", ts=110, fields=reply))
    (report,) = book.reports()
    assert [(i.role, i.author, i.text) for i in report.items][1] == (
        "police",
        "M-0001",
        "We rijden langs.",
    )


def test_a_police_reply_makes_the_report_unread_until_looked_at_or_answered() -> None:
    """The coordinator decides what the member hears of it: the reply must be noticed."""
    book = ReportBook()
    book.add(root_event())
    book.add(in_thread("$a1", ANNA, "Ik stuur het door.", ts=110))
    (report,) = book.reports()
    assert not report.unread and report.police_reply is None
    reply = BinFields(kind=Kind.POLICE_REPLY, report="M-0001", text="We rijden langs.")
    book.add(in_thread("$p1", BOT, "Reactie van politie/gemeente op M-0001", ts=120, fields=reply))
    (report,) = book.reports()
    assert report.unread and report.police_reply == "$p1"
    book.mark_read("$root")
    assert not book.reports()[0].unread
    book.add(in_thread("$p2", BOT, "Reactie van politie/gemeente op M-0001", ts=130, fields=reply))
    assert book.reports()[0].unread and book.reports()[0].police_reply == "$p2"
    book.add(in_thread("$a2", ANNA, "De politie rijdt langs.", ts=140))
    assert not book.reports()[0].unread  # answered: the coordinator passed it on


def test_edits_parts_and_photos_are_marked_from_the_fields() -> None:
    book = ReportBook()
    book.add(root_event())
    for event_id, extra in (
        ("$e", {"edited": True}),
        ("$p", {"part": 1, "parts": 2}),
        ("$f", {"media": "image", "text": None}),
    ):
        fields = BinFields(kind=Kind.MEMBER_MESSAGE, pseudonym="Blauwe Reiger", text="x")
        fields = dataclasses.replace(fields, **extra)
        book.add(in_thread(event_id, BOT, "foto-M-0001.jpg", ts=110, fields=fields))
    items = {i.event_id: i for i in book.reports()[0].items}
    assert items["$e"].edited
    assert items["$p"].part == (1, 2)
    assert (items["$f"].media, items["$f"].text) == ("image", "")  # not the bot's caption


def test_unchanged_reports_are_the_same_objects_between_calls() -> None:
    """The desk list updates only rows whose report object changed."""
    book = ReportBook()
    book.add(root_event("$a", report="M-0001"))
    book.add(root_event("$b", report="M-0002", ts=200))
    first = {r.root_event_id: r for r in book.reports()}
    book.add(member_message("$m1", "nog iets", ts=300, pseudonym="Blauwe Reiger"))
    # "$m1" is not in either thread (its root is "$root"): nothing changed.
    second = {r.root_event_id: r for r in book.reports()}
    assert all(first[k] is second[k] for k in first)
    book.add(in_thread("$x", ANNA, "Dank je", ts=310, root="$a"))
    third = {r.root_event_id: r for r in book.reports()}
    assert third["$b"] is first["$b"]
    assert third["$a"] is not first["$a"]


def test_a_desk_command_in_the_thread_is_not_an_answer() -> None:
    """`!neem` never reaches the member: the report stays unread and unanswered."""
    book = ReportBook()
    book.add(root_event())
    book.add(in_thread("$c1", ANNA, "!neem M-0001", ts=110, name="Anna"))
    book.add(in_thread("$c2", ANNA, "!onzin", ts=111, name="Anna"))
    (report,) = book.reports()
    assert [i.role for i in report.items] == ["member", "command", "command"]
    assert report.unread
    assert report.first_answer_ts is None
    book.add(in_thread("$a1", ANNA, "We komen kijken.", ts=120, name="Anna"))
    (report,) = book.reports()
    assert not report.unread
    assert report.first_answer_ts == 120
