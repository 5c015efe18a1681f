"""The bridge's own durable state: SQLite with numbered migrations and explicit transactions.

What is kept is deliberately small (DESIGN.md section 6): per member a keyed digest of the
account (never the user id in clear), the private room, wijk and language; per conversation
its number, pseudonym and the bot's own event ids; a ledger of handled events (as digests);
an outbox of sends that must happen exactly once. No message text is kept after relaying:
an outbox row holds the content only until the homeserver accepted it.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIGRATIONS: tuple[str, ...] = (
    # 1: the walking skeleton
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE wijk_rooms (
        wijk TEXT NOT NULL, role TEXT NOT NULL, room_id TEXT NOT NULL UNIQUE,
        PRIMARY KEY (wijk, role)
    );
    CREATE TABLE members (
        member_key TEXT PRIMARY KEY,
        room_id TEXT NOT NULL UNIQUE,
        wijk TEXT,
        language TEXT NOT NULL,
        joined INTEGER NOT NULL DEFAULT 0,
        welcomed INTEGER NOT NULL DEFAULT 0,
        want_new INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        member_key TEXT NOT NULL REFERENCES members(member_key) ON DELETE CASCADE,
        wijk TEXT NOT NULL,
        number INTEGER NOT NULL,
        pseudonym TEXT NOT NULL,
        root_event_id TEXT,
        opened_at REAL NOT NULL,
        last_activity REAL NOT NULL,
        closed INTEGER NOT NULL DEFAULT 0,
        UNIQUE (wijk, number)
    );
    CREATE INDEX conversations_member ON conversations(member_key, opened_at);
    CREATE TABLE bot_events (
        event_id TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE
    );
    CREATE TABLE handled (digest TEXT PRIMARY KEY, handled_at REAL NOT NULL);
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        txn_id TEXT NOT NULL UNIQUE,
        room_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        content TEXT NOT NULL,
        conversation_id TEXT,
        sets_root INTEGER NOT NULL DEFAULT 0,
        in_thread INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    CREATE TABLE legacy_dms (room_id TEXT PRIMARY KEY, member_key TEXT NOT NULL,
        created_at REAL NOT NULL);
    """,
    # 2: events that could not be decrypted yet survive a restart (case C13)
    """
    CREATE TABLE undecrypted (
        event_id TEXT PRIMARY KEY,
        room_id TEXT NOT NULL,
        event TEXT NOT NULL,
        received_at REAL NOT NULL
    );
    """,
    # 3: anonymity guarantees (issue 3): mirrored edits and deletions, blocks, reveals, pins.
    # `mirrors.source` is a keyed digest of the original event id (never the id itself); the
    # copies are the bot's own events. `blocks` has no foreign key: a block outlives the member.
    """
    CREATE TABLE mirrors (
        source TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        author TEXT NOT NULL,
        room_id TEXT NOT NULL
    );
    CREATE TABLE mirror_copies (
        source TEXT NOT NULL REFERENCES mirrors(source) ON DELETE CASCADE,
        event_id TEXT NOT NULL,
        PRIMARY KEY (source, event_id)
    );
    ALTER TABLE outbox ADD COLUMN mirror TEXT;
    ALTER TABLE conversations ADD COLUMN revealed_at REAL;
    ALTER TABLE members ADD COLUMN pending_location TEXT;
    ALTER TABLE members ADD COLUMN pending_location_at REAL;
    CREATE TABLE blocks (
        member_key TEXT NOT NULL,
        wijk TEXT NOT NULL,
        blocked_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        PRIMARY KEY (member_key, wijk)
    );
    """,
    # 4: wijk broadcasts (issue 4): one row per broadcast, one delivery per member with its
    # own transaction id persisted before sending, so an interrupted fan-out resumes.
    """
    CREATE TABLE broadcasts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        wijk TEXT NOT NULL,
        number INTEGER NOT NULL,
        category TEXT NOT NULL,
        text TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at REAL NOT NULL,
        send_after REAL,
        finished_at REAL,
        UNIQUE (wijk, number)
    );
    CREATE TABLE deliveries (
        broadcast_id INTEGER NOT NULL REFERENCES broadcasts(id) ON DELETE CASCADE,
        member_key TEXT NOT NULL,
        room_id TEXT NOT NULL,
        txn_id TEXT NOT NULL UNIQUE,
        event_id TEXT,
        failed INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (broadcast_id, member_key)
    );
    CREATE INDEX deliveries_event ON deliveries(event_id);
    ALTER TABLE conversations ADD COLUMN reaction_to TEXT;
    """,
    # 5: report handling and the police room (issue 4): status, category, who handles it,
    # time of the first answer (for figures), and police bulletins.
    """
    ALTER TABLE conversations ADD COLUMN status TEXT NOT NULL DEFAULT 'nieuw';
    ALTER TABLE conversations ADD COLUMN category TEXT;
    ALTER TABLE conversations ADD COLUMN handler TEXT;
    ALTER TABLE conversations ADD COLUMN first_answer_at REAL;
    CREATE TABLE bulletins (
        wijk TEXT NOT NULL,
        number INTEGER NOT NULL,
        text TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (wijk, number)
    );
    """,
    # 6: joining and leaving (issue 4): rotated join codes (digests only), slowed-down wrong
    # codes, sign-ups waiting for the coordinators' approval under a temporary pseudonym.
    """
    CREATE TABLE join_codes (
        wijk TEXT PRIMARY KEY,
        digest TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL
    );
    ALTER TABLE members ADD COLUMN wrong_codes INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE members ADD COLUMN next_code_at REAL;
    CREATE TABLE signups (
        member_key TEXT NOT NULL REFERENCES members(member_key) ON DELETE CASCADE,
        wijk TEXT NOT NULL,
        pseudonym TEXT NOT NULL,
        requested_at REAL NOT NULL,
        PRIMARY KEY (member_key, wijk)
    );
    """,
    # 7: escalation of unanswered reports to the reserve coordinator (issue 4)
    """
    ALTER TABLE conversations ADD COLUMN escalated_at REAL;
    """,
    # 8: the member was told to call 112 in this conversation (issue 4), once; the time only
    """
    ALTER TABLE conversations ADD COLUMN urgent_noticed_at REAL;
    """,
    # 9: retention (issue 4): where each of the bot's events is, so an expired report can be
    # redacted from the desk and police rooms.
    """
    ALTER TABLE bot_events ADD COLUMN room_id TEXT;
    """,
    # 10: the optional random relay delay (issue 3): a send may wait until `not_before`.
    """
    ALTER TABLE outbox ADD COLUMN not_before REAL;
    """,
    # 11: when the member was asked to send an undecryptable message again (case C13), so
    # the question is asked once, across restarts too.
    """
    ALTER TABLE undecrypted ADD COLUMN asked_at REAL;
    """,
)

