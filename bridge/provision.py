"""Declarative provisioning: make each wijk's rooms, members and power levels match the config.

Idempotent: what exists is left alone, what is missing is created or invited. Runs after the
first sync, so the client knows which rooms it is in and who is in them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import nio

from bridge.i18n import t
from bridge.roomstate import RoomStates
from bridge.settings import BridgeSettings, WijkSettings
from bridge.store import Store

log = logging.getLogger(__name__)

ROLES = ("desk", "police", "wijk")
ENCRYPTION = {"algorithm": "m.megolm.v1.aes-sha2", "rotation_period_ms": 604800000}
COORDINATOR_LEVEL = 50
POLICE_LEVEL = 0


@dataclass
class ProvisionReport:
    """What a reconciliation run changed (empty on a second run)."""

    created: list[str] = field(default_factory=list)
    invited: list[str] = field(default_factory=list)
    power_levels: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    new_coordinators: dict[str, list[str]] = field(default_factory=dict)
    """Per wijk slug, coordinators invited to its desk in this run (they get summaries)."""

    @property
    def changed(self) -> bool:
        """Whether anything was created or changed."""
        return bool(self.created or self.invited or self.power_levels or self.removed)


def people(wijk: WijkSettings, role: str) -> list[str]:
    """Who belongs in a wijk room besides the bot."""
    if role == "police":
        return [*wijk.coordinators, *wijk.police]
    return list(wijk.coordinators)


def power_levels(wijk: WijkSettings, role: str, bot_user_id: str) -> dict[str, Any]:
    """Power levels for a wijk room.

    In room version 12 the creator (the bot) has unlimited power and must not be listed.
    Only the bot and coordinators may post in the wijk room (events_default 50): what is
    posted there is meant for every member.
    """
    users = {user: COORDINATOR_LEVEL for user in wijk.coordinators}
    return {
        "users": users,
        "users_default": 0,
        "events_default": COORDINATOR_LEVEL if role == "wijk" else 0,
        "state_default": 100,
        "invite": 100,
        "kick": 100,
        "ban": 100,
        "redact": COORDINATOR_LEVEL,
        "notifications": {"room": 100},
        "events": {
            "m.room.name": 100,
            "m.room.topic": 100,
            "m.room.power_levels": 100,
            "m.room.encryption": 100,
            "m.room.history_visibility": 100,
        },
    }


def private_room_power_levels() -> dict[str, Any]:
    """A member's private room: the member may talk, only the bot may change anything."""
    return {
        "users": {},
        "users_default": 0,
        "events_default": 0,
        "state_default": 100,
        "invite": 100,
        "kick": 100,
        "ban": 100,
        "redact": 100,
        "notifications": {"room": 100},
    }


def encrypted_room_state(history_visibility: str = "shared") -> list[dict[str, Any]]:
    """Initial state shared by every room the bot creates: encrypted, invite only."""
    return [
        {"type": "m.room.encryption", "state_key": "", "content": ENCRYPTION},
        {
            "type": "m.room.history_visibility",
            "state_key": "",
            "content": {"history_visibility": history_visibility},
        },
        {"type": "m.room.guest_access", "state_key": "", "content": {"guest_access": "forbidden"}},
        {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "invite"}},
    ]


async def reconcile(
    client: nio.AsyncClient, settings: BridgeSettings, store: Store, rooms: RoomStates
) -> ProvisionReport:
    """Create what is missing for every wijk; invite who is missing; fix power levels."""
    report = ProvisionReport()
    for wijk in settings.wijken:
        for role in ROLES:
            await _reconcile_room(client, settings, store, rooms, wijk, role, report)
    return report


async def _reconcile_room(
    client: nio.AsyncClient,
    settings: BridgeSettings,
    store: Store,
    rooms: RoomStates,
    wijk: WijkSettings,
    role: str,
    report: ProvisionReport,
) -> None:
    lang = settings.bot.language
    wanted_people = people(wijk, role)
    wanted_levels = power_levels(wijk, role, settings.bot.user_id)
    room_id = store.wijk_room(wijk.slug, role)
    if room_id is None or not await rooms.ensure(client, room_id):
        response = await client.room_create(
            name=t(f"room.{role}.name", lang, wijk=wijk.name),
            topic=t(f"room.{role}.topic", lang, wijk=wijk.name),
            invite=wanted_people,
            initial_state=encrypted_room_state(),
            power_level_override=wanted_levels,
        )
        if not isinstance(response, nio.RoomCreateResponse):
            raise RuntimeError(
                f"creating the {role} room of wijk {wijk.slug} failed: {response.message}"
            )
        store.set_wijk_room(wijk.slug, role, response.room_id)
        report.created.append(f"{wijk.slug}/{role}")
        log.info("created the %s room of wijk %s", role, wijk.slug)
        return

    room = client.rooms[room_id]
    present = set(room.users) | set(room.invited_users)
    for user in wanted_people:
        if user not in present:
            response = await client.room_invite(room_id, user)
            if isinstance(response, nio.RoomInviteResponse):
                report.invited.append(f"{wijk.slug}/{role}")
                if role == "desk" and user in wijk.coordinators:
                    report.new_coordinators.setdefault(wijk.slug, []).append(user)
            else:
                log.warning("inviting a contact to the %s room of %s failed", role, wijk.slug)
    # Whoever no longer belongs is removed, and the room key is rotated so that their
    # devices cannot read what is posted from now on.
    for user in sorted(present - set(wanted_people) - {settings.bot.user_id}):
        response = await client.room_kick(room_id, user, reason=t("room.removed", lang))
        if isinstance(response, nio.RoomKickResponse):
            report.removed.append(f"{wijk.slug}/{role}")
            client.invalidate_outbound_session(room_id)
        else:
            log.warning("removing a contact from the %s room of %s failed", role, wijk.slug)

    current = await client.room_get_state_event(room_id, "m.room.power_levels")
    if isinstance(current, nio.RoomGetStateEventResponse):
        levels = dict(current.content)
        if (
            levels.get("users", {}) != wanted_levels["users"]
            or levels.get("events_default") != wanted_levels["events_default"]
        ):
            levels.update(
                users=wanted_levels["users"], events_default=wanted_levels["events_default"]
            )
            await client.room_put_state(room_id, "m.room.power_levels", levels)
            report.power_levels.append(f"{wijk.slug}/{role}")
