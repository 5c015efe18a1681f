"""Build reports from room events using only structured fields and senders (pure, no I/O).

The rules, so that a member can never pass for someone else (case C07):

- a root is a message whose `nl.bin` kind is `report`; its sender is the bot;
- in a root's thread (`m.relates_to` rel_type `m.thread`), a message from the bot with kind
  `member_message` is the member speaking (author = the pseudonym field, text = the text
  field); any other bot message is the bot speaking; a status field updates the report;
- a message in the thread from anyone else is a coordinator (author = display name);
- the body of a message is never used to decide who wrote it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bridge.anonymise import strip_reply_fallback
from bridge.protocol import BinFields, Kind

from .gateway import Report, ThreadItem

THREAD = "m.thread"
UNKNOWN = "?"


@dataclass(frozen=True, slots=True)
class RoomEvent:
    """A decrypted `m.room.message`, reduced to what the rules look at."""

    event_id: str
    room_id: str
    sender: str
    sender_name: str
    """The sender's display name in that room (or the user id when unknown)."""
    ts: float
    content: Mapping[str, Any]


def thread_root(content: Mapping[str, Any]) -> str | None:
    """The event id of the thread root this message belongs to, if it is in a thread."""
    relates = content.get("m.relates_to")
    if not isinstance(relates, Mapping) or relates.get("rel_type") != THREAD:
        return None
    root = relates.get("event_id")
    return root if isinstance(root, str) else None


def _body(content: Mapping[str, Any]) -> str:
    body = content.get("body")
    return body if isinstance(body, str) else ""


@dataclass(slots=True)
class _Root:
    event: RoomEvent
    fields: BinFields


class ReportBook:
    """All reports seen so far, in memory only; fed event by event in any order."""

    def __init__(self, *, bot_user_id: str | None = None) -> None:
        self.bot_user_id = bot_user_id
        self._roots: dict[str, _Root] = {}
        # Thread messages by root id; kept even before their root is known (backfill order).
        self._threads: dict[str, dict[str, RoomEvent]] = {}
        self._thread_of: dict[str, str] = {}
        self._seen: set[str] = set()

    def add(self, event: RoomEvent) -> bool:
        """Take in one message; True if it is (or may become) part of a report."""
        if event.event_id in self._roots or event.event_id in self._thread_of:
            return False
        root_id = thread_root(event.content)
        if root_id is not None:
            self._threads.setdefault(root_id, {})[event.event_id] = event
            self._thread_of[event.event_id] = root_id
            return root_id in self._roots
        fields = BinFields.from_content(dict(event.content))
        if fields is None or fields.kind is not Kind.REPORT:
            return False
        if self.bot_user_id is not None and event.sender != self.bot_user_id:
            return False
        self._roots[event.event_id] = _Root(event, fields)
        return True

    def redact(self, event_id: str) -> bool:
        """Forget a redacted message (a root takes its whole thread with it)."""
        if self._roots.pop(event_id, None) is not None:
            for child in self._threads.pop(event_id, {}):
                self._thread_of.pop(child, None)
            return True
        root_id = self._thread_of.pop(event_id, None)
        if root_id is None:
            return False
        self._threads.get(root_id, {}).pop(event_id, None)
        return root_id in self._roots

    def forget_room(self, room_id: str) -> bool:
        """Drop every report of a room the coordinator is no longer in."""
        gone = [root_id for root_id, root in self._roots.items() if root.event.room_id == room_id]
        for root_id in gone:
            self.redact(root_id)
        return bool(gone)

    def mark_read(self, root_event_id: str) -> None:
        """Everything currently in this report has been seen."""
        self._seen.add(root_event_id)
        self._seen.update(self._threads.get(root_event_id, {}))

    def get(self, root_event_id: str) -> Report | None:
        """The report with this root, if known."""
        root = self._roots.get(root_event_id)
        return None if root is None else self._build(root)

    def reports(self) -> list[Report]:
        """All reports, most recent activity first."""
        built = [self._build(root) for root in self._roots.values()]
        return sorted(built, key=lambda r: (r.last_ts, r.opened_ts), reverse=True)

    def _build(self, root: _Root) -> Report:
        event, fields = root.event, root.fields
        pseudonym = fields.pseudonym or UNKNOWN
        status = fields.status.value if fields.status else "nieuw"
        items = [
            ThreadItem(event.event_id, "member", pseudonym, fields.text or "", event.ts),
        ]
        thread = sorted(self._threads.get(event.event_id, {}).values(), key=lambda e: e.ts)
        for child in thread:
            item, new_status = self._item(child, bot=event.sender, pseudonym=pseudonym)
            items.append(item)
            status = new_status or status
        return Report(
            root_event_id=event.event_id,
            room_id=event.room_id,
            report=fields.report or UNKNOWN,
            pseudonym=pseudonym,
            wijk=fields.wijk or "",
            status=status,
            opened_ts=event.ts,
            items=items,
            unread=self._unread(items),
        )

    @staticmethod
    def _item(event: RoomEvent, *, bot: str, pseudonym: str) -> tuple[ThreadItem, str | None]:
        """Attribute one thread message by its sender and fields; also any status it sets."""
        if event.sender != bot:
            text = strip_reply_fallback(_body(event.content))
            item = ThreadItem(event.event_id, "coordinator", event.sender_name, text, event.ts)
            return item, None
        fields = BinFields.from_content(dict(event.content))
        status = fields.status.value if fields and fields.status else None
        if fields is not None and fields.kind is Kind.MEMBER_MESSAGE:
            text = fields.text if fields.text is not None else _body(event.content)
            author = fields.pseudonym or pseudonym
            return ThreadItem(event.event_id, "member", author, text, event.ts), status
        text = fields.text if fields and fields.text is not None else _body(event.content)
        return ThreadItem(event.event_id, "bot", event.sender_name, text, event.ts), status

    def _unread(self, items: Iterable[ThreadItem]) -> bool:
        """A member message after the last coordinator answer that was not looked at."""
        pending: list[str] = []
        for item in items:
            if item.role == "coordinator":
                pending.clear()
            elif item.role == "member":
                pending.append(item.event_id)
        return any(event_id not in self._seen for event_id in pending)