REDACTION = "m.room.redaction"
"""Outbox rows of this type redact every current copy of their mirror (resolved at send time)."""


@dataclass(frozen=True, slots=True)
class Member:
    """A member as the bridge knows them: no user id, only a keyed digest."""

    member_key: str
    room_id: str
    wijk: str | None
    language: str
    joined: bool
    welcomed: bool
    want_new: bool
    pending_location: str | None = None
    """A rounded geo: URI the member sent, waiting for `!ja` (never the exact pin)."""
    pending_location_at: float | None = None


@dataclass(frozen=True, slots=True)
class Conversation:
    """One conversation (report) of a member with the coordinators of a wijk."""

    id: str
    member_key: str
    wijk: str
    number: int
    pseudonym: str
    root_event_id: str | None
    opened_at: float
    last_activity: float
    closed: bool
    revealed_at: float | None = None
    """When the member chose to be known in this conversation (`!persoonlijk ja`)."""


@dataclass(frozen=True, slots=True)
class Mirror:
    """An original message (member's or coordinator's) and where the bot copied it."""

    source: str
    """Keyed digest of the original event id."""
    conversation_id: str
    author: str
    """Keyed digest of the original's sender: only they may edit or delete it."""
    room_id: str
    """The room of the bot's copies (a desk, or a member's private room)."""


