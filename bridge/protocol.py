"""The contract between the bot and the coordinator client: the `nl.bin` event fields (pure).

Every message the bot posts carries a human-readable body and one `nl.bin` object with
machine-readable fields. The client renders from these fields and never parses text, so a
member cannot forge a label by typing one (case C07). The fields travel only inside
encrypted timeline events, never in state events (which the homeserver stores in clear).

Version history:
    1 — report, member_message, answer, notice, system kinds; report id, conversation,
        pseudonym, wijk, status, text.
    2 — forward, police_reply and bulletin kinds; category, handler and note fields;
        broadcast kind (a wijk message as a member receives it; `report` holds W-0001) and
        `reaction_to` on a report that reacts to a broadcast. Readers of version 1 fields
        keep working: fields are only ever added.
        Also added (issue 3): `edited` (a member's or coordinator's edit, posted as a new
        event after the old copy was redacted), `part`/`parts` (a long text in clean parts),
        `media` ("image" or "location"), and `revealed` with `user_id` on the one system
        message where a member chose to be known in a conversation.
        Also added (issue 4): `urgent` (true on a member's report or message that looks
        urgent; the member was told to call 112 / 0900-8844).
        Also added (issue 5): on the bot's notices about a broadcast in the wijk room,
        `report` (W-0001), `wijk`, `phase` (preview, refused, confirmed, cancelled, sending,
        done), `recipients`, `delivered` and `total`, `undo_seconds`; on the desk
        announcement of a block or unblock, `blocked` (whether the member behind the report
        is blocked now). The client needs no sentence of the bot to know these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

PROTOCOL_VERSION = 2
FIELD = "nl.bin"
"""The single content key under which all BIN fields live."""


class Kind(StrEnum):
    """What a bot message is, as the client needs to know to render it."""

    REPORT = "report"
    """Root of a conversation in the desk: the first message of a member."""
    MEMBER_MESSAGE = "member_message"
    """A later message of a member, posted in the conversation's desk thread."""
    ANSWER = "answer"
    """A coordinator's answer, as delivered into the member's private room."""
    NOTICE = "notice"
    """The bot speaking for itself to a member (welcome, confirmations, errors)."""
    SYSTEM = "system"
    """The bot speaking for itself to coordinators (status lines, summaries)."""
    BROADCAST = "broadcast"
    """A wijk message as delivered into a member's private room."""
    FORWARD = "forward"
    """A report forwarded to the police room (report number only, no pseudonym)."""
    POLICE_REPLY = "police_reply"
    """The police's reply to a forward, shown in the report's desk thread."""
    BULLETIN = "bulletin"
    """A police/gemeente message in the police room, numbered B-0001."""


class Status(StrEnum):
    """The life cycle of a report, as coordinators set it."""

    NEW = "nieuw"
    IN_PROGRESS = "in behandeling"
    FORWARDED = "doorgestuurd"
    CLOSED = "afgehandeld"


BROADCAST_PHASES = (
    "preview",
    "refused",
    "confirmed",
    "cancelled",
    "sending",
    "progress",
    "done",
)
"""The steps of a broadcast the bot announces in the wijk room (`phase`). "progress" repeats
while a long broadcast is being delivered; it only informs, "done" carries the final count."""

REPORT_ID_RE = re.compile(r"^M-(\d{4,})$")


def report_id(number: int) -> str:
    """Format a report number as the label coordinators use: 7 -> 'M-0007'."""
    if number < 1:
        raise ValueError("report numbers start at 1")
    return f"M-{number:04d}"


def broadcast_id(number: int) -> str:
    """Format a broadcast number: 3 -> 'W-0003'."""
    if number < 1:
        raise ValueError("broadcast numbers start at 1")
    return f"W-{number:04d}"


def bulletin_id(number: int) -> str:
    """Format a bulletin number: 1 -> 'B-0001'."""
    if number < 1:
        raise ValueError("bulletin numbers start at 1")
    return f"B-{number:04d}"


BULLETIN_ID_RE = re.compile(r"^B-(\d{4,})$")


def parse_bulletin_id(label: str) -> int | None:
    """Parse 'B-0001' back to 1, or None."""
    match = BULLETIN_ID_RE.match(label.strip().upper())
    return int(match.group(1)) if match else None


def parse_report_id(label: str) -> int | None:
    """Parse 'M-0007' (any case, surrounding space allowed) back to 7, or None."""
    match = REPORT_ID_RE.match(label.strip().upper())
    return int(match.group(1)) if match else None


