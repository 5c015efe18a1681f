"""Build reports from room events using only structured fields and senders (pure, no I/O).

The rules, so that a member can never pass for someone else (case C07):

- a root is a message whose `nl.bin` kind is `report`; its sender is the bot;
- in a root's thread (`m.relates_to` rel_type `m.thread`), a message from the bot with kind
  `member_message` is the member speaking (author = the pseudonym field, text = the text
  field); any other bot message is the bot speaking; a status field updates the report;
- a bot message with kind `police_reply` is the police speaking (their words in `text`); like
  a member's message it makes the report unread until looked at or answered, because the
  coordinator decides what the member hears of it;
- a bot `system` message with a `blocked` field says whether the member behind the report
  is blocked now (the latest one wins);
- a bot `system` message that carries a status is the bot announcing the report's current
  state: its status, category and handler replace what was known (the latest one wins);
- `urgent` on any member message flags the report; `reaction_to` on the root marks a reaction;
- a message in the thread from anyone else is a coordinator (author = display name); when it
  is a desk command (`!neem`, `!status …`, as the bot parses it) it is not an answer: the
  member never receives it, so it neither clears "unread" nor counts as a first answer;
- the body of a message is never used to decide who wrote it.

Built reports are cached per root and rebuilt only when their thread changed, so a desk of
thousands of reports costs little per sync and unchanged reports keep their identity.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bridge import commands
from bridge.anonymise import strip_reply_fallback
from bridge.protocol import BinFields, Kind

from .gateway import MediaFile, Report, Role, ThreadItem

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


def media_file(content: Mapping[str, Any]) -> MediaFile | None:
    """The encrypted upload of an `m.image` the bot posted, if it is complete and mxc://."""
    file = content.get("file")
    if content.get("msgtype") != "m.image" or not isinstance(file, Mapping):
        return None
    url, key, iv, hashes = file.get("url"), file.get("key"), file.get("iv"), file.get("hashes")
    if not (isinstance(url, str) and url.startswith("mxc://") and isinstance(iv, str)):
        return None
    k = key.get("k") if isinstance(key, Mapping) else None
    sha = hashes.get("sha256") if isinstance(hashes, Mapping) else None
    if not isinstance(k, str) or not isinstance(sha, str):
        return None
    info = content.get("info")
    mimetype = info.get("mimetype") if isinstance(info, Mapping) else None
    return MediaFile(url, k, iv, sha, mimetype if isinstance(mimetype, str) else "image/jpeg")


@dataclass(slots=True)
class _Root:
    event: RoomEvent
    fields: BinFields


def _member_item(event: RoomEvent, fields: BinFields, pseudonym: str) -> ThreadItem:
    """A member's words as the bot relayed them (the root or a later message)."""
    text = fields.text if fields.text is not None else ""
    if fields.kind is Kind.MEMBER_MESSAGE and fields.text is None and fields.media is None:
        text = _body(event.content)  # a photo's body is only the bot's caption
    part = (fields.part, fields.parts) if fields.part and fields.parts else None
    return ThreadItem(
        event.event_id,
        "member",
        fields.pseudonym or pseudonym,
        text,
        event.ts,
        urgent=bool(fields.urgent),
        edited=bool(fields.edited),
        part=part,
        media=fields.media,
        file=media_file(event.content) if fields.media == "image" else None,
    )


RESORT_AFTER = 64
"""Past this many changed reports, `ReportBook.reports` sorts them all again."""


def _latest_first(report: Report) -> tuple[float, float]:
    return (-report.last_ts, -report.opened_ts)


