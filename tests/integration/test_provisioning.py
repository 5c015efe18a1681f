"""Provisioning against a real Synapse: each wijk's three rooms, who is in them, who may post."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from bridge import provision
from bridge.homeserver import EmbeddedHomeserver
from bridge.provision import ProvisionReport
from tests.conftest import MakeAccount
from tests.integration.harness import World, client_api, running_world

pytestmark = pytest.mark.integration

ROOM_NAMES = {
    "desk": "BIN Wijk {} · Coördinatoren",
    "police": "BIN Wijk {} · Politie & gemeente",
    "wijk": "BIN Wijk {} · Wijkberichten",
}


async def room_state(world: World, room_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The room's current state as the bot sees it: (type, state_key) -> content."""
    token = world.bridge.client.access_token if world.bridge.client else ""
    status, events = await client_api(
        world.homeserver.url, token, "GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/state"
    )
    assert status == 200, events
    return {(e["type"], e["state_key"]): e["content"] for e in events}


def members(state: dict[tuple[str, str], dict[str, Any]], membership: str) -> set[str]:
    return {
        key
        for (kind, key), content in state.items()
        if kind == "m.room.member" and content.get("membership") == membership
    }


async def test_each_wijk_gets_three_encrypted_invite_only_rooms_with_dutch_names_and_its_people(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        wijk = world.settings.wijk("oost")
        assert wijk is not None
        coordinators = set(wijk.coordinators)
        police = set(wijk.police)
        bot = world.settings.bot.user_id

        for role, name in ROOM_NAMES.items():
            state = await room_state(world, world.room("oost", role))
            assert state[("m.room.encryption", "")]["algorithm"] == "m.megolm.v1.aes-sha2"
            assert state[("m.room.join_rules", "")]["join_rule"] == "invite"
            assert state[("m.room.guest_access", "")]["guest_access"] == "forbidden"
            assert state[("m.room.name", "")]["name"] == name.format("Oost")
            assert "Wijk Oost" in state[("m.room.topic", "")]["topic"]
            assert state[("m.room.create", "")]["room_version"] == "12"
            people = coordinators | police if role == "police" else coordinators
            # The staff's clients accepted their invites when the world started.
            assert members(state, "join") == people | {bot}, role
            assert members(state, "invite") == set(), role

        topics = {
            role: (await room_state(world, world.room("oost", role)))[("m.room.topic", "")]
            for role in ROOM_NAMES
        }
        assert topics["desk"]["topic"].startswith("Meldingen van leden uit Wijk Oost")
        assert topics["police"]["topic"].startswith("Berichten van politie en gemeente")
        assert topics["wijk"]["topic"].startswith("Berichten van de coördinatoren")


async def test_only_coordinators_and_the_bot_may_post_in_the_wijk_room(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        wijk = world.settings.wijk("oost")
        assert wijk is not None
        bot = world.settings.bot.user_id
        expected_users = dict.fromkeys(wijk.coordinators, 50)

        levels = {
            role: (await room_state(world, world.room("oost", role)))[("m.room.power_levels", "")]
            for role in ROOM_NAMES
        }
        # Room version 12: the creator (the bot) has unlimited power and is never listed.
        for role, content in levels.items():
            assert content["users"] == expected_users, role
            assert bot not in content["users"]
            assert content["users_default"] == 0
            assert content["state_default"] == 100
            assert content["invite"] == 100
        # events_default 50: a police officer or any power-level-0 account cannot post in the
        # wijk room, whatever the event type (in an encrypted room it is m.room.encrypted).
        assert levels["wijk"]["events_default"] == 50
        assert levels["desk"]["events_default"] == 0
        assert levels["police"]["events_default"] == 0
        for police_officer in wijk.police:
            assert levels["wijk"]["users"].get(police_officer, 0) == 0


async def test_a_restart_on_the_same_data_dir_creates_and_invites_nothing(
    homeserver: EmbeddedHomeserver,
    make_account: MakeAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reports: list[ProvisionReport] = []
    original = provision.reconcile

    async def recording(*args: Any, **kwargs: Any) -> ProvisionReport:
        report = await original(*args, **kwargs)
        reports.append(report)
        return report

    monkeypatch.setattr(provision, "reconcile", recording)
    async with running_world(homeserver, make_account, tmp_path) as world:
        rooms_before = {role: world.room("oost", role) for role in ROOM_NAMES}
        assert len(reports) == 1
        assert sorted(reports[0].created) == ["oost/desk", "oost/police", "oost/wijk"]

        await world.restart_bot()

        assert len(reports) == 2
        assert reports[1] == ProvisionReport()
        assert not reports[1].changed
        assert {role: world.room("oost", role) for role in ROOM_NAMES} == rooms_before
        # Nobody got a new invite: every staff client is still in exactly its rooms.
        for user in [*world.coordinators.values(), *world.police.values()]:
            await user.sync()
            assert user.client.invited_rooms == {}
        assert set(world.coordinator("oost").client.rooms) == set(rooms_before.values())


async def test_two_wijken_get_separate_rooms_and_their_coordinators_stay_apart(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path, wijken=("oost", "west")) as world:
        oost, west = world.settings.wijk("oost"), world.settings.wijk("west")
        assert oost is not None and west is not None
        room_ids = {
            (slug, role): world.room(slug, role) for slug in ("oost", "west") for role in ROOM_NAMES
        }
        assert len(set(room_ids.values())) == 6

        for (slug, role), room_id in room_ids.items():
            state = await room_state(world, room_id)
            assert state[("m.room.name", "")]["name"] == ROOM_NAMES[role].format(slug.capitalize())
            present = members(state, "join") | members(state, "invite")
            other = west if slug == "oost" else oost
            assert not present & set(other.coordinators), (slug, role)
            assert not present & set(other.police), (slug, role)
            mine = oost if slug == "oost" else west
            assert set(mine.coordinators) <= present

        # A coordinator's client sees exactly their own wijk's rooms.
        for slug, wijk in (("oost", oost), ("west", west)):
            for user_id in wijk.coordinators:
                joined = set(world.coordinators[user_id].client.rooms)
                assert joined == {room_ids[(slug, role)] for role in ROOM_NAMES}
            for user_id in wijk.police:
                assert set(world.police[user_id].client.rooms) == {room_ids[(slug, "police")]}