@dataclass(frozen=True, slots=True)
class PendingSend:
    """A send that was decided but not yet confirmed by the homeserver."""

    seq: int
    txn_id: str
    room_id: str
    event_type: str
    content: dict[str, Any]
    conversation_id: str | None
    sets_root: bool
    in_thread: bool
    """Post in the conversation's desk thread (the root is looked up at send time)."""
    mirror: str | None = None
    """The mirrored original (digest): a copy is recorded on success; a redaction targets it."""
    created_at: float = 0.0
    """When it was queued: past the homeserver's de-duplication window, check before resending."""
    not_before: float | None = None
    """The random relay delay: not sent before this time (later sends of its conversation wait)."""


class Store:
    """The bridge's SQLite database. One connection, used from the bot's event loop only."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self._cause: str | None = None
        self._cause_seq = 0
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        path.chmod(0o600)
        self._migrate()

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    # --- plumbing ---------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work: everything in it is written, or nothing."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS, start=1):
            if number > version:
                with self.transaction() as db:
                    for statement in script.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version={number}")

    def query_one(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Row | None:
        """One row of a read-only query."""
        row: sqlite3.Row | None = self._db.execute(sql, params).fetchone()
        return row

    def query_all(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        """All rows of a read-only query."""
        return list(self._db.execute(sql, params).fetchall())

    @property
    def schema_version(self) -> int:
        """The number of the last applied migration."""
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    # --- meta -------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """A value from the key/value table."""
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str, db: sqlite3.Connection | None = None) -> None:
        """Set a key/value pair (inside a transaction when `db` is given)."""
        (db or self._db).execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )

    @property
    def sync_token(self) -> str | None:
        """The bridge's own sync position: written only after a whole batch was handled."""
        return self.get_meta("sync_token")

    # --- wijk rooms -------------------------------------------------------------------

    def wijk_room(self, wijk: str, role: str) -> str | None:
        """The room id of a wijk's desk/police/wijk room, if created."""
        row = self._db.execute(
            "SELECT room_id FROM wijk_rooms WHERE wijk=? AND role=?", (wijk, role)
        ).fetchone()
        return None if row is None else str(row[0])

    def set_wijk_room(self, wijk: str, role: str, room_id: str) -> None:
        """Remember a room the bot created for a wijk."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO wijk_rooms(wijk, role, room_id) VALUES(?,?,?)",
                (wijk, role, room_id),
            )

    def room_role(self, room_id: str) -> tuple[str, str] | None:
        """(wijk, role) for one of the bot's wijk rooms."""
        row = self._db.execute(
            "SELECT wijk, role FROM wijk_rooms WHERE room_id=?", (room_id,)
        ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    # --- members ----------------------------------------------------------------------

    def _member(self, row: sqlite3.Row | None) -> Member | None:
        if row is None:
            return None
        return Member(
            member_key=row["member_key"],
            room_id=row["room_id"],
            wijk=row["wijk"],
            language=row["language"],
            joined=bool(row["joined"]),
            welcomed=bool(row["welcomed"]),
            want_new=bool(row["want_new"]),
            pending_location=row["pending_location"],
            pending_location_at=row["pending_location_at"],
        )

    def member_by_key(self, member_key: str) -> Member | None:
        """The member behind a keyed digest of their account."""
        row = self._db.execute("SELECT * FROM members WHERE member_key=?", (member_key,))
        return self._member(row.fetchone())

    def member_by_room(self, room_id: str) -> Member | None:
        """The member whose private room this is."""
        row = self._db.execute("SELECT * FROM members WHERE room_id=?", (room_id,))
        return self._member(row.fetchone())

    def add_member(self, member_key: str, room_id: str, language: str) -> None:
        """Register a new private room for a (not yet signed-up) member."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO members(member_key, room_id, language, created_at) VALUES(?,?,?,?)",
                (member_key, room_id, language, time.time()),
            )

    def update_member(self, member_key: str, db: sqlite3.Connection, **fields: object) -> None:
        """Change some of a member's columns inside a transaction."""
        allowed = {
            "wijk",
            "language",
            "joined",
            "welcomed",
            "want_new",
            "pending_location",
            "pending_location_at",
        }
        if not fields or set(fields) - allowed:
            raise ValueError(f"cannot update member fields {sorted(set(fields) - allowed)}")
        assignments = ", ".join(f"{name}=?" for name in fields)
        db.execute(
            f"UPDATE members SET {assignments} WHERE member_key=?",
            (*fields.values(), member_key),
        )

    def member_count(self, wijk: str) -> int:
        """How many signed-up members a wijk has."""
        row = self._db.execute("SELECT COUNT(*) FROM members WHERE wijk=?", (wijk,)).fetchone()
        return int(row[0])

    # --- conversations ----------------------------------------------------------------

    def _conversation(self, row: sqlite3.Row | None) -> Conversation | None:
        if row is None:
            return None
        return Conversation(
            id=row["id"],
            member_key=row["member_key"],
            wijk=row["wijk"],
            number=row["number"],
            pseudonym=row["pseudonym"],
            root_event_id=row["root_event_id"],
            opened_at=row["opened_at"],
            last_activity=row["last_activity"],
            closed=bool(row["closed"]),
            revealed_at=row["revealed_at"],
        )

    def conversation(self, conversation_id: str) -> Conversation | None:
        """A conversation by id."""
        row = self._db.execute("SELECT * FROM conversations WHERE id=?", (conversation_id,))
        return self._conversation(row.fetchone())

    def latest_conversation(self, member_key: str, wijk: str) -> Conversation | None:
        """The member's most recent conversation in a wijk."""
        row = self._db.execute(
            "SELECT * FROM conversations WHERE member_key=? AND wijk=? "
            "ORDER BY opened_at DESC, number DESC LIMIT 1",
            (member_key, wijk),
        )
        return self._conversation(row.fetchone())

    def conversation_by_event(self, event_id: str) -> Conversation | None:
        """The conversation one of the bot's own events belongs to (desk or private room)."""
        row = self._db.execute(
            "SELECT c.* FROM bot_events b JOIN conversations c ON c.id=b.conversation_id "
            "WHERE b.event_id=?",
            (event_id,),
        )
        return self._conversation(row.fetchone())

    def open_pseudonyms(self, wijk: str, except_member: str | None = None) -> set[str]:
        """Pseudonyms in use by the wijk's open conversations (they must stay unique).

        `except_member` leaves out that member's own conversations (for stable pseudonyms).
        """
        rows = self._db.execute(
            "SELECT pseudonym FROM conversations WHERE wijk=? AND closed=0 AND member_key IS NOT ?",
            (wijk, except_member),
        )
        return {str(r[0]) for r in rows}

    def conversation_by_number(self, wijk: str, number: int) -> Conversation | None:
        """A wijk's conversation by its report number (M-0007 -> 7)."""
        row = self._db.execute(
            "SELECT * FROM conversations WHERE wijk=? AND number=?", (wijk, number)
        )
        return self._conversation(row.fetchone())

    def set_revealed(self, db: sqlite3.Connection, conversation_id: str, now: float) -> None:
        """Record (the time only) that the member chose to be known in this conversation."""
        db.execute("UPDATE conversations SET revealed_at=? WHERE id=?", (now, conversation_id))

    # --- blocks -------------------------------------------------------------------------

    def block(
        self, db: sqlite3.Connection, member_key: str, wijk: str, now: float, expires_at: float
    ) -> None:
        """Block a member (by keyed digest) in a wijk until `expires_at`."""
        db.execute(
            "INSERT INTO blocks(member_key, wijk, blocked_at, expires_at) VALUES(?,?,?,?) "
            "ON CONFLICT(member_key, wijk) DO UPDATE SET blocked_at=excluded.blocked_at, "
            "expires_at=excluded.expires_at",
            (member_key, wijk, now, expires_at),
        )

    def unblock(self, db: sqlite3.Connection, member_key: str, wijk: str) -> bool:
        """Lift a block; False if there was none."""
        cursor = db.execute("DELETE FROM blocks WHERE member_key=? AND wijk=?", (member_key, wijk))
        return cursor.rowcount > 0

    def is_blocked(self, member_key: str, wijk: str, now: float) -> bool:
        """Whether a member is blocked in a wijk (expired blocks do not count)."""
        row = self._db.execute(
            "SELECT 1 FROM blocks WHERE member_key=? AND wijk=? AND expires_at>?",
            (member_key, wijk, now),
        ).fetchone()
        return row is not None

    def forget_expired_blocks(self, now: float, db: sqlite3.Connection | None = None) -> int:
        """Delete the digests of blocks whose documented period has passed."""
        if db is None:
            with self.transaction() as own:
                return self.forget_expired_blocks(now, own)
        return int(db.execute("DELETE FROM blocks WHERE expires_at<=?", (now,)).rowcount)

    def new_conversation(
        self, db: sqlite3.Connection, member_key: str, wijk: str, pseudonym: str, now: float
    ) -> Conversation:
        """Open a conversation with the wijk's next report number."""
        row = db.execute(
            "SELECT COALESCE(MAX(number), 0) + 1 FROM conversations WHERE wijk=?", (wijk,)
        ).fetchone()
        number = max(int(row[0]), int(self.get_meta(f"last_number:{wijk}") or 0) + 1)
        conversation_id = uuid.uuid4().hex
        db.execute(
            "INSERT INTO conversations(id, member_key, wijk, number, pseudonym, opened_at, "
            "last_activity) VALUES(?,?,?,?,?,?,?)",
            (conversation_id, member_key, wijk, number, pseudonym, now, now),
        )
        # Numbers are never reused, even after a conversation has been deleted.
        self.set_meta(f"last_number:{wijk}", str(number), db)
        return Conversation(
            conversation_id, member_key, wijk, number, pseudonym, None, now, now, False
        )

    def touch_conversation(self, db: sqlite3.Connection, conversation_id: str, now: float) -> None:
        """Record activity in a conversation (and re-open it)."""
        db.execute(
            "UPDATE conversations SET last_activity=?, closed=0 WHERE id=?",
            (now, conversation_id),
        )

    # --- the ledger and the outbox ----------------------------------------------------

    def is_handled(self, digest: str) -> bool:
        """Whether an inbound event (by keyed digest) was already handled."""
        row = self._db.execute("SELECT 1 FROM handled WHERE digest=?", (digest,)).fetchone()
        return row is not None

    def mark_handled(self, db: sqlite3.Connection, digest: str) -> None:
        """Record an inbound event as handled, in the same transaction as its effects."""
        db.execute(
            "INSERT OR IGNORE INTO handled(digest, handled_at) VALUES(?, ?)", (digest, time.time())
        )

    @contextmanager
    def caused_by(self, digest: str) -> Iterator[None]:
        """Derive the transaction ids of the sends queued inside from an inbound event."""
        self._cause, self._cause_seq = digest, 0
        try:
            yield
        finally:
            self._cause = None

    def enqueue(
        self,
        db: sqlite3.Connection,
        room_id: str,
        content: dict[str, Any],
        *,
        event_type: str = "m.room.message",
        conversation_id: str | None = None,
        sets_root: bool = False,
        in_thread: bool = False,
        mirror: str | None = None,
        not_before: float | None = None,
    ) -> str:
        """Queue a send with its transaction id, persisted before anything is sent.

        Inside `caused_by(digest)` the id is derived from the inbound event and the send's
        place among its effects, so handling the same event again (after a restore from
        backup, say) produces the same ids, which the homeserver de-duplicates.
        """
        if self._cause is not None:
            self._cause_seq += 1
            txn_id = f"bin-{self._cause[:32]}-{self._cause_seq}"
        else:
            txn_id = f"bin-{uuid.uuid4().hex}"
        db.execute(
            "INSERT INTO outbox(txn_id, room_id, event_type, content, conversation_id, "
            "sets_root, in_thread, created_at, mirror, not_before) VALUES(?,?,?,?,?,?,?,?,?,?)",
            (
                txn_id,
                room_id,
                event_type,
                json.dumps(content),
                conversation_id,
                int(sets_root),
                int(in_thread),
                time.time(),
                mirror,
                not_before,
            ),
        )
        return txn_id

    def enqueue_redaction(self, db: sqlite3.Connection, room_id: str, mirror: str) -> str:
        """Queue the redaction of every copy of `mirror` that exists when it is sent."""
        return self.enqueue(db, room_id, {}, event_type=REDACTION, mirror=mirror)

    def pending_sends(self) -> list[PendingSend]:
        """Queued sends in the order they were decided."""
        rows = self._db.execute("SELECT * FROM outbox ORDER BY seq")
        return [
            PendingSend(
                seq=r["seq"],
                txn_id=r["txn_id"],
                room_id=r["room_id"],
                event_type=r["event_type"],
                content=json.loads(r["content"]),
                conversation_id=r["conversation_id"],
                sets_root=bool(r["sets_root"]),
                in_thread=bool(r["in_thread"]),
                mirror=r["mirror"],
                created_at=float(r["created_at"]),
                not_before=r["not_before"],
            )
            for r in rows
        ]

    def next_delayed_send(self) -> float | None:
        """When the earliest delayed send becomes due, if any is waiting."""
        row = self._db.execute("SELECT MIN(not_before) FROM outbox").fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def complete_send(self, send: PendingSend, event_id: str) -> None:
        """The homeserver accepted a send: forget its content, remember the event id."""
        with self.transaction() as db:
            db.execute("DELETE FROM outbox WHERE seq=?", (send.seq,))
            if send.conversation_id is not None:
                db.execute(
                    "INSERT OR IGNORE INTO bot_events(event_id, conversation_id, room_id) "
                    "VALUES(?,?,?)",
                    (event_id, send.conversation_id, send.room_id),
                )
                if send.sets_root:
                    db.execute(
                        "UPDATE conversations SET root_event_id=? WHERE id=?",
                        (event_id, send.conversation_id),
                    )
            if send.mirror is not None:
                db.execute(
                    "INSERT OR IGNORE INTO mirror_copies(source, event_id) "
                    "SELECT source, ? FROM mirrors WHERE source=?",
                    (event_id, send.mirror),
                )

    # --- mirrored messages (edits and deletions) ------------------------------------------

    def add_mirror(
        self,
        db: sqlite3.Connection,
        source: str,
        conversation_id: str,
        author: str,
        room_id: str,
    ) -> None:
        """Remember that the original `source` (a digest) is copied into `room_id`."""
        db.execute(
            "INSERT OR IGNORE INTO mirrors(source, conversation_id, author, room_id) "
            "VALUES(?,?,?,?)",
            (source, conversation_id, author, room_id),
        )

    def mirror(self, source: str) -> Mirror | None:
        """The mirror of an original event (by digest), with its conversation."""
        row = self._db.execute("SELECT * FROM mirrors WHERE source=?", (source,)).fetchone()
        if row is None:
            return None
        return Mirror(
            source=row["source"],
            conversation_id=row["conversation_id"],
            author=row["author"],
            room_id=row["room_id"],
        )

    def mirror_copies(self, source: str) -> list[str]:
        """The bot's current copies of an original (event ids in the copy's room)."""
        rows = self._db.execute(
            "SELECT event_id FROM mirror_copies WHERE source=? ORDER BY rowid", (source,)
        )
        return [str(r[0]) for r in rows]

    def forget_copy(self, source: str, event_id: str) -> None:
        """A copy was redacted (and the redaction verified)."""
        with self.transaction() as db:
            db.execute(
                "DELETE FROM mirror_copies WHERE source=? AND event_id=?", (source, event_id)
            )

    # --- events waiting for their room key ---------------------------------------------

    def keep_undecrypted(self, room_id: str, event_id: str, event: dict[str, Any]) -> None:
        """Keep an encrypted event (ciphertext only) until its room key arrives."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO undecrypted(event_id, room_id, event, received_at) "
                "VALUES(?,?,?,?)",
                (event_id, room_id, json.dumps(event), time.time()),
            )

    def undecrypted(self) -> list[tuple[str, dict[str, Any]]]:
        """(room id, raw encrypted event) of every event still waiting for its key."""
        rows = self._db.execute("SELECT room_id, event FROM undecrypted ORDER BY received_at")
        return [(str(r[0]), json.loads(r[1])) for r in rows]

    def unasked_undecrypted(self, received_before: float) -> list[tuple[str, str]]:
        """(room id, sender) of events still waiting since before `received_before` whose
        member has not been asked to send them again."""
        rows = self._db.execute(
            "SELECT room_id, event FROM undecrypted WHERE asked_at IS NULL AND received_at<=? "
            "ORDER BY received_at",
            (received_before,),
        )
        return [(str(r[0]), str(json.loads(r[1]).get("sender"))) for r in rows]

    def next_undecrypted_question(self) -> float | None:
        """When the oldest unasked waiting event was received, if any is waiting."""
        row = self._db.execute(
            "SELECT MIN(received_at) FROM undecrypted WHERE asked_at IS NULL"
        ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def mark_undecrypted_asked(self, db: sqlite3.Connection, room_id: str, now: float) -> int:
        """Every event of the room still waiting counts as asked about (one question a burst)."""
        cursor = db.execute(
            "UPDATE undecrypted SET asked_at=? WHERE room_id=? AND asked_at IS NULL",
            (now, room_id),
        )
        return cursor.rowcount

    def forget_undecrypted(self, event_id: str) -> None:
        """The event was decrypted and handled (or given up on)."""
        with self.transaction() as db:
            db.execute("DELETE FROM undecrypted WHERE event_id=?", (event_id,))

    # --- member-created direct chats the bot leaves -------------------------------------

    def add_legacy_dm(self, room_id: str, member_key: str) -> None:
        """Remember a member-created DM: the bot posts a pointer there, then leaves."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO legacy_dms(room_id, member_key, created_at) VALUES(?,?,?)",
                (room_id, member_key, time.time()),
            )

    def legacy_dms(self) -> list[str]:
        """Member-created DMs the bot still has to leave."""
        return [str(r[0]) for r in self._db.execute("SELECT room_id FROM legacy_dms")]

    def remove_legacy_dm(self, room_id: str) -> None:
        """The bot left a member-created DM."""
        with self.transaction() as db:
            db.execute("DELETE FROM legacy_dms WHERE room_id=?", (room_id,))

    # --- events skipped after failing repeatedly ----------------------------------------

    @property
    def skipped_events(self) -> int:
        """How many events were skipped for good because handling them kept failing."""
        return int(self.get_meta("skipped_events") or 0)

    def count_skipped(self, db: sqlite3.Connection) -> None:
        """One more event skipped (inside the transaction that marks it handled)."""
        db.execute(
            "INSERT INTO meta(key, value) VALUES('skipped_events', '1') "
            "ON CONFLICT(key) DO UPDATE SET value=CAST(value AS INTEGER) + 1"
        )

    def drop_send(self, send: PendingSend) -> None:
        """Give up on a send the homeserver refused for good (e.g. the room is gone)."""
        with self.transaction() as db:
            db.execute("DELETE FROM outbox WHERE seq=?", (send.seq,))
