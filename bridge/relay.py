"""What the bot does with one inbound message: decide, record and queue the sends (no nio).

Each handler runs inside one store transaction together with the ledger entry of the event,
so an event's effects are recorded exactly once; the queued sends are then delivered by the
bot's outbox with persisted transaction ids (see bot.py).
"""

from __future__ import annotations

import dataclasses
import json
import random
import sqlite3
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

from bridge import anonymise, commands, conversations, i18n, pseudonyms, urgency
from bridge.broadcasts import Broadcasts
from bridge.desk import DeskWork
from bridge.membership import Membership
from bridge.protocol import FIELD, BinFields, Kind, Status, parse_report_id, report_id
from bridge.settings import BridgeSettings, WijkSettings
from bridge.store import Conversation, Member, Mirror, Store

TEXT_TYPES = ("m.text", "m.notice", "m.emote")
MAX_CONTENT_BYTES = 40_000
"""Budget for the JSON of one bot event before encryption (case C09). The text travels three
times (body, HTML, `nl.bin.text`), non-ASCII costs up to 12 bytes escaped, and Megolm's base64
adds a third: 40,000 bytes of plaintext stay well below Synapse's 65,536-byte event limit."""
MAX_PARTS = 6
"""A longer text is not relayed at all (the member is asked to split it): never half-sent."""
REFUSED_MEDIA = {"m.audio": "media.audio", "m.video": "media.video", "m.file": "media.file"}
LOCATION_CONFIRM_S = 15 * 60
"""A location pin waits this long for the member's `!ja`."""
RATE_WINDOW_S = 60.0
_HEADER_ROOM = "x" * 160
"""Stands in for the longest header when measuring a part (label, pseudonym, part number)."""


@dataclass(frozen=True, slots=True)
class RelayedImage:
    """A member's photo after the media pipeline: cleaned, re-encrypted and uploaded by the bot."""

    file: dict[str, Any]
    """The encrypted-file object (the bot's new `mxc://`, fresh key, iv and hash)."""
    info: dict[str, Any]
    """mimetype, size, w, h of the cleaned image (nothing else)."""


@dataclass(frozen=True, slots=True)
class Inbound:
    """A decrypted message event, reduced to what the relay needs."""

    event_id: str
    sender: str
    content: dict[str, Any]
    encrypted: bool
    ts: float
    image: RelayedImage | None = None
    """For an `m.image`: the cleaned copy, or None when the pipeline refused or failed."""


