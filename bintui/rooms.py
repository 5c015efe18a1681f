"""The police and wijk rooms, and which room is which, from the bot's messages (pure, no I/O).

- A room's role (desk, police & gemeente, wijk broadcasts) and its wijk's display name come
  from the room name the bot gave it (`bridge.i18n` "room.*.name", in either language); the
  wijk's slug comes from the `wijk` field of the bot's messages in any of its rooms.
- In a police room, the bot's `bulletin` and `forward` messages are listed (their words come
  from the `text` field, never from the body).
- In a wijk room, the bot reports on a broadcast: a preview (`system`, `report` W-0001, `text`)
  and then notices (confirmed, refused, cancelled, started, progress while it is delivered,
  done). The bot puts the step (`phase`), the recipient count and the delivery count in
  fields (protocol, issue 5); only a bot that predates those fields is read from its own
  sentences, matched against the same `bridge.i18n` templates it fills in (and the fairness
  verdict's quoted words still are).
  Only messages from the bot (when it is configured) with `nl.bin` fields count, so a
  coordinator typing "W-0001: afgeleverd aan 9 van 9 leden." changes nothing.
- In a desk, the bot's answer to `!stats` gives the member count ("Leden: 42", or "<5").
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bridge import i18n as bot_i18n
from bridge.i18n import PLURAL
from bridge.protocol import BinFields, Kind

from .gateway import (
    Broadcast,
    BroadcastPhase,
    PoliceItem,
    PoliceKind,
    RoomRole,
    Wijk,
    WijkStats,
)
from .reports import RoomEvent

_FIELD_PATTERNS = {
    "label": r"W-\d{4,}",
    "count": r"\d+",
    "delivered": r"\d+",
    "total": r"\d+",
    "seconds": r"\d+",
    "category": r"[^()]+?",
    "phrases": r".+?",
    "wijk": r".+?",
}


def template_regex(template: str, *, collapse_space: bool = False) -> re.Pattern[str]:
    """A regex that matches `template` (a `str.format` string) filled in, capturing fields."""
    if collapse_space:
        template = " ".join(template.split())
    parts: list[str] = []
    seen: set[str] = set()
    for literal, name, spec, _conv in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name is None:
            continue
        if spec and spec.startswith(PLURAL):  # "{count:plural:lid:leden}": either word
            words = spec.removeprefix(PLURAL).split(":")
            parts.append("(?:" + "|".join(re.escape(w) for w in words) + ")")
            continue
        pattern = _FIELD_PATTERNS.get(name, r".+?")
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>{pattern})")
        seen.add(name)
    return re.compile("".join(parts), re.DOTALL)


def _templates(key: str, *, collapse_space: bool = False) -> list[re.Pattern[str]]:
    return [
        template_regex(bot_i18n.t(key, language), collapse_space=collapse_space)
        for language in bot_i18n.LANGUAGES
    ]


_PREVIEW = _templates("broadcast.preview", collapse_space=True)
_PREVIEW_UNFAIR = _templates("broadcast.preview_unfair", collapse_space=True)
_NOTICES: list[tuple[str, BroadcastPhase, list[re.Pattern[str]]]] = [
    ("broadcast.unfair_not_sent", "refused", _templates("broadcast.unfair_not_sent")),
    ("broadcast.confirmed", "confirmed", _templates("broadcast.confirmed")),
    ("broadcast.cancelled", "cancelled", _templates("broadcast.cancelled")),
    ("broadcast.started", "sending", _templates("broadcast.started")),
    ("broadcast.progress", "sending", _templates("broadcast.progress")),
    ("broadcast.done", "done", _templates("broadcast.done")),
]
_REFUSED = _NOTICES[0][2]
PHASES: dict[str, BroadcastPhase] = {
    "preview": "preview",
    "refused": "refused",
    "confirmed": "confirmed",
    "cancelled": "cancelled",
    "sending": "sending",
    "progress": "sending",
    "done": "done",
}
"""The bot's `phase` field (bridge.protocol.BROADCAST_PHASES) as the client's phase: a
progress line is the sending step with a count so far."""
_STATS_TITLE = _templates("stats.title")
_STATS_MEMBERS = [
    template_regex(bot_i18n.t("stats.members", lang).replace("{count}", "{members}"))
    for lang in bot_i18n.LANGUAGES
]
_ROOM_NAMES: list[tuple[RoomRole, re.Pattern[str]]] = [
    (role, pattern)
    for role in ("desk", "police", "wijk")
    for pattern in _templates(f"room.{role}.name")
]


def room_role(name: str | None) -> tuple[RoomRole, str] | None:
    """('wijk', 'Oost') for "BIN Oost · Wijkberichten"; None for any other name."""
    if not name:
        return None
    for role, pattern in _ROOM_NAMES:
        match = pattern.fullmatch(name.strip())
        if match:
            return role, match.group("wijk")
    return None


def _body(content: Mapping[str, Any]) -> str:
    body = content.get("body")
    return body if isinstance(body, str) else ""


@dataclass(slots=True)
class _Update:
    """One bot message about a broadcast, to be folded in time order."""

    event_id: str
    ts: float
    phase: BroadcastPhase
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Stats:
    event_id: str
    room_id: str
    members: str
    ts: float


class RoomBook:
    """Room roles, police items, broadcasts and figures, in memory only."""

    def __init__(self, *, bot_user_id: str | None = None) -> None:
        self.bot_user_id = bot_user_id
        self._names: dict[str, str] = {}
        self._slug_of_room: dict[str, str] = {}
        self._police: dict[str, PoliceItem] = {}
        self._police_room: dict[str, str] = {}
        self._updates: dict[tuple[str, str], dict[str, _Update]] = {}
        self._update_key: dict[str, tuple[str, str]] = {}
        self._stats: dict[str, _Stats] = {}

    # -- input ---------------------------------------------------------------------------

    def set_room_name(self, room_id: str, name: str | None) -> bool:
        """The room's current name; True if that changed what the book knows."""
        if name is None or self._names.get(room_id) == name:
            return False
        self._names[room_id] = name
        return room_role(name) is not None

    def forget_room(self, room_id: str) -> bool:
        """The coordinator left a room: drop everything learned from it."""
        changed = self._names.pop(room_id, None) is not None
        self._slug_of_room.pop(room_id, None)
        for event_id in [e for e, r in self._police_room.items() if r == room_id]:
            changed |= self.redact(event_id)
        for key in [k for k in self._updates if k[0] == room_id]:
            for event_id in self._updates.pop(key):
                self._update_key.pop(event_id, None)
            changed = True
        for event_id in [e for e, s in self._stats.items() if s.room_id == room_id]:
            del self._stats[event_id]
            changed = True
        return changed

    def add(self, event: RoomEvent) -> bool:
        """Take in one decrypted message of any room; True if it changed something shown."""
        if self.bot_user_id is not None and event.sender != self.bot_user_id:
            return False
        fields = BinFields.from_content(dict(event.content))
        if fields is None:
            return False
        if fields.wijk:
            self._slug_of_room.setdefault(event.room_id, fields.wijk)
        if fields.kind in (Kind.BULLETIN, Kind.FORWARD):
            return self._add_police(event, fields)
        if fields.kind is not Kind.SYSTEM:
            return False
        body = _body(event.content)
        if fields.report and fields.report.startswith("W-") and fields.text is not None:
            return self._add_preview(event, fields, body)
        if fields.report and fields.report.startswith("W-"):
            # A bot that names the broadcast also states its step: an unknown one is skipped.
            return fields.phase in PHASES and self._add_fields_notice(event, fields, body)
        return self._add_notice(event, body) or self._add_stats(event, body)

    def redact(self, event_id: str) -> bool:
        """Forget a redacted message (retention removes old bulletins and broadcasts too)."""
        if self._police.pop(event_id, None) is not None:
            self._police_room.pop(event_id, None)
            return True
        key = self._update_key.pop(event_id, None)
        if key is not None:
            updates = self._updates.get(key, {})
            updates.pop(event_id, None)
            if not updates:
                self._updates.pop(key, None)
            return True
        return self._stats.pop(event_id, None) is not None

    def _add_police(self, event: RoomEvent, fields: BinFields) -> bool:
        if event.event_id in self._police:
            return False
        kind: PoliceKind = "bulletin" if fields.kind is Kind.BULLETIN else "forward"
        self._police[event.event_id] = PoliceItem(
            event_id=event.event_id,
            kind=kind,
            wijk=fields.wijk or "",
            label=fields.report or "?",
            text=fields.text or "",
            ts=event.ts,
            note=fields.note,
        )
        self._police_room[event.event_id] = event.room_id
        return True

    def _add_preview(self, event: RoomEvent, fields: BinFields, body: str) -> bool:
        header = body.split("\n\n", 1)[0]
        values: dict[str, Any] = {"text": fields.text}
        for pattern in _PREVIEW_UNFAIR:
            match = pattern.fullmatch(header)
            if match:
                values["unfair"] = match.group("phrases")
                break
        else:
            match = next((m for p in _PREVIEW if (m := p.fullmatch(header))), None)
        if match:
            values["category"] = match.group("category")
            values["recipients"] = int(match.group("count"))
        if fields.recipients is not None:
            values["recipients"] = fields.recipients
        return self._update(event, str(fields.report), "preview", values)

    def _add_fields_notice(self, event: RoomEvent, fields: BinFields, body: str) -> bool:
        """A broadcast step as the bot's fields state it (no sentence needed)."""
        phase = PHASES[str(fields.phase)]
        values: dict[str, Any] = {}
        if fields.undo_seconds is not None:
            values["undo_seconds"] = float(fields.undo_seconds)
        if fields.recipients is not None:
            values["total"] = fields.recipients
        if fields.delivered is not None and fields.total is not None:
            values["delivered"], values["total"] = fields.delivered, fields.total
        if phase == "refused":
            # The quoted words are only in the sentence; the phase never depends on them.
            for pattern in _REFUSED:
                match = pattern.fullmatch(body.strip())
                if match:
                    values["unfair"] = match.group("phrases")
                    break
        return self._update(event, str(fields.report), phase, values)

    def _add_notice(self, event: RoomEvent, body: str) -> bool:
        for _key, phase, patterns in _NOTICES:
            for pattern in patterns:
                match = pattern.fullmatch(body.strip())
                if match is None:
                    continue
                found = match.groupdict()
                values: dict[str, Any] = {}
                if "seconds" in found:
                    values["undo_seconds"] = float(found["seconds"])
                if "count" in found:
                    values["total"] = int(found["count"])
                if "delivered" in found:
                    values["delivered"] = int(found["delivered"])
                    values["total"] = int(found["total"])
                if "phrases" in found:
                    values["unfair"] = found["phrases"]
                return self._update(event, found["label"], phase, values)
        return False

    def _add_stats(self, event: RoomEvent, body: str) -> bool:
        lines = body.strip().split("\n")
        if not any(p.fullmatch(lines[0]) for p in _STATS_TITLE):
            return False
        for line in lines[1:]:
            for pattern in _STATS_MEMBERS:
                match = pattern.fullmatch(line.strip())
                if match:
                    self._stats[event.event_id] = _Stats(
                        event.event_id, event.room_id, match.group("members"), event.ts
                    )
                    return True
        return False

    def _update(
        self, event: RoomEvent, label: str, phase: BroadcastPhase, values: dict[str, Any]
    ) -> bool:
        key = (event.room_id, label)
        updates = self._updates.setdefault(key, {})
        if event.event_id in updates:
            return False
        updates[event.event_id] = _Update(event.event_id, event.ts, phase, values)
        self._update_key[event.event_id] = key
        return True

    # -- output --------------------------------------------------------------------------

    def wijken(self) -> list[Wijk]:
        """Every wijk with at least one room whose name the bot gave it, sorted by slug."""
        by_name: dict[str, dict[str, str]] = {}
        for room_id, name in self._names.items():
            known = room_role(name)
            if known is not None:
                role, wijk_name = known
                by_name.setdefault(wijk_name, {})[role] = room_id
        out = []
        for wijk_name, rooms in by_name.items():
            slugs = (self._slug_of_room.get(r) for r in rooms.values())
            slug = next((s for s in slugs if s), None) or wijk_name.lower()
            out.append(
                Wijk(
                    slug=slug,
                    name=wijk_name,
                    desk=rooms.get("desk"),
                    police=rooms.get("police"),
                    wijk=rooms.get("wijk"),
                )
            )
        return sorted(out, key=lambda w: w.slug)

    def police_items(self) -> list[PoliceItem]:
        """Bulletins and forwards, newest first."""
        return sorted(self._police.values(), key=lambda p: p.ts, reverse=True)

    def broadcasts(self) -> list[Broadcast]:
        """Each broadcast folded from the bot's messages in time order, newest first."""
        slug_of = {w.wijk: w.slug for w in self.wijken() if w.wijk}
        out = []
        for (room_id, label), updates in self._updates.items():
            wijk = slug_of.get(room_id) or self._slug_of_room.get(room_id, "")
            out.append(_fold(wijk, label, updates.values()))
        return sorted(out, key=lambda b: (b.ts, b.label), reverse=True)

    def stats(self) -> list[WijkStats]:
        """The latest member count per wijk from the bot's `!stats` answers."""
        slug_of = {w.desk: w.slug for w in self.wijken() if w.desk}
        slug_of.update({w.police: w.slug for w in self.wijken() if w.police})
        latest: dict[str, WijkStats] = {}
        for item in sorted(self._stats.values(), key=lambda s: s.ts):
            slug = slug_of.get(item.room_id) or self._slug_of_room.get(item.room_id)
            if slug:
                latest[slug] = WijkStats(slug, item.members, item.ts)
        return list(latest.values())


def _fold(wijk: str, label: str, updates: Iterable[_Update]) -> Broadcast:
    broadcast = Broadcast(wijk=wijk, label=label, phase="preview")
    for update in sorted(updates, key=lambda u: (u.ts, u.event_id)):
        broadcast = replace(broadcast, phase=update.phase, ts=update.ts, **update.values)
    return broadcast
