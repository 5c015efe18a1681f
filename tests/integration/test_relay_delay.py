"""The optional random relay delay: a member's message waits, its conversation keeps its order,
and other members are not held up."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bridge.homeserver import EmbeddedHomeserver
from tests.conftest import MakeAccount
from tests.integration.harness import running_world

DELAY_S = 4.0


async def test_a_delayed_report_keeps_its_order_and_does_not_hold_up_others(
    homeserver: EmbeddedHomeserver,
    make_account: MakeAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with running_world(
        homeserver, make_account, tmp_path, max_delay_seconds=DELAY_S
    ) as world:
        slow = await world.signed_up_member(make_account, "oost")
        fast = await world.signed_up_member(make_account, "oost")
        anna = world.coordinator("oost")
        desk = world.room("oost", "desk")
        # The delay is random; the test makes it the longest for one member and none for the other.
        delays = iter([DELAY_S, DELAY_S, 0.0])
        monkeypatch.setattr("bridge.relay.random.uniform", lambda a, b: next(delays))

        sent = time.monotonic()
        await slow.user.say(slow.private_room, "Vertraagde melding")
        await slow.user.say(slow.private_room, "Vertraagd vervolg")
        await fast.user.say(fast.private_room, "Snelle melding van iemand anders")
        await anna.wait_for_event(
            lambda e: (
                e.room_id == desk and e.fields.get("text") == "Snelle melding van iemand anders"
            ),
            what="the other member's report",
        )
        assert time.monotonic() - sent < DELAY_S, "another member's report was held up"
        assert not any(e.fields.get("text") == "Vertraagde melding" for e in anna.events)

        root = await anna.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("text") == "Vertraagde melding",
            what="the delayed report",
        )
        assert time.monotonic() - sent >= DELAY_S - 0.5
        follow = await anna.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("text") == "Vertraagd vervolg",
            what="its follow-up",
        )
        assert follow.content["m.relates_to"]["event_id"] == root.event_id
