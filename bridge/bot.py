"""The bot's life cycle: login, sync loop, per-event isolation, the outbox, clean shutdown.

The bot keeps its *own* sync position. A batch is handled event by event; each event's
effects and its ledger entry are written in one transaction, the resulting sends go out
through the outbox with persisted transaction ids, and only when the whole batch is done is
the new sync token stored. A crash anywhere repeats at most work that the ledger and the
homeserver's transaction-id de-duplication make harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import secrets
import sqlite3
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import nio

from bridge import forget, i18n, keys, media, provision, purge, retention
from bridge.broadcasts import BroadcastRunner
from bridge.crosssign import ensure_cross_signing
from bridge.matrix import connect, content_of, write_private_file
from bridge.membership import LEAVE
from bridge.relay import Inbound, Relay, RelayedImage
from bridge.retention import REDACT
from bridge.roomstate import RoomStates
from bridge.settings import BridgeSettings
from bridge.store import REDACTION, PendingSend, Store
from bridge.store import Member as StoredMember

log = logging.getLogger(__name__)

SYNC_TIMEOUT_MS = 30_000
SYNC_GRACE_S = 30.0
"""A sync that has not answered this long after its long-poll ended is hung: the watchdog
cancels it and the loop retries (nothing is stored before a batch is handled)."""
MAX_BACKOFF_S = 30.0
BROADCAST_SYNC_PAUSE_S = 1.0
"""While a broadcast is delivered, the pause between two syncs. Every delivery is an event in
a room of the bot's, so each one wakes the bot's long-poll: without the pause the homeserver
computes a sync for the bot (in all its rooms) for every few deliveries. A member's message
waits at most this much longer during a broadcast."""
DEDUP_WINDOW_S = 20 * 3600
"""Synapse de-duplicates sends by transaction id for 24 hours; older pending sends are first
looked for among the bot's own recent events."""
SECRET_FILE = "secret.key"
ESCALATION_CHECK_S = 300
UNDECRYPTABLE_GIVE_UP_S = 7 * 86400
RETRY_BASE_S = 0.25
RETRY_MAX_S = 2.0
"""Between two attempts at an event whose handling failed: 0.25 s, 0.5 s, ... at most 2 s."""
STATUS_FILE = "status.json"
# A generous timeline per room and sync; a longer backlog is fetched page by page (`_gap`).
SYNC_FILTER: dict[str, Any] = {"room": {"timeline": {"limit": 50}}}
# Refusals that will not go away by retrying: the send is dropped (and logged, without content).
PERMANENT_ERRORS = ("M_FORBIDDEN", "M_NOT_FOUND", "M_UNKNOWN_TOKEN", "M_TOO_LARGE")


def load_or_create_secret(settings: BridgeSettings) -> bytes:
    """The bot's HMAC secret: from the config, or generated once in the data dir (0600)."""
    if settings.bot.secret_key is not None:
        return settings.bot.secret_key.get_secret_value().encode()
    path = settings.bot.data_dir / SECRET_FILE
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    value = secrets.token_bytes(32)
    write_private_file(path, value.hex().encode())
    return value