class Relay:
    """The product's routing rules applied to the bridge's store."""

    def __init__(self, settings: BridgeSettings, store: Store, secret: bytes) -> None:
        self.settings = settings
        self.store = store
        self.secret = secret
        self.broadcasts = Broadcasts(settings, store)
        self.desk = DeskWork(settings, store)
        self.membership = Membership(settings, store, secret, self._notice, self._sign_up)
        self.broadcasts.bulletins = self.desk
        # Per-member rate limit (case C14): in memory; a restart starts the count afresh.
        self._recent: dict[str, deque[float]] = {}
        self._warned: dict[str, float] = {}

    # --- identities -------------------------------------------------------------------

    def member_key(self, user_id: str) -> str:
        """The keyed digest under which a member is stored (never the user id itself)."""
        return pseudonyms.keyed_digest(self.secret, "member", user_id)

    def event_digest(self, event_id: str) -> str:
        """The ledger key of an inbound event."""
        return pseudonyms.keyed_digest(self.secret, "event", event_id)

    def mirror_key(self, event_id: str) -> str:
        """The key under which an original event's copies are remembered (edits, deletions)."""
        return pseudonyms.keyed_digest(self.secret, "mirror", event_id)

    def author_key(self, user_id: str) -> str:
        """Who wrote an original: only they may edit it."""
        return pseudonyms.keyed_digest(self.secret, "author", user_id)

    def staff_wijken(self, user_id: str) -> list[WijkSettings]:
        """The wijken where this account is a coordinator."""
        return [w for w in self.settings.wijken if user_id in w.coordinators]

    def is_staff(self, user_id: str) -> bool:
        """Coordinators and police are never treated as members."""
        return any(user_id in w.coordinators or user_id in w.police for w in self.settings.wijken)

    def wijk_by_code(self, code: str) -> WijkSettings | None:
        """The wijk whose current join code this is (case and surrounding space ignored)."""
        return self.membership.wijk_by_code(code)

    def _wijk_name(self, slug: str | None) -> str:
        wijk = self.settings.wijk(slug) if slug else None
        return wijk.name if wijk else (slug or "")

    # --- member side ------------------------------------------------------------------

    def welcome(self, db: sqlite3.Connection, member: Member) -> None:
        """Greet a member who joined their private room and ask for the join code."""
        self._notice(db, member, "welcome")
        self.store.update_member(member.member_key, db, welcomed=1, joined=1)

    def handle_member_message(self, db: sqlite3.Connection, member: Member, msg: Inbound) -> None:
        """A message from a member in their private room."""
        if not msg.encrypted:
            # Case C12: never accept report content over an unencrypted room.
            self._notice(db, member, "dm.unencrypted")
            return
        if not self._within_rate(db, member, msg.ts):
            return
        relates = msg.content.get("m.relates_to")
        if isinstance(relates, dict) and relates.get("rel_type") == "m.replace":
            # Never an m.replace in the desk: the old copy goes, the new text is a new event.
            self._member_edit(db, member, msg, relates)
            return
        msgtype = msg.content.get("msgtype")
        if msgtype in REFUSED_MEDIA or anonymise.is_live_location("", msg.content):
            key = REFUSED_MEDIA.get(str(msgtype), "media.live_location")
            self._notice(db, member, key)
            return
        if msgtype in ("m.image", "m.location"):
            if member.wijk is None:
                self._notice(db, member, "signup.needed")
            elif msgtype == "m.image":
                self._member_image(db, member, msg)
            else:
                self._member_location(db, member, msg)
            return
        if msgtype not in TEXT_TYPES:
            self._notice(db, member, "nontext")
            return
        text = anonymise.member_text(msg.content)
        if text is None:
            self._notice(db, member, "empty")
            return
        parsed = commands.parse(text, commands.Audience.MEMBER)
        if isinstance(parsed, commands.UnknownCommand):
            self._notice(db, member, "unknown_command", word=parsed.word)
            return
        if isinstance(parsed, commands.Command):
            self._member_command(db, member, parsed, msg)
            return
        if member.wijk is None:
            # A single word is taken as an attempt at a code; anything else as a report.
            if len(text) <= 40 and len(text.split()) == 1:
                self.membership.try_code(db, member, text, msg.ts)
            else:
                self._notice(db, member, "signup.needed")
            return
        self._relay_report(db, member, msg, text)

    def _member_command(
        self, db: sqlite3.Connection, member: Member, cmd: commands.Command, msg: Inbound
    ) -> None:
        lang = member.language
        name = cmd.spec.name
        if name == "hulp":
            lines = [i18n.t("help.intro", lang)]
            lines += [i18n.t(spec.help_key, lang) for spec in commands.member_commands()]
            lines.append(i18n.t("help.outro", lang))
            self._send_notice(db, member, "\n".join(lines))
        elif name == "aanmelden":
            self.membership.try_code(db, member, cmd.argument, msg.ts)
        elif name == "afmelden":
            self.membership.leave(db, member, cmd.argument)
        elif name == "nieuw":
            self.store.update_member(member.member_key, db, want_new=1)
            self._notice(db, member, "nieuw.ok")
        elif name == "naam":
            current = self._open_conversation(member)
            if current is None:
                self._notice(db, member, "naam.none")
            else:
                self._notice(
                    db,
                    member,
                    "naam.current",
                    report=report_id(current.number),
                    pseudonym=current.pseudonym,
                )
        elif name == "privacy":
            self._notice(db, member, "privacy")
        elif name == "persoonlijk":
            self._reveal(db, member, cmd.argument, msg)
        elif name == "ja":
            self._confirm_location(db, member, msg)
        elif name == "taal":
            language = i18n.parse_language(cmd.argument)
            if language is None:
                self._notice(db, member, "taal.usage")
            else:
                self.store.update_member(member.member_key, db, language=language)
                self._send_notice(db, member, i18n.t("taal.ok", language))

    def _sign_up(self, db: sqlite3.Connection, member: Member, wijk: WijkSettings) -> None:
        if member.wijk == wijk.slug:
            self._notice(db, member, "signup.already", wijk=wijk.name)
            return
        self.store.update_member(member.member_key, db, wijk=wijk.slug, want_new=1)
        self._notice(db, member, "signup.ok", wijk=wijk.name)
        self.broadcasts.queue_recent_for(
            db, member.member_key, member.room_id, wijk.slug, member.language
        )

    def _open_conversation(self, member: Member) -> Conversation | None:
        if member.wijk is None or member.want_new:
            return None
        latest = self.store.latest_conversation(member.member_key, member.wijk)
        if latest is None or latest.closed:
            return None
        return latest

    def _relay_report(
        self,
        db: sqlite3.Connection,
        member: Member,
        msg: Inbound,
        text: str | None,
        image: RelayedImage | None = None,
        media: str | None = None,
    ) -> None:
        """Relay a member's words (and/or photo) into their conversation's desk thread."""
        assert member.wijk is not None
        wijk = member.wijk
        if self.store.is_blocked(member.member_key, wijk, msg.ts):
            self._notice(db, member, "blocked", wijk=self._wijk_name(wijk))
            return
        parts: list[str | None] = [None]
        if text is not None:
            split = self._split(text)
            if split is None:
                # Case C09: nothing is recorded or queued, so nothing is ever half-sent.
                self._notice(db, member, "too_long", size=len(text))
                return
            parts = list(split)
        desk = self.store.wijk_room(wijk, "desk")
        if desk is None:
            raise RuntimeError("the wijk's desk room does not exist yet")
        replied = self._replied_conversation(msg.content, member)
        # A reply to a broadcast starts a reaction conversation ("Reactie op W-0003").
        reaction = None if replied is not None else self._replied_broadcast(msg.content)
        latest = self.store.latest_conversation(member.member_key, wijk)
        decision = conversations.route(
            conversations.Inbound(
                now=msg.ts,
                replied_to=_state(replied),
                explicit_new=member.want_new or reaction is not None,
            ),
            _state(latest),
            self.settings.relay.conversation_window_days * 86400,
        )
        if isinstance(decision, conversations.StartNew):
            conversation = self.store.new_conversation(
                db,
                member.member_key,
                wijk,
                self._new_pseudonym(member.member_key, wijk),
                msg.ts,
            )
            if member.want_new:
                self.store.update_member(member.member_key, db, want_new=0)
            label = report_id(conversation.number)
            fields = BinFields(
                kind=Kind.REPORT,
                wijk=wijk,
                report=label,
                conversation=conversation.id,
                pseudonym=conversation.pseudonym,
                status=Status.NEW,
                text=text,
                reaction_to=reaction,
                media=media,
            )
            header = i18n.t(
                "desk.reaction_header" if reaction else "desk.report_header",
                self.settings.bot.language,
                report=label,
                pseudonym=conversation.pseudonym,
                broadcast=reaction,
            )
            if reaction is not None:
                db.execute(
                    "UPDATE conversations SET reaction_to=? WHERE id=?", (reaction, conversation.id)
                )
            fields, header = self._if_urgent(db, member, conversation, parts, fields, header)
            self._queue_member_copies(
                db, desk, conversation, fields, header, parts, msg, image=image, root=True
            )
            self._notice(
                db,
                member,
                "report.delivered",
                report=label,
                wijk=self._wijk_name(wijk),
                pseudonym=conversation.pseudonym,
                conversation_id=conversation.id,
            )
            return
        joined = self.store.conversation(decision.conversation_id)
        assert joined is not None
        self._continue(db, member, joined, parts, msg, image=image, media=media)

    def _continue(
        self,
        db: sqlite3.Connection,
        member: Member,
        conversation: Conversation,
        parts: list[str | None],
        msg: Inbound,
        *,
        image: RelayedImage | None = None,
        media: str | None = None,
        edited: bool = False,
    ) -> None:
        """Post a later member message (or a new version of one) in the desk thread."""
        assert member.wijk is not None
        wijk = member.wijk
        desk = self.store.wijk_room(wijk, "desk")
        assert desk is not None
        lang = member.language
        self.store.touch_conversation(db, conversation.id, msg.ts)
        label = report_id(conversation.number)
        fields = BinFields(
            kind=Kind.MEMBER_MESSAGE,
            wijk=wijk,
            report=label,
            conversation=conversation.id,
            pseudonym=conversation.pseudonym,
            media=media,
        )
        header = i18n.t(
            "desk.message_header",
            self.settings.bot.language,
            report=label,
            pseudonym=conversation.pseudonym,
        )
        fields, header = self._if_urgent(db, member, conversation, parts, fields, header)
        self._queue_member_copies(
            db, desk, conversation, fields, header, parts, msg, image=image, edited=edited
        )
        if edited:
            return
        self._send_notice(
            db,
            member,
            i18n.t("message.delivered", lang, report=label),
            conversation_id=conversation.id,
        )

    def _if_urgent(
        self,
        db: sqlite3.Connection,
        member: Member,
        conversation: Conversation,
        parts: list[str | None],
        fields: BinFields,
        header: str,
    ) -> tuple[BinFields, str]:
        """Words that look urgent: 112 / 0900-8844 for the member at once (once per
        conversation, before the desk copy goes out), and the desk copy flagged."""
        words = " ".join(part for part in parts if part)
        if not words or not urgency.is_urgent(words):
            return fields, header
        told = db.execute(
            "UPDATE conversations SET urgent_noticed_at=? WHERE id=? AND urgent_noticed_at IS NULL",
            (time.time(), conversation.id),
        )
        if told.rowcount:
            self._notice(db, member, "urgent.member", conversation_id=conversation.id)
        flag = i18n.t("desk.urgent", self.settings.bot.language)
        return dataclasses.replace(fields, urgent=True), f"{flag} · {header}"

    def _queue_member_copies(
        self,
        db: sqlite3.Connection,
        desk: str,
        conversation: Conversation,
        fields: BinFields,
        header: str,
        parts: list[str | None],
        msg: Inbound,
        *,
        image: RelayedImage | None = None,
        root: bool = False,
        edited: bool = False,
    ) -> None:
        """Queue the desk copies of one member message, remembered for its edits/deletion."""
        source = self.mirror_key(msg.event_id)
        self.store.add_mirror(db, source, conversation.id, self.author_key(msg.sender), desk)
        lang = self.settings.bot.language
        total = len(parts)
        # The optional random delay blurs the timing link between a member's event and the
        # bot's copy (the homeserver operator sees both); all parts wait the same time.
        delay = self.settings.relay.max_delay_seconds
        not_before = time.time() + random.uniform(0, delay) if delay > 0 else None
        for index, part in enumerate(parts):
            part_fields = dataclasses.replace(
                fields if index == 0 else dataclasses.replace(fields, kind=Kind.MEMBER_MESSAGE),
                status=fields.status if index == 0 else None,
                text=part,
                part=index + 1 if total > 1 else None,
                parts=total if total > 1 else None,
                edited=True if edited else None,
            )
            part_header = header
            if edited:
                part_header += " · " + i18n.t("desk.edited", lang)
            if total > 1:
                part_header += " · " + i18n.t("desk.part", lang, part=index + 1, parts=total)
            label = report_id(conversation.number)
            content = _copy_content(part_header, part, image if index == 0 else None, label)
            content[FIELD] = part_fields.to_content()
            self.store.enqueue(
                db,
                desk,
                content,
                conversation_id=conversation.id,
                sets_root=root and index == 0,
                in_thread=not (root and index == 0),
                mirror=source,
                not_before=not_before,
            )

    def _split(self, text: str) -> list[str] | None:
        """`text` in parts that each fit one event (case C09), or None if too many."""

        def fits(part: str) -> bool:
            content = anonymise.quoted_content(_HEADER_ROOM, part)
            content[FIELD] = {"text": part, "room": _HEADER_ROOM}
            return len(json.dumps(content)) <= MAX_CONTENT_BYTES

        return anonymise.split_text(text, fits, MAX_PARTS)

    def _replied_broadcast(self, content: dict[str, Any]) -> str | None:
        """The label (W-0003) of the broadcast delivery the member replied to, if any."""
        relates = content.get("m.relates_to")
        reply = relates.get("m.in_reply_to") if isinstance(relates, dict) else None
        target = reply.get("event_id") if isinstance(reply, dict) else None
        if not isinstance(target, str):
            return None
        broadcast = self.broadcasts.by_delivery_event(target)
        return broadcast.label if broadcast is not None else None

    def _replied_conversation(self, content: dict[str, Any], member: Member) -> Conversation | None:
        """The member's conversation of the bot message they replied to, if any.

        A reply can only ever attach to the member's *own* conversation: an event id from
        elsewhere (or forged) is ignored.
        """
        relates = content.get("m.relates_to")
        if not isinstance(relates, dict):
            return None
        reply = relates.get("m.in_reply_to")
        target = reply.get("event_id") if isinstance(reply, dict) else None
        if not isinstance(target, str):
            return None
        conversation = self.store.conversation_by_event(target)
        if conversation is None or conversation.member_key != member.member_key:
            return None
        if conversation.wijk != member.wijk:
            return None
        return conversation

    def _new_pseudonym(self, member_key: str, wijk: str) -> str:
        if self.settings.relay.pseudonyms == "per_member":
            # Stable per member (operator's choice): the same salt every time, and the
            # member's own open conversations do not count as taken.
            return pseudonyms.pseudonym(
                self.secret,
                member_key,
                f"member:{wijk}",
                self.store.open_pseudonyms(wijk, except_member=member_key),
            )
        return pseudonyms.pseudonym(
            self.secret, member_key, uuid.uuid4().hex, self.store.open_pseudonyms(wijk)
        )

    # --- desk side --------------------------------------------------------------------

    def handle_desk_message(self, db: sqlite3.Connection, wijk: WijkSettings, msg: Inbound) -> None:
        """A message in a wijk's desk: a coordinator's answer in a report thread is delivered."""
        if msg.sender not in wijk.coordinators:
            return
        if not msg.encrypted:
            return
        relates = msg.content.get("m.relates_to")
        if isinstance(relates, dict) and relates.get("rel_type") == "m.replace":
            self._coordinator_edit(db, wijk, msg, relates)
            return
        text = anonymise.coordinator_text(msg.content)
        parsed = commands.parse(text, commands.Audience.DESK) if text else None
        if isinstance(parsed, commands.UnknownCommand):
            # A mistyped command is never delivered to a member as if it were an answer.
            desk = self.store.wijk_room(wijk.slug, "desk")
            if desk is not None:
                self.desk.say(db, desk, self._unknown_command_text(wijk, parsed.word))
            return
        if isinstance(parsed, commands.Command):
            if parsed.spec.name in ("blokkeer", "deblokkeer"):
                self._desk_command(db, wijk, parsed, msg)
            elif parsed.spec.name in ("toelaten", "weigeren"):
                admit = parsed.spec.name == "toelaten"
                key = self.membership.decide(db, wijk, parsed.argument, admit)
                desk = self.store.wijk_room(wijk.slug, "desk")
                if desk is not None:
                    self.desk.say(db, desk, i18n.t(key, self.settings.bot.language))
            elif parsed.spec.name == "hulp":
                desk = self.store.wijk_room(wijk.slug, "desk")
                if desk is not None:
                    self.desk.say(db, desk, i18n.t("help.desk", self.settings.bot.language))
            else:
                thread = self._answered_conversation(msg.content)
                self.desk.handle(db, wijk, parsed, msg.sender, thread, msg.ts)
            return
        conversation = self._answered_conversation(msg.content)
        if conversation is None or conversation.wijk != wijk.slug:
            return  # ordinary chat between coordinators
        if text is None:
            return
        self._answer(db, wijk, conversation, text, msg)

    def _answer(
        self,
        db: sqlite3.Connection,
        wijk: WijkSettings,
        conversation: Conversation,
        text: str,
        msg: Inbound,
        *,
        edited: bool = False,
    ) -> None:
        """Deliver a coordinator's answer (or a new version of one) to the member."""
        member = self.store.member_by_key(conversation.member_key)
        label = report_id(conversation.number)
        desk = self.store.wijk_room(wijk.slug, "desk")
        if member is None:
            if desk is not None:
                self._desk_system(
                    db,
                    desk,
                    conversation,
                    i18n.t("desk.undeliverable", self.settings.bot.language, report=label),
                )
            return
        # A unique link could reveal the member's IP address when clicked (DESIGN.md 5).
        text = anonymise.defang_links(text, self.settings.relay.allowed_link_domains)
        parts = self._split(text)
        if parts is None:
            if desk is not None:
                self._desk_system(
                    db,
                    desk,
                    conversation,
                    i18n.t("desk.too_long", self.settings.bot.language, report=label),
                )
            return
        self.store.touch_conversation(db, conversation.id, msg.ts)
        db.execute(
            "UPDATE conversations SET first_answer_at=COALESCE(first_answer_at, ?) WHERE id=?",
            (msg.ts, conversation.id),
        )
        source = self.mirror_key(msg.event_id)
        self.store.add_mirror(
            db, source, conversation.id, self.author_key(msg.sender), member.room_id
        )
        header = i18n.t("answer.header", member.language, report=label)
        if edited:
            header += " · " + i18n.t("desk.edited", member.language)
        for index, part in enumerate(parts):
            part_header = header
            if len(parts) > 1:
                part_header += " · " + i18n.t(
                    "desk.part", member.language, part=index + 1, parts=len(parts)
                )
            content = anonymise.quoted_content(part_header, part, msgtype="m.text")
            content[FIELD] = BinFields(
                kind=Kind.ANSWER,
                report=label,
                text=part,
                edited=True if edited else None,
                part=index + 1 if len(parts) > 1 else None,
                parts=len(parts) if len(parts) > 1 else None,
            ).to_content()
            self.store.enqueue(
                db, member.room_id, content, conversation_id=conversation.id, mirror=source
            )

    def _unknown_command_text(self, wijk: WijkSettings, word: str) -> str:
        """'I do not know it', or: 'it works in that other room' (commands in the wrong room)."""
        lang = self.settings.bot.language
        home = commands.where(word)
        if home is None:
            return i18n.t("desk.unknown_command", lang, word=word)
        room = i18n.t(f"room.{home.value}.name", lang, wijk=wijk.name)
        return i18n.t("command.elsewhere", lang, word=word, room=room)

    def handle_police_message(
        self, db: sqlite3.Connection, wijk: WijkSettings, msg: Inbound
    ) -> None:
        """A message in the police room: bulletins, replies to forwards, `!stats`."""
        if not msg.encrypted or msg.sender not in (*wijk.police, *wijk.coordinators):
            return
        relates = msg.content.get("m.relates_to")
        if isinstance(relates, dict) and relates.get("rel_type") == "m.replace":
            return  # an edit is not a new bulletin; the coordinators see the edit themselves
        replied = self._answered_conversation(msg.content)
        self.desk.handle_police(db, wijk, msg.sender, msg.content, replied, msg.ts)

    def handle_wijk_message(self, db: sqlite3.Connection, wijk: WijkSettings, msg: Inbound) -> None:
        """A message in the wijk room: only explicit commands do anything (never plain chat)."""
        if msg.sender not in wijk.coordinators or not msg.encrypted:
            return
        if msg.content.get("msgtype") not in TEXT_TYPES:
            return
        body = msg.content.get("body")
        if not isinstance(body, str):
            return
        parsed = commands.parse(anonymise.strip_reply_fallback(body), commands.Audience.WIJK)
        if isinstance(parsed, commands.UnknownCommand):
            room = self.store.wijk_room(wijk.slug, "wijk")
            if room is not None:
                self.desk.say(db, room, self._unknown_command_text(wijk, parsed.word))
            return
        if isinstance(parsed, commands.Command):
            self.broadcasts.handle_command(db, wijk, msg.sender, parsed.spec.name, parsed.argument)

    def _answered_conversation(self, content: dict[str, Any]) -> Conversation | None:
        relates = content.get("m.relates_to")
        if not isinstance(relates, dict):
            return None
        candidates: list[str] = []
        if relates.get("rel_type") == "m.thread" and isinstance(relates.get("event_id"), str):
            candidates.append(relates["event_id"])
        reply = relates.get("m.in_reply_to")
        if isinstance(reply, dict) and isinstance(reply.get("event_id"), str):
            candidates.append(reply["event_id"])
        for event_id in candidates:
            conversation = self.store.conversation_by_event(event_id)
            if conversation is not None:
                return conversation
        return None

    def _desk_system(
        self,
        db: sqlite3.Connection,
        desk: str,
        conversation: Conversation,
        text: str,
        *,
        blocked: bool | None = None,
    ) -> None:
        content = anonymise.plain_content(text, msgtype="m.notice")
        content[FIELD] = BinFields(
            kind=Kind.SYSTEM,
            wijk=conversation.wijk,
            report=report_id(conversation.number),
            blocked=blocked,
        ).to_content()
        self.store.enqueue(db, desk, content, conversation_id=conversation.id, in_thread=True)

    # --- anonymity: rate limit, edits, deletions, media, reveal, blocks -----------------

    def _within_rate(self, db: sqlite3.Connection, member: Member, now: float) -> bool:
        """Case C14: at most `rate_limit_per_minute` messages; one notice per window."""
        recent = self._recent.setdefault(member.member_key, deque())
        while recent and recent[0] <= now - RATE_WINDOW_S:
            recent.popleft()
        if len(recent) < self.settings.relay.rate_limit_per_minute:
            recent.append(now)
            return True
        if now - self._warned.get(member.member_key, 0.0) >= RATE_WINDOW_S:
            self._warned[member.member_key] = now
            self._notice(db, member, "rate_limited")
        return False

    def accepts_image(self, member: Member, encrypted: bool) -> bool:
        """Whether a photo of this member would be relayed now (so it is worth processing)."""
        if not encrypted or member.wijk is None:
            return False
        if self.store.is_blocked(member.member_key, member.wijk, time.time()):
            return False
        recent = self._recent.get(member.member_key, deque())
        window_start = time.time() - RATE_WINDOW_S
        return sum(1 for ts in recent if ts > window_start) < (
            self.settings.relay.rate_limit_per_minute
        )

    def handle_member_live_location(self, db: sqlite3.Connection, member: Member) -> None:
        """Case C16: live location is never relayed; the member is told to stop sharing."""
        self._notice(db, member, "media.live_location")

    def _member_edit(
        self, db: sqlite3.Connection, member: Member, msg: Inbound, relates: dict[str, Any]
    ) -> None:
        """Case C06: redact the old desk copy, post the new text in the same thread."""
        mirror, conversation = self._own_mirror(relates.get("event_id"), msg.sender)
        if mirror is None or conversation is None or conversation.member_key != member.member_key:
            return  # not a relayed message of this member's: nothing to mirror
        new_content = msg.content.get("m.new_content")
        if not isinstance(new_content, dict) or new_content.get("msgtype") not in TEXT_TYPES:
            return  # a caption edit of a photo, or malformed: the old copy stays as it was
        self.store.enqueue_redaction(db, mirror.room_id, mirror.source)
        label = report_id(conversation.number)
        text = anonymise.member_text(new_content)
        parts = self._split(text) if text is not None else None
        if text is None or parts is None:
            self._notice(db, member, "edit.empty", report=label)
            return
        if member.wijk is None or self.store.is_blocked(member.member_key, member.wijk, msg.ts):
            self._notice(db, member, "blocked", wijk=self._wijk_name(member.wijk))
            return
        self._continue(db, member, conversation, list(parts), _as_source(msg), edited=True)
        self._notice(db, member, "edit.done", report=label, conversation_id=conversation.id)

    def handle_member_redaction(
        self, db: sqlite3.Connection, member: Member, sender: str, redacts: str
    ) -> None:
        """A member deleted one of their messages: its desk copies are redacted too."""
        mirror, conversation = self._own_mirror(redacts, sender)
        if mirror is None or conversation is None or conversation.member_key != member.member_key:
            return
        self.store.enqueue_redaction(db, mirror.room_id, mirror.source)
        self._notice(db, member, "delete.done", report=report_id(conversation.number))

    def _own_mirror(
        self, event_id: object, sender: str
    ) -> tuple[Mirror | None, Conversation | None]:
        """The mirror of `event_id` if `sender` wrote the original, with its conversation."""
        if not isinstance(event_id, str):
            return None, None
        mirror = self.store.mirror(self.mirror_key(event_id))
        if mirror is None or mirror.author != self.author_key(sender):
            return None, None
        return mirror, self.store.conversation(mirror.conversation_id)

    def _member_image(self, db: sqlite3.Connection, member: Member, msg: Inbound) -> None:
        """Case C04: only the bot's cleaned, re-encrypted copy crosses, with a cleaned caption."""
        if msg.image is None:
            self._notice(db, member, "media.image_failed")
            return
        caption = anonymise.image_caption(msg.content)
        self._relay_report(db, member, msg, caption, image=msg.image, media="image")

    def _member_location(self, db: sqlite3.Connection, member: Member, msg: Inbound) -> None:
        """Case C16: a static pin waits, rounded, for the member's `!ja`; nothing else crosses."""
        place = anonymise.rounded_geo_uri(anonymise.location_uri(msg.content) or "")
        if place is None:
            self._notice(db, member, "nontext")
            return
        self.store.update_member(
            member.member_key, db, pending_location=place, pending_location_at=msg.ts
        )
        self._notice(db, member, "location.confirm", place=place.removeprefix("geo:"))

    def _confirm_location(self, db: sqlite3.Connection, member: Member, msg: Inbound) -> None:
        place = member.pending_location
        asked = member.pending_location_at or 0.0
        self.store.update_member(
            member.member_key, db, pending_location=None, pending_location_at=None
        )
        if place is None or member.wijk is None or msg.ts - asked > LOCATION_CONFIRM_S:
            self._notice(db, member, "location.none")
            return
        text = i18n.t("location.text", self.settings.bot.language, place=place)
        self._relay_report(db, member, msg, text, media="location")

    def _reveal(self, db: sqlite3.Connection, member: Member, argument: str, msg: Inbound) -> None:
        """`!persoonlijk`: explain exactly what is shared; only `!persoonlijk ja` does it."""
        current = self._open_conversation(member)
        if current is None or member.wijk is None:
            self._notice(db, member, "persoonlijk.none")
            return
        label = report_id(current.number)
        if current.revealed_at is not None:
            self._notice(db, member, "persoonlijk.already", report=label)
            return
        if argument.strip().lower() not in commands.CONFIRM_WORDS:
            self._notice(
                db,
                member,
                "persoonlijk.explain",
                report=label,
                pseudonym=current.pseudonym,
                wijk=self._wijk_name(member.wijk),
                user_id=msg.sender,
            )
            return
        desk = self.store.wijk_room(member.wijk, "desk")
        assert desk is not None
        text = i18n.t(
            "desk.revealed",
            self.settings.bot.language,
            report=label,
            pseudonym=current.pseudonym,
            user_id=msg.sender,
        )
        content = anonymise.plain_content(text, msgtype="m.notice")
        content[FIELD] = BinFields(
            kind=Kind.SYSTEM,
            wijk=current.wijk,
            report=label,
            conversation=current.id,
            pseudonym=current.pseudonym,
            revealed=True,
            user_id=msg.sender,
        ).to_content()
        self.store.enqueue(db, desk, content, conversation_id=current.id, in_thread=True)
        self.store.set_revealed(db, current.id, msg.ts)  # the time only
        self._notice(db, member, "persoonlijk.done", report=label)

    def _coordinator_edit(
        self, db: sqlite3.Connection, wijk: WijkSettings, msg: Inbound, relates: dict[str, Any]
    ) -> None:
        """A coordinator edited an answer: the member's copy is redacted, the new one sent."""
        mirror, conversation = self._own_mirror(relates.get("event_id"), msg.sender)
        if mirror is None or conversation is None or conversation.wijk != wijk.slug:
            return
        self.store.enqueue_redaction(db, mirror.room_id, mirror.source)
        new_content = msg.content.get("m.new_content")
        text = anonymise.coordinator_text(new_content) if isinstance(new_content, dict) else None
        if text is None:
            member = self.store.member_by_key(conversation.member_key)
            if member is not None:
                self._notice(db, member, "answer.withdrawn", report=report_id(conversation.number))
            return
        self._answer(db, wijk, conversation, text, _as_source(msg), edited=True)

    def handle_desk_redaction(
        self, db: sqlite3.Connection, wijk: WijkSettings, sender: str, redacts: str
    ) -> None:
        """A coordinator deleted an answer: the member's copy is redacted too.

        Any coordinator of the wijk may withdraw any coordinator's answer (the homeserver
        already checked their power to redact); nothing a member wrote can be targeted.
        """
        if sender not in wijk.coordinators:
            return
        mirror = self.store.mirror(self.mirror_key(redacts))
        authors = {self.author_key(user) for user in wijk.coordinators}
        if mirror is None or mirror.author not in authors:
            return
        conversation = self.store.conversation(mirror.conversation_id)
        if conversation is None or conversation.wijk != wijk.slug:
            return
        self.store.enqueue_redaction(db, mirror.room_id, mirror.source)
        member = self.store.member_by_key(conversation.member_key)
        if member is not None:
            self._notice(db, member, "answer.withdrawn", report=report_id(conversation.number))

    def _desk_command(
        self, db: sqlite3.Connection, wijk: WijkSettings, cmd: commands.Command, msg: Inbound
    ) -> None:
        """`!blokkeer M-0003` / `!deblokkeer M-0003` by a coordinator of this wijk."""
        lang = self.settings.bot.language
        desk = self.store.wijk_room(wijk.slug, "desk")
        if desk is None:
            return
        self.store.forget_expired_blocks(msg.ts, db)
        number = parse_report_id(cmd.argument)
        if number is None:
            self._desk_notice(db, desk, wijk, i18n.t("desk.block_usage", lang))
            return
        label = report_id(number)
        conversation = self.store.conversation_by_number(wijk.slug, number)
        if conversation is None:
            self._desk_notice(db, desk, wijk, i18n.t("desk.unknown_report", lang, report=label))
            return
        member = self.store.member_by_key(conversation.member_key)
        if cmd.spec.name == "blokkeer":
            retention = self.settings.relay.block_retention_days * 86400
            self.store.block(db, conversation.member_key, wijk.slug, msg.ts, msg.ts + retention)
            if member is not None:
                self._notice(db, member, "blocked", wijk=wijk.name)
            key, blocked = "desk.blocked", True
        elif self.store.unblock(db, conversation.member_key, wijk.slug):
            if member is not None:
                self._notice(db, member, "unblocked", wijk=wijk.name)
            key, blocked = "desk.unblocked", False
        else:
            key, blocked = "desk.not_blocked", False
        self._desk_system(db, desk, conversation, i18n.t(key, lang, report=label), blocked=blocked)

    def _desk_notice(
        self, db: sqlite3.Connection, desk: str, wijk: WijkSettings, text: str
    ) -> None:
        content = anonymise.plain_content(text, msgtype="m.notice")
        content[FIELD] = BinFields(kind=Kind.SYSTEM, wijk=wijk.slug).to_content()
        self.store.enqueue(db, desk, content)

    # --- sending to members -----------------------------------------------------------

    def _notice(
        self,
        db: sqlite3.Connection,
        member: Member,
        key: str,
        conversation_id: str | None = None,
        **fields: object,
    ) -> None:
        self._send_notice(db, member, i18n.t(key, member.language, **fields), conversation_id)

    def _send_notice(
        self,
        db: sqlite3.Connection,
        member: Member,
        text: str,
        conversation_id: str | None = None,
    ) -> None:
        content = anonymise.plain_content(text, msgtype="m.notice")
        content[FIELD] = BinFields(kind=Kind.NOTICE).to_content()
        self.store.enqueue(db, member.room_id, content, conversation_id=conversation_id)


def _state(conversation: Conversation | None) -> conversations.ConversationState | None:
    if conversation is None:
        return None
    return conversations.ConversationState(
        id=conversation.id,
        last_activity=conversation.last_activity,
        closed=conversation.closed,
    )


def _copy_content(
    header: str, text: str | None, image: RelayedImage | None, label: str
) -> dict[str, Any]:
    """The content of one desk copy: quoted words, or a cleaned photo with its caption."""
    if image is None:
        return anonymise.quoted_content(header, text or "", msgtype="m.text")
    if text:
        content = anonymise.quoted_content(header, text, msgtype="m.image")
    else:
        content = anonymise.plain_content(header, msgtype="m.image")
    # With `filename` set, clients show `body` as the caption: here the header and the
    # member's cleaned caption. Nothing of the member's upload is reused but the pixels.
    content["filename"] = f"foto-{label}.jpg"
    content["file"] = dict(image.file)
    content["info"] = dict(image.info)
    return content


def _as_source(msg: Inbound) -> Inbound:
    """An edit's copies are remembered under the *original* event (later edits target it)."""
    relates = msg.content.get("m.relates_to")
    original = relates.get("event_id") if isinstance(relates, dict) else None
    return dataclasses.replace(msg, event_id=str(original))