_OPTIONAL = (
    "wijk",
    "report",
    "conversation",
    "pseudonym",
    "text",
    "reaction_to",
    "edited",
    "part",
    "parts",
    "media",
    "revealed",
    "user_id",
    "category",
    "handler",
    "note",
    "urgent",
    "phase",
    "recipients",
    "delivered",
    "total",
    "undo_seconds",
    "blocked",
)


@dataclass(frozen=True, slots=True)
class BinFields:
    """The structured part of a bot message."""

    kind: Kind
    wijk: str | None = None
    report: str | None = None
    conversation: str | None = None
    pseudonym: str | None = None
    status: Status | None = None
    text: str | None = None
    """The member's own words (cleaned), so the client never has to take them from `body`."""
    reaction_to: str | None = None
    """On a report: the broadcast (W-0003) it reacts to."""
    category: str | None = None
    """A report's category, as set by a coordinator."""
    handler: str | None = None
    """The coordinator (user id) handling a report; coordinators know each other."""
    note: str | None = None
    """On a forward: the coordinator's note to the police."""
    edited: bool | None = None
    """A new version of an earlier message (whose copy the bot redacted)."""
    part: int | None = None
    """Of a long text sent in parts: this part's number, from 1."""
    parts: int | None = None
    """Of a long text sent in parts: how many there are."""
    media: str | None = None
    """"image" (a cleaned photo) or "location" (a rounded place the member confirmed)."""
    revealed: bool | None = None
    """On the system message where a member chose to be known in this conversation."""
    user_id: str | None = None
    """Only with `revealed`: the member's Matrix user id, posted at the member's request."""
    urgent: bool | None = None
    """A member's words that look urgent (fire, injured, in progress …): flag it to the desk."""
    phase: str | None = None
    """On a broadcast notice in the wijk room: one of `BROADCAST_PHASES`."""
    recipients: int | None = None
    """On a broadcast's preview and start: how many members it goes to."""
    delivered: int | None = None
    """On a broadcast's progress and at its end: how many members it reached so far ..."""
    total: int | None = None
    """... of how many."""
    undo_seconds: int | None = None
    """On a confirmed broadcast: how long `!stop` can still hold it back."""
    blocked: bool | None = None
    """On the desk announcement of a block or unblock: the member behind the report is
    blocked now (True) or not (False). Never who the member is."""
    version: int = PROTOCOL_VERSION

    def to_content(self) -> dict[str, Any]:
        """The value stored under `FIELD` in the event content (None fields omitted)."""
        out: dict[str, Any] = {"v": self.version, "kind": self.kind.value}
        for key in _OPTIONAL:
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.status is not None:
            out["status"] = self.status.value
        return out

    @classmethod
    def from_content(cls, content: dict[str, Any]) -> BinFields | None:
        """Read the fields from an event's content; None when absent or not understood.

        Newer minor additions are ignored; an unknown kind makes the event unreadable for
        this version rather than misread.
        """
        raw = content.get(FIELD)
        if not isinstance(raw, dict):
            return None
        version = raw.get("v")
        if not isinstance(version, int) or version < 1:
            return None
        try:
            kind = Kind(str(raw.get("kind")))
            status = Status(raw["status"]) if "status" in raw else None
        except ValueError:
            return None

        def text(key: str) -> str | None:
            value = raw.get(key)
            return value if isinstance(value, str) else None

        def number(key: str) -> int | None:
            value = raw.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        return cls(
            kind=kind,
            wijk=text("wijk"),
            report=text("report"),
            conversation=text("conversation"),
            pseudonym=text("pseudonym"),
            status=status,
            text=text("text"),
            reaction_to=text("reaction_to"),
            edited=raw.get("edited") if isinstance(raw.get("edited"), bool) else None,
            part=number("part"),
            parts=number("parts"),
            media=text("media"),
            revealed=raw.get("revealed") if isinstance(raw.get("revealed"), bool) else None,
            user_id=text("user_id"),
            urgent=raw.get("urgent") if isinstance(raw.get("urgent"), bool) else None,
            category=text("category"),
            handler=text("handler"),
            note=text("note"),
            phase=text("phase"),
            recipients=number("recipients"),
            delivered=number("delivered"),
            total=number("total"),
            undo_seconds=number("undo_seconds"),
            blocked=raw.get("blocked") if isinstance(raw.get("blocked"), bool) else None,
            version=version,
        )