class Bridge:
    """One running bot."""

    def __init__(self, settings: BridgeSettings) -> None:
        self.settings = settings
        settings.bot.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.secret = load_or_create_secret(settings)
        self.store = Store(settings.bot.data_dir / "bridge.db")
        self.relay = Relay(settings, self.store, self.secret)
        self.rooms = RoomStates()
        self.broadcaster = BroadcastRunner(
            self.relay.broadcasts, self.store, settings.relay.broadcast_concurrency, self.rooms
        )
        self._broadcasting: asyncio.Task[None] | None = None
        self._pending_settings: BridgeSettings | None = None
        token = settings.bot.admin_token
        self.purger = (
            purge.Purger(
                settings.homeserver.url,
                token.get_secret_value(),
                settings.bot.user_id.split(":", 1)[1],
            )
            if token is not None
            else None
        )
        self._last_escalation = 0.0
        self.client: nio.AsyncClient | None = None
        self.ready = asyncio.Event()
        self.errors = 0
        self.last_error: str | None = None
        self.last_sync: float | None = None
        self.last_error_at: float | None = None
        self.started_at = time.time()
        self.gaps_filled = 0
        self.hung_syncs = 0
        self.sync_failures = 0
        """Consecutive failed syncs (0 while the homeserver answers)."""
        self.one_time_keys: int | None = None
        """The homeserver's count of the bot's unclaimed one-time keys at the last sync."""
        self.fallback_keys_uploaded = 0
        self.event_retries = 0
        self.resend_questions = 0
        """Members asked to send again what could not be decrypted (since the start)."""
        """Failed attempts at handling an event that were tried again (since the start)."""

    # --- life cycle -------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Log in, provision, then sync until `stop` is set (or the task is cancelled)."""
        stop = stop or asyncio.Event()
        try:
            client = await connect(self.settings, self.secret)
        except BaseException:
            self.store.close()  # a refused start (IdentityError) leaves nothing open
            raise
        self.client = client
        forget.record_message_indexes(client)
        try:
            await self._start(client)
            self.ready.set()
            self._write_status()
            log.info("bot ready")
            await self._loop(client, stop)
        finally:
            if self._broadcasting is not None:
                # Deliveries not yet confirmed keep their txn ids and resume on the next start.
                self._broadcasting.cancel()
                await asyncio.gather(self._broadcasting, return_exceptions=True)
            await client.close()
            self.store.close()
            log.info("bot stopped")

    async def _start(self, client: nio.AsyncClient) -> None:
        since = self.store.sync_token
        # After a restart the first sync is incremental: a full-state sync of every room would
        # hold up the backlog for seconds. Rooms get their state when first used (roomstate).
        first = await client.sync(timeout=0, since=since, sync_filter=SYNC_FILTER)
        if not isinstance(first, nio.SyncResponse):
            raise RuntimeError(f"the first sync failed: {first.message}")
        if since is not None:
            self.rooms.after_incremental_start()
        await self._maintain_keys(client, first)
        await ensure_cross_signing(client, self.settings.bot.key_file)
        await self._set_display_name(client)
        report = await provision.reconcile(client, self.settings, self.store, self.rooms)
        self._welcome_coordinators(report)
        self.store.forget_expired_blocks(time.time())  # digests kept only for their period
        if report.changed:
            log.info(
                "provisioning: %d rooms created, %d invites, %d power level changes",
                len(report.created),
                len(report.invited),
                len(report.power_levels),
            )
        # The first batch is handled before any later sync, so the stored sync position only
        # moves forward and events are handled in the order they arrived.
        await self._handle_batch(client, first, since)
        if report.changed:
            # Learn about the rooms we just created (sends into them wait for this).
            await self._sync_once(client, wait_ms=0)

    async def _loop(self, client: nio.AsyncClient, stop: asyncio.Event) -> None:
        backoff = 1.0
        while not stop.is_set():
            sync = asyncio.ensure_future(self._sync_once(client, self._sync_wait_ms()))
            stopper = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({sync, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if stopper in done:
                sync.cancel()
                await asyncio.gather(sync, return_exceptions=True)
                return
            stopper.cancel()
            try:
                sync.result()
                backoff = 1.0
                self.sync_failures = 0
                if self._broadcasting is not None and not self._broadcasting.done():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=BROADCAST_SYNC_PAUSE_S)
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except Exception as exc:  # the loop never dies of one failure
                self._record_error(exc)
                self.sync_failures += 1
                self._write_status()
                log.warning("sync failed (%s); retrying in %.0f s", type(exc).__name__, backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _sync_wait_ms(self) -> int:
        """The long-poll time, shortened so a confirmed broadcast starts when its undo window
        ends, not when the next event happens to arrive."""
        waiting = [
            t
            for t in (
                self.relay.broadcasts.next_due_at(),
                self.store.next_delayed_send(),
                self._next_resend_question(),
            )
            if t is not None
        ]
        due = min(waiting) if waiting else None
        if due is None:
            return SYNC_TIMEOUT_MS
        return max(0, min(SYNC_TIMEOUT_MS, int((due - time.time()) * 1000) + 50))

    def _next_resend_question(self) -> float | None:
        oldest = self.store.next_undecrypted_question()
        if oldest is None:
            return None
        return oldest + self.settings.relay.undecryptable_ask_after_seconds

    async def _sync_once(self, client: nio.AsyncClient, wait_ms: int) -> None:
        since = self.store.sync_token
        try:
            response = await asyncio.wait_for(
                client.sync(timeout=wait_ms, since=since, sync_filter=SYNC_FILTER),
                timeout=wait_ms / 1000 + SYNC_GRACE_S,
            )
        except TimeoutError:
            self.hung_syncs += 1
            raise ConnectionError("the sync hung; cancelled by the watchdog") from None
        if not isinstance(response, nio.SyncResponse):
            raise ConnectionError(f"sync failed: {getattr(response, 'status_code', '?')}")
        await self._maintain_keys(client, response)
        await self._handle_batch(client, response, since)

    async def _handle_batch(
        self, client: nio.AsyncClient, response: nio.SyncResponse, since: str | None
    ) -> None:
        """Handle one sync response that was requested `since` the stored position."""
        await self._flush_outbox(client)
        for room_id, info in response.rooms.invite.items():
            await self._isolated(self._on_invite(client, room_id, info))
        await self._leave_legacy_dms(client)
        for room_id, info in response.rooms.join.items():
            events = list(info.timeline.events)
            if info.timeline.limited and since is not None:
                # The homeserver left out the oldest events of this room (more arrived than the
                # timeline limit, e.g. while the bot was down): fetch them before the rest.
                events = await self._gap(client, room_id, info.timeline.prev_batch, since) + events
            for event in events:
                await self._isolated(self._on_event(client, room_id, event))
        await self._retry_undecrypted(client)
        await self._flush_outbox(client)
        self._start_broadcasts(client)
        await self._apply_reload(client)
        self._escalate()
        with self.store.transaction() as db:
            self.store.set_meta("sync_token", response.next_batch, db)
        self.last_sync = time.time()
        self._write_status()

    def request_reload(self, settings: BridgeSettings) -> None:
        """Take new settings (SIGHUP): applied after the current batch, without a restart."""
        self._pending_settings = settings

    async def _apply_reload(self, client: nio.AsyncClient) -> None:
        settings, self._pending_settings = self._pending_settings, None
        if settings is None:
            return
        for holder in (
            self,
            self.relay,
            self.relay.broadcasts,
            self.relay.desk,
            self.relay.membership,
        ):
            holder.settings = settings
        report = await provision.reconcile(client, settings, self.store, self.rooms)
        log.info(
            "configuration reloaded: %d rooms created, %d invites, %d removals",
            len(report.created),
            len(report.invited),
            len(report.removed),
        )
        self._welcome_coordinators(report)
        # New rooms become known with the next sync; sends into them wait in the outbox.

    def _welcome_coordinators(self, report: provision.ProvisionReport) -> None:
        """A newly added coordinator gets a summary of the wijk's open conversations."""
        for slug, coordinators in report.new_coordinators.items():
            wijk = self.settings.wijk(slug)
            if wijk is None:
                continue
            with self.store.transaction() as db:
                for coordinator in coordinators:
                    self.relay.desk.post_summary(db, wijk, coordinator)

    def _escalate(self) -> None:
        """At most every few minutes: unanswered reports go to the reserve coordinator, and
        expired reports are redacted (retention)."""
        now = time.time()
        if now - self._last_escalation < ESCALATION_CHECK_S:
            return
        self._last_escalation = now
        with self.store.transaction() as db:
            self.relay.desk.escalate(db, now)
            expired = retention.expire(db, self.store, self.settings, now)
        if expired:
            log.info("retention: %d reports redacted and unlinked", expired)

    def _start_broadcasts(self, client: nio.AsyncClient) -> None:
        """Deliver due broadcasts in the background, so the sync loop keeps relaying."""
        if self._broadcasting is not None and not self._broadcasting.done():
            return
        if not self.relay.broadcasts.due() and not self.relay.broadcasts.late_deliveries():
            return
        self._broadcasting = asyncio.create_task(self._isolated(self.broadcaster.run_due(client)))

    async def _gap(
        self, client: nio.AsyncClient, room_id: str, prev_batch: str | None, since: str
    ) -> list[Any]:
        """The events of a room between our stored position and a limited timeline, oldest first.

        A failure here fails the whole batch (the sync position is then not stored), so a gap is
        never skipped.
        """
        if prev_batch is None:
            return []
        events: list[Any] = []
        token = prev_batch
        while True:
            page = await client.room_messages(
                room_id, start=token, end=since, direction=nio.MessageDirection.back, limit=100
            )
            if not isinstance(page, nio.RoomMessagesResponse):
                raise ConnectionError(f"fetching a gap failed: {getattr(page, 'status_code', '?')}")
            events.extend(page.chunk)
            if not page.chunk or not page.end or page.end == token:
                break
            token = page.end
        self.gaps_filled += 1
        events.reverse()
        return events

    async def _isolated(self, work: Any) -> None:
        """Run one event's handling; a failure is logged without content and never spreads."""
        try:
            await work
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:
            self._record_error(exc)

    def _record_error(self, exc: BaseException) -> str:
        ref = uuid.uuid4().hex[:8]
        self.errors += 1
        self.last_error = type(exc).__name__
        self.last_error_at = time.time()
        log.error("error %s while handling an event: %s", ref, type(exc).__name__)
        return ref

    async def _maintain_keys(self, client: nio.AsyncClient, response: nio.SyncResponse) -> None:
        count = keys.note_key_count(client, response)
        if count is not None:
            self.one_time_keys = count
        if client.should_upload_keys:
            await client.keys_upload()
        if await keys.keep_fallback_key(client, self.store, exhausted=count == 0):
            self.fallback_keys_uploaded += 1
        keys.drop_own_user(client)
        if client.should_query_keys:
            await keys.query_keys(client)
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()

    async def _set_display_name(self, client: nio.AsyncClient) -> None:
        current = await client.get_displayname()
        wanted = self.settings.bot.display_name
        if isinstance(current, nio.ProfileGetDisplayNameResponse) and current.displayname != wanted:
            await client.set_displayname(wanted)

    # --- inbound ----------------------------------------------------------------------

    async def _on_invite(self, client: nio.AsyncClient, room_id: str, info: Any) -> None:
        inviter = None
        for event in info.invite_state:
            if (
                isinstance(event, nio.InviteMemberEvent)
                and event.state_key == client.user_id
                and event.membership == "invite"
            ):
                inviter = event.sender
        if inviter is None or inviter == client.user_id:
            return
        if self.relay.is_staff(inviter) or self.store.room_role(room_id) is not None:
            # Coordinators and police talk to the bot in the wijk rooms, not in DMs.
            await client.room_leave(room_id)
            return
        member_key = self.relay.member_key(inviter)
        member = self.store.member_by_key(member_key)
        if member is None:
            private = await self._create_private_room(client, inviter)
            self.store.add_member(member_key, private, self.settings.bot.language)
        else:
            await client.room_invite(member.room_id, inviter)  # they may have left it
        joined = await client.join(room_id)
        if isinstance(joined, nio.JoinResponse):
            self.store.add_legacy_dm(room_id, member_key)
        else:
            await client.room_leave(room_id)

    async def _create_private_room(self, client: nio.AsyncClient, user_id: str) -> str:
        lang = self.settings.bot.language
        response = await client.room_create(
            name=i18n.t("room.private.name", lang),
            topic=i18n.t("room.private.topic", lang),
            invite=[user_id],
            is_direct=True,
            initial_state=provision.encrypted_room_state("invited"),
            power_level_override=provision.private_room_power_levels(),
        )
        if not isinstance(response, nio.RoomCreateResponse):
            raise RuntimeError("creating a private room failed")
        return str(response.room_id)

    async def _leave_legacy_dms(self, client: nio.AsyncClient) -> None:
        """Post a pointer in member-created DMs, then leave them (DESIGN.md section 3)."""
        for room_id in self.store.legacy_dms():
            if not await self.rooms.ensure(client, room_id):
                continue  # not joined yet
            room = client.rooms[room_id]
            lang = self.settings.bot.language
            text = i18n.t("dm.moved", lang)
            if not room.encrypted:
                text += "\n\n" + i18n.t("dm.unencrypted", lang)
            if self.settings.relay.welcome_dm_notice:
                await client.room_send(
                    room_id,
                    "m.room.message",
                    {"msgtype": "m.notice", "body": text, "m.mentions": {}},
                    ignore_unverified_devices=True,
                )
            await client.room_leave(room_id)
            self.store.remove_legacy_dm(room_id)

    async def _on_event(self, client: nio.AsyncClient, room_id: str, event: Any) -> None:
        if isinstance(event, nio.MegolmEvent):
            if self.store.is_handled(self.relay.event_digest(event.event_id)):
                return  # relayed before, and its key deliberately forgotten since
            # Kept (ciphertext only) until its key arrives, across restarts too (case C13).
            self.store.keep_undecrypted(room_id, event.event_id, dict(event.source))
            with contextlib.suppress(nio.LocalProtocolError):  # already requested
                await client.request_room_key(event)
            return
        await self._dispatch(room_id, event)

    async def _dispatch(self, room_id: str, event: Any) -> None:
        source = getattr(event, "source", None) or {}
        event_id = getattr(event, "event_id", None) or source.get("event_id")
        sender = getattr(event, "sender", None) or source.get("sender")
        if not isinstance(event_id, str) or not isinstance(sender, str):
            return
        if sender == self.settings.bot.user_id:
            return
        digest = self.relay.event_digest(event_id)
        member = self.store.member_by_room(room_id)
        if self.store.is_handled(digest):
            # Seen again after a crash: its key may not have been forgotten yet.
            self._forget_key(room_id, member, sender, event)
            return
        role = self.store.room_role(room_id)
        image = None
        if member is not None and self.relay.member_key(sender) == member.member_key:
            image = await self._member_image(member, event)
        attempts = self.settings.relay.failing_event_attempts
        for attempt in range(1, attempts + 1):
            try:
                # Sends get transaction ids derived from this event: handling it again (after a
                # restore, or a failed attempt) repeats the same ids, and the homeserver
                # de-duplicates them.
                with self.store.caused_by(digest), self.store.transaction() as db:
                    self._handle(db, member, role, sender, event, image)
                    self.store.mark_handled(db, digest)
                break
            except Exception as exc:  # rolled back: the next attempt starts clean
                if attempt < attempts:
                    self.event_retries += 1
                    log.warning(
                        "handling an event failed (%s), attempt %d of %d; trying again",
                        type(exc).__name__,
                        attempt,
                        attempts,
                    )
                    await asyncio.sleep(min(RETRY_BASE_S * 2 ** (attempt - 1), RETRY_MAX_S))
                    continue
                ref = self._record_error(exc)
                log.error("error %s: event skipped after %d failed attempts", ref, attempts)
                # Skip this event for good, and tell the member, so one bad event cannot loop.
                with self.store.transaction() as db:
                    self.store.mark_handled(db, digest)
                    self.store.count_skipped(db)
                    if member is not None and self.relay.member_key(sender) == member.member_key:
                        self.relay._notice(db, member, "internal_error", ref=ref)
        if self.client is not None:
            # The desk copy goes out first: forgetting the key costs a write to nio's store.
            await self._flush_outbox(self.client)
            self._forget_key(room_id, member, sender, event)
            if (
                self.purger is not None
                and member is not None
                and self.relay.member_key(sender) == member.member_key
                and content_of(event).get("msgtype") == "m.image"
            ):
                original = purge.original_media_url(content_of(event))
                if original is not None:
                    with contextlib.suppress(Exception):  # logged inside; never fatal
                        await self.purger.media(original)

    def _forget_key(
        self, room_id: str, member: StoredMember | None, sender: str, event: Any
    ) -> None:
        """A member's event handled (or given up on) for good: forget the key that could open
        it again (bridge.forget). Ratcheting only moves forward, so doing it twice is harmless."""
        if self.client is None or member is None:
            return
        if self.relay.member_key(sender) != member.member_key:
            return
        try:
            forget.forget_up_to(self.client, room_id, event)
        except Exception as exc:  # keeping a key is not worth losing the loop
            self._record_error(exc)

    def _handle(
        self,
        db: sqlite3.Connection,
        member: StoredMember | None,
        role: tuple[str, str] | None,
        sender: str,
        event: Any,
        image: RelayedImage | None,
    ) -> None:
        """One event's effects, inside its transaction (a failure rolls all of them back)."""
        if member is not None:
            if self.relay.member_key(sender) != member.member_key:
                pass  # only the member and the bot belong in a private room
            elif isinstance(event, nio.RoomMemberEvent):
                if event.membership == "join" and not member.welcomed:
                    self.relay.welcome(db, member)
            elif _redacts(event) is not None:
                redacts = str(_redacts(event))
                self.relay.handle_member_redaction(db, member, sender, redacts)
            elif _is_live_location(event):
                self.relay.handle_member_live_location(db, member)
            elif _is_message(event):
                self.relay.handle_member_message(db, member, self._inbound(event, image))
        elif role is not None and role[1] == "desk" and _redacts(event) is not None:
            wijk = self.settings.wijk(role[0])
            if wijk is not None:
                redacts = str(_redacts(event))
                self.relay.handle_desk_redaction(db, wijk, sender, redacts)
        elif role is not None and role[1] == "desk" and _is_message(event):
            wijk = self.settings.wijk(role[0])
            if wijk is not None:
                self.relay.handle_desk_message(db, wijk, self._inbound(event))
        elif role is not None and role[1] == "police" and _is_message(event):
            wijk = self.settings.wijk(role[0])
            if wijk is not None:
                self.relay.handle_police_message(db, wijk, self._inbound(event))
        elif role is not None and role[1] == "wijk" and _is_message(event):
            wijk = self.settings.wijk(role[0])
            if wijk is not None:
                self.relay.handle_wijk_message(db, wijk, self._inbound(event))

    async def _member_image(self, member: Any, event: Any) -> RelayedImage | None:
        """Run a member's photo through the media pipeline, before its transaction (C04).

        Only when the relay would take it (signed up, encrypted, not blocked, within the rate
        limit); a refusal or failure gives None, and the member hears that it was not sent.
        """
        content = content_of(event)
        if content.get("msgtype") != "m.image" or self.client is None:
            return None
        if not self.relay.accepts_image(member, bool(getattr(event, "decrypted", False))):
            return None
        relay = self.settings.relay
        try:
            return await media.relay_copy(
                self.client, content, relay.max_media_bytes, relay.max_image_pixels
            )
        except Exception as exc:  # refused, damaged or a failed transfer: never relayed
            log.warning("a member's image was not relayed (%s)", type(exc).__name__)
            return None

    @staticmethod
    def _inbound(event: Any, image: RelayedImage | None = None) -> Inbound:
        """The relay's view of a message event; malformed ones keep their raw content."""
        source = getattr(event, "source", None) or {}
        millis = getattr(event, "server_timestamp", None) or source.get("origin_server_ts")
        return Inbound(
            image=image,
            event_id=str(getattr(event, "event_id", None) or source.get("event_id")),
            sender=str(getattr(event, "sender", None) or source.get("sender")),
            content=content_of(event),
            encrypted=bool(getattr(event, "decrypted", False)),
            ts=float(millis) / 1000 if isinstance(millis, int | float) else time.time(),
        )

    async def _retry_undecrypted(self, client: nio.AsyncClient) -> None:
        """Try again the events whose room key had not arrived yet (case C13)."""
        for room_id, raw in self.store.undecrypted():
            event = nio.MegolmEvent.from_dict(raw)
            if not isinstance(event, nio.MegolmEvent):
                self.store.forget_undecrypted(str(raw.get("event_id")))
                continue
            event.room_id = room_id
            try:
                decrypted = client.decrypt_event(event)
            except Exception:
                decrypted = None
            if decrypted is None or isinstance(decrypted, nio.MegolmEvent):
                if time.time() - event.server_timestamp / 1000 > UNDECRYPTABLE_GIVE_UP_S:
                    self.store.forget_undecrypted(event.event_id)
                    log.warning("gave up on an event whose room key never arrived")
                continue
            await self._isolated(self._dispatch(room_id, decrypted))
            self.store.forget_undecrypted(event.event_id)
        self._ask_to_resend()

    def _ask_to_resend(self) -> None:
        """Case C13: a member whose message stayed unreadable too long is asked to send it
        again — once for everything of theirs that is waiting, in the same transaction that
        records the question, so a restart never asks twice."""
        now = time.time()
        ask_after = self.settings.relay.undecryptable_ask_after_seconds
        due = self.store.unasked_undecrypted(now - ask_after)
        for room_id in dict.fromkeys(room for room, _ in due):
            member = self.store.member_by_room(room_id)
            senders = {sender for room, sender in due if room == room_id}
            with self.store.transaction() as db:
                self.store.mark_undecrypted_asked(db, room_id, now)
                if member is not None and any(
                    self.relay.member_key(s) == member.member_key for s in senders
                ):
                    self.relay._notice(db, member, "undecryptable.resend")
                    self.resend_questions += 1
                    log.info("a member was asked to send again what could not be decrypted")

    # --- outbound ---------------------------------------------------------------------

    async def _flush_outbox(self, client: nio.AsyncClient) -> None:
        """Send everything queued, in order, each with its persisted transaction id."""
        held: set[str | None] = set()
        now = time.time()
        for send in self.store.pending_sends():
            if send.not_before is not None and send.not_before > now:
                held.add(send.conversation_id)  # the random relay delay
                continue
            if send.conversation_id is not None and send.conversation_id in held:
                continue  # keep a conversation's order behind its delayed message
            if not await self.rooms.ensure(client, send.room_id):
                return  # not joined yet: keep order, try after the next sync
            if send.event_type == REDACTION:
                await self._redact(client, send)
                continue
            if send.event_type == REDACT:
                redacted = await client.room_redact(
                    send.room_id, str(send.content.get("event_id")), tx_id=send.txn_id
                )
                if not isinstance(redacted, nio.RoomRedactResponse) and (
                    getattr(redacted, "status_code", None) not in PERMANENT_ERRORS
                ):
                    raise ConnectionError(f"redaction failed: {redacted.status_code}")
                self.store.drop_send(send)
                continue
            if send.event_type == LEAVE:
                await client.room_leave(send.room_id)  # leaving twice is harmless
                if self.purger is not None:
                    with contextlib.suppress(Exception):  # logged inside; never fatal
                        await self.purger.room(send.room_id)
                self.store.drop_send(send)
                continue
            if time.time() - send.created_at > DEDUP_WINDOW_S:
                # The homeserver may have forgotten this transaction id: look before resending.
                earlier = await _own_event_with_txn(client, send.room_id, send.txn_id)
                if earlier is not None:
                    self.store.complete_send(send, earlier)
                    continue
            content = self._with_thread(send)
            response = await client.room_send(
                send.room_id,
                send.event_type,
                content,
                tx_id=send.txn_id,
                ignore_unverified_devices=True,
            )
            if isinstance(response, nio.RoomSendResponse):
                self.store.complete_send(send, response.event_id)
            elif getattr(response, "status_code", None) in PERMANENT_ERRORS:
                log.warning("a send was refused for good (%s) and dropped", response.status_code)
                self.store.drop_send(send)
            else:
                raise ConnectionError(f"send failed: {getattr(response, 'status_code', '?')}")

    async def _redact(self, client: nio.AsyncClient, send: PendingSend) -> None:
        """Redact every current copy of a mirrored message, and verify each redaction (C06).

        Each copy has its own transaction id derived from the queued one, so a repeat after a
        crash is de-duplicated by the homeserver; a copy is forgotten only once a fresh read
        of it shows no content left.
        """
        assert send.mirror is not None
        for event_id in self.store.mirror_copies(send.mirror):
            txn_id = f"{send.txn_id}-{hashlib.sha256(event_id.encode()).hexdigest()[:16]}"
            response = await client.room_redact(send.room_id, event_id, tx_id=txn_id)
            if not isinstance(response, nio.RoomRedactResponse):
                if getattr(response, "status_code", None) not in PERMANENT_ERRORS:
                    raise ConnectionError(f"redaction failed: {response.status_code}")
                log.warning("a redaction was refused for good (%s)", response.status_code)
            else:
                check = await client.room_get_event(send.room_id, event_id)
                if not isinstance(check, nio.RoomGetEventResponse):
                    raise ConnectionError("could not verify a redaction")
                if check.event.source.get("content"):
                    raise ConnectionError("a redaction was not applied yet")
            self.store.forget_copy(send.mirror, event_id)
        self.store.drop_send(send)

    def _with_thread(self, send: PendingSend) -> dict[str, Any]:
        if not send.in_thread or send.conversation_id is None:
            return send.content
        conversation = self.store.conversation(send.conversation_id)
        if conversation is None or conversation.root_event_id is None:
            # The root was refused for good (it would be queued ahead of this send otherwise):
            # post without the thread link rather than block the outbox for everyone.
            return send.content
        root = conversation.root_event_id
        return {
            **send.content,
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": root,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": root},
            },
        }

    # --- status -----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Machine-readable health: no identifiers beyond the bot's own rooms."""
        outbox = len(self.store.pending_sends())
        undecrypted = len(self.store.undecrypted())
        return {
            "ready": self.ready.is_set(),
            "pid": os.getpid(),
            "started_at": self.started_at,
            "written_at": time.time(),
            "last_sync": self.last_sync,
            "sync_failures": self.sync_failures,
            "hung_syncs": self.hung_syncs,
            "gaps_filled": self.gaps_filled,
            "queues": {"outbox": outbox, "undecrypted": undecrypted},
            "outbox": outbox,
            "undecrypted": undecrypted,
            "errors": self.errors,
            "skipped_events": self.store.skipped_events,
            "event_retries": self.event_retries,
            "resend_questions": self.resend_questions,
            "one_time_keys": self.one_time_keys,
            "fallback_keys_uploaded": self.fallback_keys_uploaded,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "wijken": {
                w.slug: {role: self.store.wijk_room(w.slug, role) for role in provision.ROLES}
                for w in self.settings.wijken
            },
        }

    def _write_status(self) -> None:
        path: Path = self.settings.bot.data_dir / STATUS_FILE
        write_private_file(path, json.dumps(self.status(), indent=2).encode())


