"""Wijk broadcasts: an explicit publish in the wijk room, a preview, a confirmation, an undo
window, then delivery into every member's private room with progress and a count for the
coordinators.

Members are never together in one room (they would see each other), so a broadcast is a
fan-out: one encrypted message per member room. Every delivery has its own transaction id,
persisted before it is sent, so a crash mid-broadcast resumes without sending anyone a
second copy. Ordinary chat between coordinators in the wijk room is never broadcast.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import nio

from bridge import anonymise, fairness, i18n
from bridge.protocol import FIELD, BinFields, Kind, broadcast_id, parse_bulletin_id
from bridge.roomstate import RoomStates
from bridge.settings import BridgeSettings, WijkSettings
from bridge.store import Store

log = logging.getLogger(__name__)

CATEGORIES = ("informatie", "waarschuwing", "inbraak", "verdachte situatie", "oproep", "politie")
DEFAULT_CATEGORY = "informatie"
PREVIEW_VALID_S = 15 * 60
"""A preview not confirmed within this time is dropped."""


class BulletinSource(Protocol):
    """Finds a police bulletin's text by wijk and number."""

    def bulletin_text(self, wijk: str, number: int) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Broadcast:
    """One broadcast of a wijk."""

    id: int
    wijk: str
    number: int
    category: str
    text: str
    state: str
    """draft → confirmed → sending → done, or cancelled."""
    created_at: float
    send_after: float | None

    @property
    def label(self) -> str:
        """W-0003."""
        return broadcast_id(self.number)


def parse_publish(argument: str) -> tuple[str, str]:
    """`!publiceer [categorie:] tekst` → (category, text). Unknown prefixes stay in the text."""
    head, sep, rest = argument.partition(":")
    if sep and head.strip().lower() in CATEGORIES and rest.strip():
        return head.strip().lower(), rest.strip()
    return DEFAULT_CATEGORY, argument.strip()


def member_content(b: Broadcast, language: str) -> dict[str, Any]:
    """What a member receives: marked as coming from the BIN coordinator, with its number."""
    header = i18n.t("broadcast.header", language, label=b.label, category=b.category)
    content = anonymise.quoted_content(header, b.text, msgtype="m.text")
    content[FIELD] = BinFields(
        kind=Kind.BROADCAST, wijk=b.wijk, report=b.label, text=b.text
    ).to_content()
    return content


DELIVERY_BATCH = 25
"""Accepted deliveries written down per transaction."""
PROGRESS_EVERY_S = 15.0
"""While a broadcast is delivered, how often the wijk room hears how far it got."""


