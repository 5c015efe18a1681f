"""Report handling for two coordinators, and the police room: statuses, categories, who handles
a report, forwarding to the police, police replies, bulletins and figures without identities.

Everything here is driven by commands, so a coordinator without the terminal client can do
the whole job from any Matrix app. The bot keeps the state and announces every change in
the report's desk thread with structured `nl.bin` fields, which is how the client learns it.
No member text is kept: a forward carries the text the coordinator typed (usually pasted and
edited), never a stored copy.
"""

from __future__ import annotations

import html
import re
import sqlite3
import time
from typing import Any

from bridge import anonymise, commands, i18n
from bridge.protocol import FIELD, BinFields, Kind, Status, bulletin_id, parse_report_id, report_id
from bridge.settings import BridgeSettings, WijkSettings
from bridge.store import Conversation, Store

CATEGORIES = (
    "inbraak",
    "verdachte situatie",
    "vernieling",
    "overlast",
    "oplichting/babbeltruc",
    "vermissing",
    "overig",
)
STATUS_WORDS = {
    "nieuw": Status.NEW,
    "new": Status.NEW,
    "in behandeling": Status.IN_PROGRESS,
    "behandeling": Status.IN_PROGRESS,
    "in progress": Status.IN_PROGRESS,
    "doorgestuurd": Status.FORWARDED,
    "forwarded": Status.FORWARDED,
    "afgehandeld": Status.CLOSED,
    "gesloten": Status.CLOSED,
    "closed": Status.CLOSED,
}
SMALL = 5
"""Counts below this are shown as "<5" and not broken down (no identities by elimination)."""
NOTE_RE = re.compile(r"^\s*(notitie|note)\s*:\s*", re.IGNORECASE)


def parse_category(word: str) -> str | None:
    """A category by (a prefix of) its name: 'oplichting', 'babbeltruc', 'verdacht' …"""
    key = word.strip().lower()
    if not key:
        return None
    for category in CATEGORIES:
        if key == category or any(part.startswith(key) for part in re.split(r"[ /]", category)):
            return category
    return None


def split_forward(argument: str) -> tuple[int | None, str, str | None]:
    """`[M-0003] tekst… [notitie: …]` → (report number, text for the police, note)."""
    first, _, rest = argument.partition("\n")
    head, _, tail = first.strip().partition(" ")
    number = parse_report_id(head)
    text = (tail + "\n" + rest) if number is not None else argument
    note: str | None = None
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if NOTE_RE.match(line):
            note = NOTE_RE.sub("", "\n".join([line, *lines[index + 1 :]])).strip() or None
            lines = lines[:index]
            break
    return number, "\n".join(lines).strip(), note


def small(count: int) -> str:
    """A count as shown in figures: small numbers hidden."""
    return f"<{SMALL}" if 0 < count < SMALL else str(count)