async def _own_event_with_txn(client: nio.AsyncClient, room_id: str, txn_id: str) -> str | None:
    """The id of our own recent event sent under `txn_id`, if the homeserver has one.

    The homeserver shows `unsigned.transaction_id` only to the device that sent the event.
    """
    query = urllib.parse.urlencode({"dir": "b", "limit": "500"})
    path = f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id, safe='')}/messages?{query}"
    response = await client.send(
        "GET", path, headers={"Authorization": f"Bearer {client.access_token}"}
    )
    try:
        if response.status != 200:
            raise ConnectionError(f"reading recent events failed: {response.status}")
        body = await response.json(content_type=None)
    finally:
        response.release()
    for event in body.get("chunk", []):
        unsigned = event.get("unsigned") or {}
        if event.get("sender") == client.user_id and unsigned.get("transaction_id") == txn_id:
            return str(event["event_id"])
    return None


def _is_message(event: Any) -> bool:
    """An m.room.message, including ones nio could not validate (they still get an answer)."""
    if isinstance(event, nio.RoomMessage):
        return True
    source = getattr(event, "source", None)
    return (
        isinstance(event, nio.BadEvent | nio.UnknownBadEvent)
        and isinstance(source, dict)
        and source.get("type") == "m.room.message"
    )


def _redacts(event: Any) -> str | None:
    """The event a redaction removes (top level before room version 11, in content since)."""
    source = getattr(event, "source", None)
    if not isinstance(source, dict) or source.get("type") != "m.room.redaction":
        return None
    content = source.get("content")
    target = source.get("redacts") or (
        content.get("redacts") if isinstance(content, dict) else None
    )
    return target if isinstance(target, str) else None


def _is_live_location(event: Any) -> bool:
    """A live-location share starting (beacon_info state, MSC3672): refused, with a notice."""
    source = getattr(event, "source", None)
    if not isinstance(source, dict) or "beacon_info" not in str(source.get("type")):
        return False
    content = source.get("content")
    return isinstance(content, dict) and content.get("live") is True