class ReportBook:
    """All reports seen so far, in memory only; fed event by event in any order."""

    def __init__(self, *, bot_user_id: str | None = None) -> None:
        self.bot_user_id = bot_user_id
        self._roots: dict[str, _Root] = {}
        # Thread messages by root id; kept even before their root is known (backfill order).
        self._threads: dict[str, dict[str, RoomEvent]] = {}
        self._thread_of: dict[str, str] = {}
        self._seen: set[str] = set()
        self._built: dict[str, Report] = {}
        self._sorted: list[Report] | None = None
        self._moved: set[str] = set()
        """Reports changed since `_sorted` was made: put back in place, not all sorted again
        (opening an unread report in a desk of thousands changes one)."""

    def _changed(self, root_id: str) -> None:
        self._built.pop(root_id, None)
        if self._sorted is not None:
            self._moved.add(root_id)
            if len(self._moved) > RESORT_AFTER:
                self._sorted = None

    def add(self, event: RoomEvent) -> bool:
        """Take in one message; True if it is (or may become) part of a report."""
        if event.event_id in self._roots or event.event_id in self._thread_of:
            return False
        root_id = thread_root(event.content)
        if root_id is not None:
            self._threads.setdefault(root_id, {})[event.event_id] = event
            self._thread_of[event.event_id] = root_id
            self._changed(root_id)
            return root_id in self._roots
        fields = BinFields.from_content(dict(event.content))
        if fields is None or fields.kind is not Kind.REPORT:
            return False
        if self.bot_user_id is not None and event.sender != self.bot_user_id:
            return False
        self._roots[event.event_id] = _Root(event, fields)
        self._changed(event.event_id)
        return True

    def redact(self, event_id: str) -> bool:
        """Forget a redacted message (a root takes its whole thread with it)."""
        if self._roots.pop(event_id, None) is not None:
            for child in self._threads.pop(event_id, {}):
                self._thread_of.pop(child, None)
            self._changed(event_id)
            return True
        root_id = self._thread_of.pop(event_id, None)
        if root_id is None:
            return False
        self._threads.get(root_id, {}).pop(event_id, None)
        self._changed(root_id)
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
        self._changed(root_event_id)

    def get(self, root_event_id: str) -> Report | None:
        """The report with this root, if known."""
        root = self._roots.get(root_event_id)
        return None if root is None else self._cached(root_event_id, root)

    def reports(self) -> list[Report]:
        """All reports, most recent activity first (unchanged ones are the same objects)."""
        if self._sorted is None:
            built = [self._cached(root_id, root) for root_id, root in self._roots.items()]
            self._sorted = sorted(built, key=_latest_first)
        elif self._moved:
            moved = self._moved
            kept = [r for r in self._sorted if r.root_event_id not in moved]
            for root_id in moved:
                root = self._roots.get(root_id)
                if root is not None:
                    insort(kept, self._cached(root_id, root), key=_latest_first)
            self._sorted = kept
        self._moved = set()
        return list(self._sorted)

    def room_of(self, event_id: str) -> str | None:
        """The room of a known root or thread message (for redactions of other rooms)."""
        root_id = self._thread_of.get(event_id, event_id)
        root = self._roots.get(root_id)
        return None if root is None else root.event.room_id

    def _cached(self, root_id: str, root: _Root) -> Report:
        report = self._built.get(root_id)
        if report is None:
            report = self._built[root_id] = self._build(root)
        return report

    def _build(self, root: _Root) -> Report:
        event, fields = root.event, root.fields
        pseudonym = fields.pseudonym or UNKNOWN
        status = fields.status.value if fields.status else "nieuw"
        category, handler = fields.category, fields.handler
        blocked = False
        items = [_member_item(event, fields, pseudonym)]
        thread = sorted(self._threads.get(event.event_id, {}).values(), key=lambda e: e.ts)
        for child in thread:
            item, announced = self._item(child, bot=event.sender, pseudonym=pseudonym)
            items.append(item)
            if announced is not None:
                if announced.kind is Kind.SYSTEM and announced.status is not None:
                    # The bot's announcement of the report's whole current state.
                    category, handler = announced.category, announced.handler
                if announced.status is not None:
                    status = announced.status.value
                if announced.kind is Kind.SYSTEM and announced.blocked is not None:
                    blocked = announced.blocked
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
            category=category,
            handler=handler,
            urgent=any(item.urgent for item in items if item.role == "member"),
            reaction_to=fields.reaction_to,
            blocked=blocked,
            police_reply=next((i.event_id for i in reversed(items) if i.role == "police"), None),
        )

    @staticmethod
    def _item(event: RoomEvent, *, bot: str, pseudonym: str) -> tuple[ThreadItem, BinFields | None]:
        """Attribute one thread message by its sender and fields; also the fields it carries."""
        if event.sender != bot:
            text = strip_reply_fallback(_body(event.content))
            parsed = commands.parse(text, commands.Audience.DESK)
            role: Role = "coordinator" if parsed is None else "command"
            return ThreadItem(event.event_id, role, event.sender_name, text, event.ts), None
        fields = BinFields.from_content(dict(event.content))
        if fields is not None and fields.kind is Kind.MEMBER_MESSAGE:
            return _member_item(event, fields, pseudonym), fields
        text = fields.text if fields and fields.text is not None else _body(event.content)
        if fields is not None and fields.kind is Kind.POLICE_REPLY:
            return ThreadItem(event.event_id, "police", fields.report or "", text, event.ts), fields
        return ThreadItem(event.event_id, "bot", event.sender_name, text, event.ts), fields

    def _unread(self, items: Iterable[ThreadItem]) -> bool:
        """A member message or police reply after the last coordinator answer that was not
        looked at."""
        pending: list[str] = []
        for item in items:
            if item.role == "coordinator":
                pending.clear()
            elif item.role in ("member", "police"):
                pending.append(item.event_id)
        return any(event_id not in self._seen for event_id in pending)