class DeskWork:
    """The desk and police-room commands of one bridge."""

    def __init__(self, settings: BridgeSettings, store: Store) -> None:
        self.settings = settings
        self.store = store

    @property
    def lang(self) -> str:
        """The coordinators' language (the deployment default)."""
        return self.settings.bot.language

    # --- desk commands ----------------------------------------------------------------

    def handle(
        self,
        db: sqlite3.Connection,
        wijk: WijkSettings,
        cmd: commands.Command,
        sender: str,
        thread: Conversation | None,
        now: float,
    ) -> None:
        """`!status`, `!categorie`, `!neem`, `!doorsturen`, `!stats` in the desk."""
        desk = self.store.wijk_room(wijk.slug, "desk")
        if desk is None:
            return
        name = cmd.spec.name
        if name == "stats":
            self.say(db, desk, self.stats(wijk))
            return
        argument = cmd.argument
        conversation = thread
        if name != "doorsturen":
            head, _, rest = argument.partition(" ")
            number = parse_report_id(head)
            if number is not None:
                conversation = self.store.conversation_by_number(wijk.slug, number)
                argument = rest.strip()
                if conversation is None:
                    self.say(db, desk, i18n.t("desk.unknown_report", self.lang, report=head))
                    return
        if name == "doorsturen":
            self._forward(db, wijk, desk, argument, thread, sender)
            return
        if conversation is None or conversation.wijk != wijk.slug:
            self.say(db, desk, i18n.t("desk.which_report", self.lang, command=f"!{name}"))
            return
        if name == "status":
            status = STATUS_WORDS.get(argument.strip().lower())
            if status is None:
                self.say(db, desk, i18n.t("desk.status_usage", self.lang))
                return
            self.set_status(db, conversation, status, sender)
        elif name == "categorie":
            category = parse_category(argument)
            if category is None:
                choices = ", ".join(CATEGORIES)
                self.say(db, desk, i18n.t("desk.category_usage", self.lang, choices=choices))
                return
            db.execute(
                "UPDATE conversations SET category=? WHERE id=?", (category, conversation.id)
            )
            self.announce(db, conversation, "desk.category_set", category=category)
        elif name == "neem":
            db.execute("UPDATE conversations SET handler=? WHERE id=?", (sender, conversation.id))
            if self._status(conversation.id) == Status.NEW:
                self._write_status(db, conversation.id, Status.IN_PROGRESS)
            self.announce(db, conversation, "desk.claimed", handler=sender)

    def set_status(
        self, db: sqlite3.Connection, conversation: Conversation, status: Status, sender: str
    ) -> None:
        """Change a report's status; closing it ends the conversation for the member's rules."""
        self._write_status(db, conversation.id, status)
        self.announce(db, conversation, "desk.status_set", status=status.value)

    def _write_status(self, db: sqlite3.Connection, conversation_id: str, status: Status) -> None:
        db.execute(
            "UPDATE conversations SET status=?, closed=? WHERE id=?",
            (status.value, int(status is Status.CLOSED), conversation_id),
        )

    def _status(self, conversation_id: str) -> Status:
        row = self.store.query_one(
            "SELECT status FROM conversations WHERE id=?", (conversation_id,)
        )
        return Status(row[0]) if row is not None and row[0] else Status.NEW

    def _details(self, conversation_id: str) -> dict[str, Any]:
        row = self.store.query_one(
            "SELECT status, category, handler FROM conversations WHERE id=?", (conversation_id,)
        )
        if row is None:
            return {}
        return {"status": row[0], "category": row[1], "handler": row[2]}

    def announce(
        self, db: sqlite3.Connection, conversation: Conversation, key: str, **fields: object
    ) -> None:
        """Post a change in the report's desk thread, with the report's current state."""
        details = self._details(conversation.id)
        content = anonymise.plain_content(
            i18n.t(key, self.lang, report=report_id(conversation.number), **fields)
        )
        content[FIELD] = BinFields(
            kind=Kind.SYSTEM,
            wijk=conversation.wijk,
            report=report_id(conversation.number),
            conversation=conversation.id,
            status=Status(details.get("status") or Status.NEW.value),
            category=details.get("category"),
            handler=details.get("handler"),
        ).to_content()
        desk = self.store.wijk_room(conversation.wijk, "desk")
        assert desk is not None
        self.store.enqueue(db, desk, content, conversation_id=conversation.id, in_thread=True)

    def say(self, db: sqlite3.Connection, room: str, text: str) -> None:
        """A plain notice from the bot to the coordinators."""
        content = anonymise.plain_content(text)
        content[FIELD] = BinFields(kind=Kind.SYSTEM).to_content()
        self.store.enqueue(db, room, content)

    # --- forwarding -------------------------------------------------------------------

    def _forward(
        self,
        db: sqlite3.Connection,
        wijk: WijkSettings,
        desk: str,
        argument: str,
        thread: Conversation | None,
        sender: str,
    ) -> None:
        number, text, note = split_forward(argument)
        conversation = thread
        if number is not None:
            conversation = self.store.conversation_by_number(wijk.slug, number)
        if conversation is None or conversation.wijk != wijk.slug:
            self.say(db, desk, i18n.t("desk.which_report", self.lang, command="!doorsturen"))
            return
        text = anonymise.clean_text(text)
        if not text:
            self.say(db, desk, i18n.t("desk.forward_usage", self.lang))
            return
        police = self.store.wijk_room(wijk.slug, "police")
        if police is None:
            return
        label = report_id(conversation.number)
        header = i18n.t("police.forward_header", self.lang, wijk=wijk.name, report=label)
        content = anonymise.quoted_content(header, text, msgtype="m.text")
        if note:
            note_line = i18n.t("police.forward_note", self.lang, note=anonymise.clean_text(note))
            content["body"] += "\n\n" + note_line
            content["formatted_body"] += "<p>" + _escape(note_line) + "</p>"
        content[FIELD] = BinFields(
            kind=Kind.FORWARD, wijk=wijk.slug, report=label, text=text, note=note
        ).to_content()
        # Police replies in this thread find their way back through the bot's own event.
        self.store.enqueue(db, police, content, conversation_id=conversation.id)
        self._write_status(db, conversation.id, Status.FORWARDED)
        self.announce(db, conversation, "desk.forwarded")

    # --- the police room --------------------------------------------------------------

    def handle_police(
        self,
        db: sqlite3.Connection,
        wijk: WijkSettings,
        sender: str,
        content: dict[str, Any],
        replied: Conversation | None,
        now: float,
    ) -> None:
        """A message in the police room: a reply to a forward, `!stats`, or a bulletin."""
        police = self.store.wijk_room(wijk.slug, "police")
        assert police is not None
        text = anonymise.coordinator_text(content)
        if text is None:
            return
        parsed = commands.parse(text, commands.Audience.DESK)
        if isinstance(parsed, commands.Command) and parsed.spec.name == "stats":
            self.say(db, police, self.stats(wijk))
            return
        if sender not in wijk.police:
            return  # coordinators talk with the police here; only police posts are bulletins
        if replied is not None and replied.wijk == wijk.slug:
            label = report_id(replied.number)
            header = i18n.t("desk.police_reply_header", self.lang, report=label)
            reply = anonymise.quoted_content(header, text, msgtype="m.text")
            reply[FIELD] = BinFields(
                kind=Kind.POLICE_REPLY, wijk=wijk.slug, report=label, text=text
            ).to_content()
            desk = self.store.wijk_room(wijk.slug, "desk")
            assert desk is not None
            self.store.enqueue(db, desk, reply, conversation_id=replied.id, in_thread=True)
            return
        if isinstance(parsed, commands.Command | commands.UnknownCommand):
            return
        number = self._next_bulletin(db, wijk.slug)
        db.execute(
            "INSERT INTO bulletins(wijk, number, text, created_at) VALUES(?,?,?,?)",
            (wijk.slug, number, text, now),
        )
        label = bulletin_id(number)
        ack = anonymise.plain_content(i18n.t("police.bulletin_ack", self.lang, bulletin=label))
        ack[FIELD] = BinFields(
            kind=Kind.BULLETIN, wijk=wijk.slug, report=label, text=text
        ).to_content()
        self.store.enqueue(db, police, ack)

    def _next_bulletin(self, db: sqlite3.Connection, wijk: str) -> int:
        row = db.execute(
            "SELECT COALESCE(MAX(number), 0) + 1 FROM bulletins WHERE wijk=?", (wijk,)
        ).fetchone()
        return int(row[0])

    def bulletin_text(self, wijk: str, number: int) -> str | None:
        """The text of bulletin B-000n of a wijk, for publishing it to the members."""
        row = self.store.query_one(
            "SELECT text FROM bulletins WHERE wijk=? AND number=?", (wijk, number)
        )
        return None if row is None else str(row[0])

    # --- coordinators come and go -----------------------------------------------------

    def post_summary(self, db: sqlite3.Connection, wijk: WijkSettings, coordinator: str) -> None:
        """For a newly added coordinator: what is open in the wijk (no text: it is not kept)."""
        desk = self.store.wijk_room(wijk.slug, "desk")
        if desk is None:
            return
        rows = self.store.query_all(
            "SELECT number, pseudonym, status, category, opened_at FROM conversations "
            "WHERE wijk=? AND closed=0 ORDER BY number",
            (wijk.slug,),
        )
        lines = [i18n.t("desk.summary_intro", self.lang, coordinator=coordinator)]
        now = time.time()
        for row in rows:
            lines.append(
                i18n.t(
                    "desk.summary_line",
                    self.lang,
                    report=report_id(int(row[0])),
                    pseudonym=row[1],
                    status=row[2],
                    category=row[3] or "-",
                    age=int((now - float(row[4])) // 86400),
                )
            )
        if not rows:
            lines.append(i18n.t("desk.summary_none", self.lang))
        self.say(db, desk, "\n".join(lines))

    def escalate(self, db: sqlite3.Connection, now: float) -> int:
        """Reports without an answer for too long are put before the reserve coordinator."""
        limit = self.settings.relay.escalate_after_days * 86400
        rows = db.execute(
            "SELECT id FROM conversations WHERE first_answer_at IS NULL AND closed=0 "
            "AND escalated_at IS NULL AND opened_at<?",
            (now - limit,),
        ).fetchall()
        count = 0
        for row in rows:
            conversation = self.store.conversation(str(row[0]))
            wijk = self.settings.wijk(conversation.wijk) if conversation else None
            if conversation is None or wijk is None or len(wijk.coordinators) < 2:
                continue
            reserve = wijk.coordinators[1]
            days = int((now - conversation.opened_at) // 86400)
            text = i18n.t(
                "desk.escalated",
                self.lang,
                report=report_id(conversation.number),
                days=days,
                reserve=reserve,
            )
            content = anonymise.plain_content(text, msgtype="m.text")
            content["m.mentions"] = {"user_ids": [reserve]}  # this one is meant to ping
            content[FIELD] = BinFields(
                kind=Kind.SYSTEM,
                wijk=wijk.slug,
                report=report_id(conversation.number),
                conversation=conversation.id,
            ).to_content()
            desk = self.store.wijk_room(wijk.slug, "desk")
            if desk is None:
                continue
            self.store.enqueue(db, desk, content, conversation_id=conversation.id, in_thread=True)
            db.execute("UPDATE conversations SET escalated_at=? WHERE id=?", (now, conversation.id))
            count += 1
        return count

    # --- figures ----------------------------------------------------------------------

    def stats(self, wijk: WijkSettings, now: float | None = None) -> str:
        """Per wijk: members, reports per week (8 weeks), by category, time to first answer."""
        now = now or time.time()
        week = 7 * 86400
        lines = [i18n.t("stats.title", self.lang, wijk=wijk.name)]
        lines.append(
            i18n.t("stats.members", self.lang, count=small(self.store.member_count(wijk.slug)))
        )
        per_week = []
        for back in range(7, -1, -1):
            start, end = now - (back + 1) * week, now - back * week
            row = self.store.query_one(
                "SELECT COUNT(*) FROM conversations WHERE wijk=? AND opened_at>=? AND opened_at<?",
                (wijk.slug, start, end),
            )
            per_week.append(small(int(row[0]) if row else 0))
        lines.append(i18n.t("stats.per_week", self.lang, weeks=" · ".join(per_week)))
        rows = self.store.query_all(
            "SELECT COALESCE(category, 'overig'), COUNT(*) FROM conversations "
            "WHERE wijk=? AND opened_at>=? GROUP BY 1 ORDER BY 2 DESC",
            (wijk.slug, now - 8 * week),
        )
        shown = [f"{r[0]}: {small(int(r[1]))}" for r in rows]
        lines.append(i18n.t("stats.by_category", self.lang, categories=", ".join(shown) or "0"))
        row = self.store.query_one(
            "SELECT AVG(first_answer_at - opened_at), COUNT(first_answer_at) FROM conversations "
            "WHERE wijk=? AND first_answer_at IS NOT NULL AND opened_at>=?",
            (wijk.slug, now - 8 * week),
        )
        answered = int(row[1]) if row else 0
        if row is None or answered < SMALL:
            lines.append(i18n.t("stats.first_answer_few", self.lang))
        else:
            hours = f"{float(row[0]) / 3600:.1f}"
            if self.lang == "nl":
                hours = hours.replace(".", ",")  # Dutch writes "5,2 uur"
            lines.append(i18n.t("stats.first_answer", self.lang, hours=hours))
        return "\n".join(lines)


def _escape(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")
