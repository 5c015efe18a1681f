"""Joining and leaving a wijk: join codes (rotatable), slowed-down wrong guesses, optional
approval by the coordinators without learning who, moving to another wijk, and `!afmelden`
which erases everything the bridge kept about a member.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Callable

from bridge import anonymise, i18n, pseudonyms
from bridge.protocol import FIELD, BinFields, Kind
from bridge.settings import BridgeSettings, WijkSettings
from bridge.store import Member, Store

LEAVE = "bin.leave"
"""Outbox rows of this type make the bot leave the room (after what was queued before)."""
FREE_ATTEMPTS = 3
"""Wrong codes allowed before the member has to wait."""
MAX_WAIT_S = 3600.0

Notify = Callable[..., None]
"""relay._notice: (db, member, key, **fields)."""
Admit = Callable[[sqlite3.Connection, Member, WijkSettings], None]
"""relay._sign_up: make the member part of the wijk and greet them."""


def wait_after(wrong: int) -> float:
    """Seconds to wait after `wrong` wrong codes: none for the first few, then doubling."""
    if wrong < FREE_ATTEMPTS:
        return 0.0
    return float(min(MAX_WAIT_S, 60 * 2 ** (wrong - FREE_ATTEMPTS)))


def new_code(wijk: str) -> str:
    """A fresh join code that is easy to read out: OOST-4827-3150."""
    digits = f"{secrets.randbelow(10**8):08d}"
    return f"{wijk.upper()}-{digits[:4]}-{digits[4:]}"


class Membership:
    """Sign-up, approval, leaving: the member side of a wijk's roster."""

    def __init__(
        self, settings: BridgeSettings, store: Store, secret: bytes, notify: Notify, admit: Admit
    ) -> None:
        self.settings = settings
        self.store = store
        self.secret = secret
        self.notify = notify
        self.admit = admit

    # --- codes ------------------------------------------------------------------------

    def _code_digest(self, code: str) -> str:
        return pseudonyms.keyed_digest(self.secret, "join-code", code.strip().lower())

    def wijk_by_code(self, code: str) -> WijkSettings | None:
        """The wijk whose current join code this is (a rotated code replaces the config's)."""
        digest = self._code_digest(code)
        row = self.store.query_one("SELECT wijk FROM join_codes WHERE digest=?", (digest,))
        if row is not None:
            return self.settings.wijk(str(row[0]))
        rotated = {str(r[0]) for r in self.store.query_all("SELECT wijk FROM join_codes")}
        wanted = code.strip().lower()
        for wijk in self.settings.wijken:
            configured = wijk.join_code.get_secret_value().strip().lower()
            if wijk.slug not in rotated and configured == wanted:
                return wijk
        return None

    def rotate_code(self, wijk: str) -> str:
        """Give a wijk a new join code (shown once; only its digest is kept)."""
        code = new_code(wijk)
        with self.store.transaction() as db:
            db.execute("DELETE FROM join_codes WHERE wijk=?", (wijk,))
            db.execute(
                "INSERT INTO join_codes(wijk, digest, created_at) VALUES(?,?,?)",
                (wijk, self._code_digest(code), time.time()),
            )
        return code

    def try_code(self, db: sqlite3.Connection, member: Member, code: str, now: float) -> None:
        """A member sent something that should be a join code."""
        row = self.store.query_one(
            "SELECT wrong_codes, next_code_at FROM members WHERE member_key=?",
            (member.member_key,),
        )
        wrong = int(row[0] or 0) if row else 0
        next_at = float(row[1] or 0) if row else 0.0
        if now < next_at:
            minutes = max(1, round((next_at - now) / 60))
            self.notify(db, member, "signup.slow_down", minutes=minutes)
            return
        wijk = self.wijk_by_code(code) if code else None
        if wijk is None:
            wrong += 1
            db.execute(
                "UPDATE members SET wrong_codes=?, next_code_at=? WHERE member_key=?",
                (wrong, now + wait_after(wrong), member.member_key),
            )
            self.notify(db, member, "signup.wrong_code")
            return
        db.execute(
            "UPDATE members SET wrong_codes=0, next_code_at=NULL WHERE member_key=?",
            (member.member_key,),
        )
        if member.wijk == wijk.slug:
            self.notify(db, member, "signup.already", wijk=wijk.name)
        elif wijk.approval:
            self._ask_approval(db, member, wijk, now)
        else:
            self.admit(db, member, wijk)

    # --- approval ---------------------------------------------------------------------

    def _ask_approval(
        self, db: sqlite3.Connection, member: Member, wijk: WijkSettings, now: float
    ) -> None:
        taken = {
            str(r[0])
            for r in db.execute("SELECT pseudonym FROM signups WHERE wijk=?", (wijk.slug,))
        }
        name = pseudonyms.pseudonym(self.secret, member.member_key, f"signup:{wijk.slug}", taken)
        db.execute(
            "INSERT OR REPLACE INTO signups(member_key, wijk, pseudonym, requested_at) "
            "VALUES(?,?,?,?)",
            (member.member_key, wijk.slug, name, now),
        )
        self.notify(db, member, "signup.pending", wijk=wijk.name)
        desk = self.store.wijk_room(wijk.slug, "desk")
        if desk is not None:
            text = i18n.t("desk.signup_request", self.settings.bot.language, pseudonym=name)
            content = anonymise.plain_content(text, msgtype="m.text")
            content[FIELD] = BinFields(
                kind=Kind.SYSTEM, wijk=wijk.slug, pseudonym=name
            ).to_content()
            self.store.enqueue(db, desk, content)

    def decide(self, db: sqlite3.Connection, wijk: WijkSettings, name: str, admit: bool) -> str:
        """`!toelaten Naam` / `!weigeren Naam` in the desk; returns the catalog key to answer."""
        wanted = pseudonyms.parse_pseudonym(name) or name.strip()
        row = db.execute(
            "SELECT member_key FROM signups WHERE wijk=? AND lower(pseudonym)=lower(?)",
            (wijk.slug, wanted),
        ).fetchone()
        if row is None:
            return "desk.signup_unknown"
        db.execute("DELETE FROM signups WHERE member_key=? AND wijk=?", (row[0], wijk.slug))
        member = self.store.member_by_key(str(row[0]))
        if member is None:
            return "desk.signup_unknown"
        if admit:
            self.admit(db, member, wijk)
            return "desk.signup_admitted"
        self.notify(db, member, "signup.refused", wijk=wijk.name)
        return "desk.signup_refused"

    # --- leaving ----------------------------------------------------------------------

    def leave(self, db: sqlite3.Connection, member: Member, argument: str) -> None:
        """`!afmelden` asks for confirmation; `!afmelden ja` erases the member."""
        if argument.strip().lower() not in ("ja", "yes"):
            self.notify(db, member, "leave.confirm")
            return
        self.notify(db, member, "leave.done")
        self.store.enqueue(db, member.room_id, {}, event_type=LEAVE)
        # Everything kept about the member goes; conversations, mirrors and deliveries
        # follow by foreign key. A block (keyed digest, documented period) stays on purpose.
        db.execute("DELETE FROM signups WHERE member_key=?", (member.member_key,))
        db.execute("DELETE FROM deliveries WHERE member_key=?", (member.member_key,))
        db.execute("DELETE FROM members WHERE member_key=?", (member.member_key,))