class Broadcasts:
    """Broadcast state in the bridge's store, and the wijk-room commands that drive it."""

    def __init__(self, settings: BridgeSettings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.bulletins: BulletinSource | None = None
        """Where `!publiceer B-0001` finds a police bulletin's text (the desk work)."""
        self._accepted: list[tuple[str, str]] = []
        """(event id, txn id) of deliveries the homeserver accepted, not yet written down."""

    # --- accepted deliveries ----------------------------------------------------------

    def accepted(self, event_id: str, txn_id: str) -> None:
        """Note that the homeserver accepted a delivery; written down in batches."""
        self._accepted.append((event_id, txn_id))
        if len(self._accepted) >= DELIVERY_BATCH:
            self.record_accepted()

    def record_accepted(self) -> None:
        """Write down accepted deliveries in one transaction (one disk sync for many).

        Every query that reads deliveries calls this first, so nothing reads a stale row.
        Losing the batch in a crash is harmless: each delivery's txn id was stored before its
        send, so the resumed broadcast sends it again under the same id and the homeserver
        answers with the event it already has.
        """
        done, self._accepted = self._accepted, []
        if done:
            with self.store.transaction() as db:
                db.executemany("UPDATE deliveries SET event_id=? WHERE txn_id=?", done)

    # --- queries ----------------------------------------------------------------------

    def _row(self, row: sqlite3.Row | None) -> Broadcast | None:
        if row is None:
            return None
        return Broadcast(
            id=row["id"],
            wijk=row["wijk"],
            number=row["number"],
            category=row["category"],
            text=row["text"],
            state=row["state"],
            created_at=row["created_at"],
            send_after=row["send_after"],
        )

    def get(self, broadcast: int) -> Broadcast | None:
        """A broadcast by its internal id."""
        return self._row(self.store.query_one("SELECT * FROM broadcasts WHERE id=?", (broadcast,)))

    def latest_draft(self, wijk: str) -> Broadcast | None:
        """The wijk's newest unconfirmed preview, if still valid."""
        return self._row(
            self.store.query_one(
                "SELECT * FROM broadcasts WHERE wijk=? AND state='draft' AND created_at>? "
                "ORDER BY id DESC LIMIT 1",
                (wijk, time.time() - PREVIEW_VALID_S),
            )
        )

    def pending(self, wijk: str) -> Broadcast | None:
        """A confirmed broadcast still inside its undo window."""
        return self._row(
            self.store.query_one(
                "SELECT * FROM broadcasts WHERE wijk=? AND state='confirmed' "
                "ORDER BY id DESC LIMIT 1",
                (wijk,),
            )
        )

    def due(self) -> list[Broadcast]:
        """Broadcasts to deliver now: confirmed and past the undo window, or interrupted."""
        rows = self.store.query_all(
            "SELECT * FROM broadcasts WHERE (state='confirmed' AND send_after<=?) "
            "OR state='sending' ORDER BY id",
            (time.time(),),
        )
        return [b for b in (self._row(r) for r in rows) if b is not None]

    def next_due_at(self) -> float | None:
        """When the next confirmed broadcast's undo window ends, if one is waiting."""
        row = self.store.query_one("SELECT MIN(send_after) FROM broadcasts WHERE state='confirmed'")
        return None if row is None or row[0] is None else float(row[0])

    def recent(self, wijk: str, window_s: float) -> list[Broadcast]:
        """Delivered broadcasts of the last `window_s` seconds (for members who join later)."""
        rows = self.store.query_all(
            "SELECT * FROM broadcasts WHERE wijk=? AND state IN ('sending','done') "
            "AND created_at>? ORDER BY id",
            (wijk, time.time() - window_s),
        )
        return [b for b in (self._row(r) for r in rows) if b is not None]

    def by_delivery_event(self, event_id: str) -> Broadcast | None:
        """The broadcast whose delivery to a member is this event (for reactions)."""
        self.record_accepted()
        row = self.store.query_one(
            "SELECT b.* FROM deliveries d JOIN broadcasts b ON b.id=d.broadcast_id "
            "WHERE d.event_id=?",
            (event_id,),
        )
        return self._row(row)

    def late_deliveries(self) -> list[sqlite3.Row]:
        """Unsent deliveries of finished broadcasts: members who signed up afterwards."""
        self.record_accepted()
        return self.store.query_all(
            "SELECT d.broadcast_id, d.member_key, d.room_id, d.txn_id, m.language "
            "FROM deliveries d JOIN broadcasts b ON b.id=d.broadcast_id "
            "LEFT JOIN members m ON m.member_key=d.member_key "
            "WHERE b.state='done' AND d.event_id IS NULL AND d.failed=0"
        )

    def counts(self, broadcast: int) -> tuple[int, int]:
        """(delivered, total) for a broadcast."""
        self.record_accepted()
        row = self.store.query_one(
            "SELECT SUM(event_id IS NOT NULL), COUNT(*) FROM deliveries WHERE broadcast_id=?",
            (broadcast,),
        )
        assert row is not None
        return int(row[0] or 0), int(row[1] or 0)

    # --- the wijk room ----------------------------------------------------------------

    def handle_command(
        self, db: sqlite3.Connection, wijk: WijkSettings, sender: str, name: str, argument: str
    ) -> None:
        """`!publiceer`, `!ja`, `!stop` from a coordinator in the wijk room."""
        lang = self.settings.bot.language
        room = self.store.wijk_room(wijk.slug, "wijk")
        assert room is not None
        if sender not in wijk.coordinators:
            return
        if name == "publiceer":
            category, text = parse_publish(argument)
            bulletin = parse_bulletin_id(argument.split(maxsplit=1)[0]) if argument else None
            if bulletin is not None and self.bulletins is not None:
                found = self.bulletins.bulletin_text(wijk.slug, bulletin)
                if found is None:
                    self._say(db, room, i18n.t("broadcast.unknown_bulletin", lang))
                    return
                category, text = "politie", found
            text = anonymise.clean_text(text)
            if not text:
                self._say(db, room, i18n.t("broadcast.usage", lang))
                return
            number = self._next_number(db, wijk.slug)
            db.execute(
                "INSERT INTO broadcasts(wijk, number, category, text, state, created_at) "
                "VALUES(?,?,?,?, 'draft', ?)",
                (wijk.slug, number, category, text, time.time()),
            )
            recipients = self.store.member_count(wijk.slug)
            unfair = fairness.check_broadcast(text)
            preview = i18n.t(
                "broadcast.preview_unfair" if unfair.flagged else "broadcast.preview",
                lang,
                label=broadcast_id(number),
                category=category,
                count=recipients,
                phrases=unfair.quoted,
            )
            content = anonymise.quoted_content(preview, text, msgtype="m.notice")
            content[FIELD] = BinFields(
                kind=Kind.SYSTEM,
                wijk=wijk.slug,
                report=broadcast_id(number),
                text=text,
                phase="preview",
                recipients=recipients,
            ).to_content()
            self.store.enqueue(db, room, content)
        elif name == "ja":
            draft = self.latest_draft(wijk.slug)
            if draft is None:
                self._say(db, room, i18n.t("broadcast.nothing_to_confirm", lang))
                return
            unfair = fairness.check_broadcast(draft.text)
            if unfair.flagged and argument.strip().lower() not in fairness.SEND_ANYWAY:
                # Origin or skin colour: only an explicit `!ja zeker` sends it (issue 4, item 8).
                text = i18n.t(
                    "broadcast.unfair_not_sent", lang, label=draft.label, phrases=unfair.quoted
                )
                self._say(
                    db,
                    room,
                    text,
                    BinFields(
                        kind=Kind.SYSTEM, wijk=wijk.slug, report=draft.label, phase="refused"
                    ),
                )
                return
            undo = self.settings.relay.broadcast_undo_seconds
            db.execute(
                "UPDATE broadcasts SET state='confirmed', send_after=? WHERE id=?",
                (time.time() + undo, draft.id),
            )
            self._say(
                db,
                room,
                i18n.t("broadcast.confirmed", lang, label=draft.label, seconds=undo),
                BinFields(
                    kind=Kind.SYSTEM,
                    wijk=wijk.slug,
                    report=draft.label,
                    phase="confirmed",
                    undo_seconds=round(undo),
                ),
            )
        elif name == "stop":
            pending = self.pending(wijk.slug) or self.latest_draft(wijk.slug)
            if pending is None:
                self._say(db, room, i18n.t("broadcast.nothing_to_stop", lang))
                return
            db.execute("UPDATE broadcasts SET state='cancelled' WHERE id=?", (pending.id,))
            self._say(
                db,
                room,
                i18n.t("broadcast.cancelled", lang, label=pending.label),
                BinFields(
                    kind=Kind.SYSTEM, wijk=wijk.slug, report=pending.label, phase="cancelled"
                ),
            )

    def _next_number(self, db: sqlite3.Connection, wijk: str) -> int:
        row = db.execute(
            "SELECT COALESCE(MAX(number), 0) + 1 FROM broadcasts WHERE wijk=?", (wijk,)
        ).fetchone()
        return int(row[0])

    def _say(
        self, db: sqlite3.Connection, room: str, text: str, fields: BinFields | None = None
    ) -> None:
        """A notice in the wijk room; `fields` say in structure what the sentence says."""
        content = anonymise.plain_content(text, msgtype="m.notice")
        content[FIELD] = (fields or BinFields(kind=Kind.SYSTEM)).to_content()
        self.store.enqueue(db, room, content)

    def queue_recent_for(
        self, db: sqlite3.Connection, member_key: str, room_id: str, wijk: str, language: str
    ) -> None:
        """A member who signs up later receives the recent broadcasts (configurable window)."""
        window = self.settings.relay.recent_broadcasts_days * 86400
        for b in self.recent(wijk, window):
            txn = f"bin-w-{uuid.uuid4().hex}"
            db.execute(
                "INSERT OR IGNORE INTO deliveries(broadcast_id, member_key, room_id, txn_id) "
                "VALUES(?,?,?,?)",
                (b.id, member_key, room_id, txn),
            )
            # Sent quietly by the runner (no progress lines for one late member).


class BroadcastRunner:
    """Delivers due broadcasts with bounded concurrency, honouring rate limits, never dropping.

    nio itself waits and retries when the homeserver answers 429 (for as long as it asks), so
    a rate limit slows a broadcast down but never loses a delivery.
    """

    def __init__(
        self,
        broadcasts: Broadcasts,
        store: Store,
        concurrency: int = 8,
        rooms: RoomStates | None = None,
    ) -> None:
        self.broadcasts = broadcasts
        self.store = store
        self.concurrency = max(1, concurrency)
        self.rooms = rooms or RoomStates()

    @property
    def _lang(self) -> str:
        return self.broadcasts.settings.bot.language

    async def run_due(self, client: nio.AsyncClient) -> None:
        """Deliver every due broadcast to completion, then the late members' copies."""
        for b in self.broadcasts.due():
            await self._deliver(client, b)
        late = self.broadcasts.late_deliveries()
        semaphore = asyncio.Semaphore(self.concurrency)
        try:
            await asyncio.gather(
                *(
                    self._send_one(client, semaphore, self._get(r[0]), r[1], r[2], r[3], r[4])
                    for r in late
                )
            )
        finally:
            self.broadcasts.record_accepted()

    def _get(self, broadcast: int) -> Broadcast:
        found = self.broadcasts.get(broadcast)
        assert found is not None
        return found

    def _materialise(self, b: Broadcast) -> None:
        """Create one delivery row (with its txn id) per member, once, before sending."""
        if b.state != "confirmed":
            return  # already materialised: an interrupted broadcast resumes where it was
        with self.store.transaction() as db:
            members = db.execute(
                "SELECT member_key, room_id FROM members WHERE wijk=? AND joined=1", (b.wijk,)
            ).fetchall()
            for member in members:
                db.execute(
                    "INSERT OR IGNORE INTO deliveries(broadcast_id, member_key, room_id, txn_id) "
                    "VALUES(?,?,?,?)",
                    (b.id, member[0], member[1], f"bin-w-{uuid.uuid4().hex}"),
                )
            db.execute("UPDATE broadcasts SET state='sending' WHERE id=?", (b.id,))
            room = self.store.wijk_room(b.wijk, "wijk")
            if room is not None:
                text = i18n.t("broadcast.started", self._lang, label=b.label, count=len(members))
                fields = BinFields(
                    kind=Kind.SYSTEM,
                    wijk=b.wijk,
                    report=b.label,
                    phase="sending",
                    recipients=len(members),
                )
                self.broadcasts._say(db, room, text, fields)

    async def _deliver(self, client: nio.AsyncClient, b: Broadcast) -> None:
        self._materialise(b)
        rows = self.store.query_all(
            "SELECT d.member_key, d.room_id, d.txn_id, m.language FROM deliveries d "
            "LEFT JOIN members m ON m.member_key=d.member_key "
            "WHERE d.broadcast_id=? AND d.event_id IS NULL AND d.failed=0",
            (b.id,),
        )
        await self.rooms.ensure_all(client, [str(r[1]) for r in rows], self.concurrency)
        semaphore = asyncio.Semaphore(self.concurrency)
        progress = asyncio.create_task(self._report_progress(b))
        try:
            await asyncio.gather(
                *(self._send_one(client, semaphore, b, r[0], r[1], r[2], r[3]) for r in rows)
            )
        finally:
            # Stopped before the count below, so no progress line follows "done".
            progress.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await progress
            self.broadcasts.record_accepted()
        delivered, total = self.broadcasts.counts(b.id)
        with self.store.transaction() as db:
            db.execute(
                "UPDATE broadcasts SET state='done', finished_at=? WHERE id=?", (time.time(), b.id)
            )
            room = self.store.wijk_room(b.wijk, "wijk")
            if room is not None:
                text = i18n.t(
                    "broadcast.done", self._lang, label=b.label, delivered=delivered, total=total
                )
                fields = BinFields(
                    kind=Kind.SYSTEM,
                    wijk=b.wijk,
                    report=b.label,
                    phase="done",
                    delivered=delivered,
                    total=total,
                )
                self.broadcasts._say(db, room, text, fields)
        if delivered < total:
            log.warning("a broadcast reached %d of %d members", delivered, total)

    async def _report_progress(self, b: Broadcast) -> None:
        """Every `PROGRESS_EVERY_S` while members remain: "W-0001: 250 van 1000 leden bereikt…".

        Only informative: the count comes from the stored deliveries, and a resumed broadcast
        simply reports again. A failure here is logged and never stops the delivery.
        """
        try:
            while True:
                await asyncio.sleep(PROGRESS_EVERY_S)
                delivered, total = self.broadcasts.counts(b.id)
                room = self.store.wijk_room(b.wijk, "wijk")
                if delivered >= total or room is None:
                    continue
                with self.store.transaction() as db:
                    text = i18n.t(
                        "broadcast.progress",
                        self._lang,
                        label=b.label,
                        delivered=delivered,
                        total=total,
                    )
                    fields = BinFields(
                        kind=Kind.SYSTEM,
                        wijk=b.wijk,
                        report=b.label,
                        phase="progress",
                        delivered=delivered,
                        total=total,
                    )
                    self.broadcasts._say(db, room, text, fields)
        except Exception:  # the members' copies matter; this line is a courtesy
            log.exception("a broadcast's progress line could not be posted")

    async def _send_one(
        self,
        client: nio.AsyncClient,
        semaphore: asyncio.Semaphore,
        b: Broadcast,
        member_key: str,
        room_id: str,
        txn_id: str,
        language: str | None,
    ) -> None:
        """One member's copy, with its persisted txn id; retried, then counted as failed."""
        async with semaphore:
            content = member_content(b, language or self._lang)
            for attempt in range(3):
                try:
                    joined = await self.rooms.ensure(client, room_id)
                except ConnectionError:
                    await asyncio.sleep(1 + 2 * attempt)
                    continue
                if not joined:
                    break  # the member left their room: counted, not retried
                response = await client.room_send(
                    room_id,
                    "m.room.message",
                    content,
                    tx_id=txn_id,
                    ignore_unverified_devices=True,
                )
                if isinstance(response, nio.RoomSendResponse):
                    self.broadcasts.accepted(response.event_id, txn_id)
                    return
                if getattr(response, "status_code", None) in ("M_FORBIDDEN", "M_NOT_FOUND"):
                    break  # the member left their room: counted, not retried
                await asyncio.sleep(1 + 2 * attempt)
            with self.store.transaction() as db:
                db.execute("UPDATE deliveries SET failed=1 WHERE txn_id=?", (txn_id,))
