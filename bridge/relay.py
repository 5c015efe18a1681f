"""What the bot does with one inbound message: decide, record and queue the sends (no nio).

Each handler runs inside one store transaction together with the ledger entry of the event,
so an event's effects are recorded exactly once; the queued sends are then delivered by the
bot's outbox with persisted transaction ids (see bot.py).
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any

from bridge import anonymise, commands, conversations, i18n, pseudonyms
from bridge.protocol import FIELD, BinFields, Kind, Status, report_id
from bridge.settings import BridgeSettings, WijkSettings
from bridge.store import Conversation, Member, Store

TEXT_TYPES = ("m.text", "m.notice", "m.emote")
MAX_RELAY_CHARS = 16_000
"""The bot's copy carries the text twice (body and HTML) plus headers and must stay below
Synapse's 65,536-byte event limit even for multi-byte text (case C09)."""


@dataclass(frozen=True, slots=True)
class Inbound:
    """A decrypted message event, reduced to what the relay needs."""

    event_id: str
    sender: str
    content: dict[str, Any]
    encrypted: bool
    ts: float


class Relay:
    """The product's routing rules applied to the bridge's store."""

    def __init__(self, settings: BridgeSettings, store: Store, secret: bytes) -> None:
        self.settings = settings
        self.store = store
        self.secret = secret

    # --- identities -------------------------------------------------------------------

    def member_key(self, user_id: str) -> str:
        """The keyed digest under which a member is stored (never the user id itself)."""
        return pseudonyms.keyed_digest(self.secret, "member", user_id)

    def event_digest(self, event_id: str) -> str:
        """The ledger key of an inbound event."""
        return pseudonyms.keyed_digest(self.secret, "event", event_id)

    def staff_wijken(self, user_id: str) -> list[WijkSettings]:
        """The wijken where this account is a coordinator."""
        return [w for w in self.settings.wijken if user_id in w.coordinators]

    def is_staff(self, user_id: str) -> bool:
        """Coordinators and police are never treated as members."""
        return any(user_id in w.coordinators or user_id in w.police for w in self.settings.wijken)

    def wijk_by_code(self, code: str) -> WijkSettings | None:
        """The wijk whose join code this is (case and surrounding space ignored)."""
        wanted = code.strip().lower()
        for wijk in self.settings.wijken:
            if wijk.join_code.get_secret_value().strip().lower() == wanted:
                return wijk
        return None

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
        relates = msg.content.get("m.relates_to")
        if isinstance(relates, dict) and relates.get("rel_type") == "m.replace":
            return  # edits are mirrored by the anonymity work; never relayed as new text
        if msg.content.get("msgtype") not in TEXT_TYPES:
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
            self._member_command(db, member, parsed)
            return
        if member.wijk is None:
            wijk = self.wijk_by_code(text)
            if wijk is not None:
                self._sign_up(db, member, wijk)
            else:
                # A single word is taken as an attempt at a code; anything else as a report.
                looks_like_code = len(text) <= 40 and len(text.split()) == 1
                key = "signup.wrong_code" if looks_like_code else "signup.needed"
                self._notice(db, member, key)
            return
        if len(text) > MAX_RELAY_CHARS:
            self._notice(db, member, "too_long", size=len(text), limit=MAX_RELAY_CHARS)
            return
        self._relay_report(db, member, msg, text)

    def _member_command(
        self, db: sqlite3.Connection, member: Member, cmd: commands.Command
    ) -> None:
        lang = member.language
        name = cmd.spec.name
        if name == "hulp":
            lines = [i18n.t("help.intro", lang)]
            lines += [i18n.t(spec.help_key, lang) for spec in commands.member_commands()]
            lines.append(i18n.t("help.outro", lang))
            self._send_notice(db, member, "\n".join(lines))
        elif name == "aanmelden":
            wijk = self.wijk_by_code(cmd.argument) if cmd.argument else None
            if wijk is None:
                self._notice(db, member, "signup.wrong_code")
            else:
                self._sign_up(db, member, wijk)
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

    def _open_conversation(self, member: Member) -> Conversation | None:
        if member.wijk is None or member.want_new:
            return None
        latest = self.store.latest_conversation(member.member_key, member.wijk)
        if latest is None or latest.closed:
            return None
        return latest

    def _relay_report(
        self, db: sqlite3.Connection, member: Member, msg: Inbound, text: str
    ) -> None:
        assert member.wijk is not None
        wijk = member.wijk
        desk = self.store.wijk_room(wijk, "desk")
        if desk is None:
            raise RuntimeError("the wijk's desk room does not exist yet")
        replied = self._replied_conversation(msg.content, member)
        latest = self.store.latest_conversation(member.member_key, wijk)
        decision = conversations.route(
            conversations.Inbound(
                now=msg.ts,
                replied_to=_state(replied),
                explicit_new=member.want_new,
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
            )
            header = i18n.t(
                "desk.report_header",
                self.settings.bot.language,
                report=label,
                pseudonym=conversation.pseudonym,
            )
            content = anonymise.quoted_content(header, text, msgtype="m.text")
            content[FIELD] = fields.to_content()
            self.store.enqueue(db, desk, content, conversation_id=conversation.id, sets_root=True)
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
        self._continue(db, member, joined, text, msg.ts)

    def _continue(
        self,
        db: sqlite3.Connection,
        member: Member,
        conversation: Conversation,
        text: str,
        now: float,
    ) -> None:
        """Post a later member message in the conversation's desk thread."""
        assert member.wijk is not None
        wijk = member.wijk
        desk = self.store.wijk_room(wijk, "desk")
        assert desk is not None
        lang = member.language
        self.store.touch_conversation(db, conversation.id, now)
        label = report_id(conversation.number)
        fields = BinFields(
            kind=Kind.MEMBER_MESSAGE,
            wijk=wijk,
            report=label,
            conversation=conversation.id,
            pseudonym=conversation.pseudonym,
            text=text,
        )
        header = i18n.t(
            "desk.message_header",
            self.settings.bot.language,
            report=label,
            pseudonym=conversation.pseudonym,
        )
        content = anonymise.quoted_content(header, text, msgtype="m.text")
        content[FIELD] = fields.to_content()
        self.store.enqueue(db, desk, content, conversation_id=conversation.id, in_thread=True)
        self._send_notice(
            db,
            member,
            i18n.t("message.delivered", lang, report=label),
            conversation_id=conversation.id,
        )

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
        conversation = self._answered_conversation(msg.content)
        if conversation is None or conversation.wijk != wijk.slug:
            return  # ordinary chat between coordinators
        text = anonymise.coordinator_text(msg.content)
        if text is None:
            return
        member = self.store.member_by_key(conversation.member_key)
        label = report_id(conversation.number)
        if member is None:
            desk = self.store.wijk_room(wijk.slug, "desk")
            if desk is not None:
                self._desk_system(
                    db,
                    desk,
                    conversation,
                    i18n.t("desk.undeliverable", self.settings.bot.language, report=label),
                )
            return
        self.store.touch_conversation(db, conversation.id, msg.ts)
        header = i18n.t("answer.header", member.language, report=label)
        content = anonymise.quoted_content(header, text, msgtype="m.text")
        content[FIELD] = BinFields(kind=Kind.ANSWER, report=label, text=text).to_content()
        self.store.enqueue(db, member.room_id, content, conversation_id=conversation.id)

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
        self, db: sqlite3.Connection, desk: str, conversation: Conversation, text: str
    ) -> None:
        content = anonymise.plain_content(text, msgtype="m.notice")
        content[FIELD] = BinFields(
            kind=Kind.SYSTEM, wijk=conversation.wijk, report=report_id(conversation.number)
        ).to_content()
        self.store.enqueue(db, desk, content, conversation_id=conversation.id, in_thread=True)

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
