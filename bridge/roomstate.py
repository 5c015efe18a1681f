"""Room state on demand, so that a restart does not wait for a full-state sync of every room.

nio keeps no room state across restarts, only which rooms are encrypted (`encrypted_rooms` in
its store). A full-state first sync gives it everything, but with 1,000 member rooms Synapse
needs 5-9 s to compute it (measured with `bench/`), and the bot relays nothing meanwhile. So
after a restart the first sync is incremental, and each room the bot acts in gets its state
fetched once (`GET /rooms/{id}/state`) before its first use: the outbox, broadcast deliveries
and provisioning ask `RoomStates.ensure` first.

A room that nio creates from an incremental sync is already marked encrypted when nio's store
knows it was, so nothing is ever sent in clear; what it lacks (members, power levels) is what
`ensure` loads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import nio

from bridge import keys

log = logging.getLogger(__name__)


class RoomStates:
    """Which of the client's rooms still lack their state, and loading it when needed."""

    def __init__(self) -> None:
        self._on_demand = False
        self._loaded: set[str] = set()

    def after_incremental_start(self) -> None:
        """The first sync was incremental: from now on a room's state is trusted only once it
        was loaded here (a room nio first meets in an incremental sync carries none)."""
        self._on_demand = True

    @property
    def on_demand(self) -> bool:
        """Whether the bot started incrementally and loads room state when first needed."""
        return self._on_demand

    async def ensure_all(
        self, client: nio.AsyncClient, room_ids: list[str], concurrency: int
    ) -> None:
        """Load the state of many rooms (a broadcast's), `concurrency` at a time, then ask for
        their members' device keys in one query. Failures are left to each room's own send."""
        semaphore = asyncio.Semaphore(max(1, concurrency))

        async def one(room_id: str) -> None:
            async with semaphore:
                with contextlib.suppress(ConnectionError):
                    await self.ensure(client, room_id, query_keys=False)

        await asyncio.gather(*(one(room_id) for room_id in room_ids))
        if client.should_query_keys:
            await keys.query_keys(client)

    def loaded(self, room_id: str) -> bool:
        """Whether this room's state was loaded on demand."""
        return room_id in self._loaded

    async def ensure(
        self, client: nio.AsyncClient, room_id: str, *, query_keys: bool = True
    ) -> bool:
        """Make sure nio knows `room_id` with its state; False if the bot is not joined to it.

        After a full-state start nio's own rooms are complete; after an incremental start each
        room's state is fetched once. A failed fetch raises, so a send is retried later rather
        than made into a room nio knows too little about. With `query_keys` False the caller
        asks for the members' device keys itself, once for many rooms.
        """
        if room_id in client.rooms and (not self._on_demand or room_id in self._loaded):
            return True
        response = await client.room_get_state(room_id)
        if not isinstance(response, nio.RoomGetStateResponse):
            if getattr(response, "status_code", None) in ("M_FORBIDDEN", "M_NOT_FOUND"):
                return False  # left, kicked, or never there
            raise ConnectionError(
                f"fetching a room's state failed: {getattr(response, 'status_code', '?')}"
            )
        events = [nio.Event.parse_event(raw) for raw in response.events]
        membership = next(
            (
                e.membership
                for e in events
                if isinstance(e, nio.RoomMemberEvent) and e.state_key == client.user_id
            ),
            None,
        )
        if membership != "join":
            return False
        room = client.rooms.get(room_id)
        if room is None:
            room = nio.MatrixRoom(room_id, client.user_id, room_id in client.encrypted_rooms)
            client.rooms[room_id] = room
        for event in events:
            if isinstance(event, nio.RoomMemberEvent):
                room.handle_membership(event)
            elif isinstance(event, nio.Event):
                room.handle_event(event)
            if isinstance(event, nio.RoomEncryptionEvent) and room_id not in client.encrypted_rooms:
                client.encrypted_rooms.add(room_id)
                if client.store is not None:
                    client.store.save_encrypted_rooms({room_id})
        room.members_synced = True
        if room.encrypted and client.olm is not None:
            client.olm.update_tracked_users(room)
            if query_keys and client.should_query_keys:
                await keys.query_keys(client)
        self._loaded.add(room_id)
        log.debug("loaded the state of a room on demand")
        return True
