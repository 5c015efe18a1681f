"""Retention: after the configured period, a report is redacted from the desk and police rooms
and everything that linked it to a member is deleted (DESIGN.md section 6).

The redactions go through the outbox (with persisted transaction ids) like every other send,
so they happen exactly once even across a crash.
"""

from __future__ import annotations

import sqlite3

from bridge.settings import BridgeSettings
from bridge.store import Store

REDACT = "bin.redact"
"""Outbox rows of this type redact one of the bot's own events (content: {"event_id": …})."""


def expire(db: sqlite3.Connection, store: Store, settings: BridgeSettings, now: float) -> int:
    """Queue redactions for expired conversations and delete their mappings; returns how many."""
    cutoff = now - settings.relay.retention_days * 86400
    expired = db.execute(
        "SELECT id, wijk FROM conversations WHERE last_activity<?", (cutoff,)
    ).fetchall()
    for conversation_id, wijk in expired:
        shared = {store.wijk_room(wijk, "desk"), store.wijk_room(wijk, "police")} - {None}
        events = db.execute(
            "SELECT event_id, room_id FROM bot_events WHERE conversation_id=?",
            (conversation_id,),
        ).fetchall()
        for event_id, room_id in events:
            if room_id in shared:
                store.enqueue(db, room_id, {"event_id": event_id}, event_type=REDACT)
        # Mirrors, bot events and the member link go with the conversation (foreign keys).
        db.execute("DELETE FROM conversations WHERE id=?", (conversation_id,))
    db.execute("DELETE FROM bulletins WHERE created_at<?", (cutoff,))
    db.execute(
        "DELETE FROM deliveries WHERE broadcast_id IN "
        "(SELECT id FROM broadcasts WHERE created_at<?)",
        (cutoff,),
    )
    db.execute("DELETE FROM broadcasts WHERE created_at<?", (cutoff,))
    return len(expired)
