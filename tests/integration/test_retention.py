"""Retention: an expired report is redacted from the desk and police rooms and unlinked."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import nio

from bridge.homeserver import EmbeddedHomeserver
from tests.conftest import MakeAccount
from tests.integration.harness import running_world

RETENTION_S = 8.0


async def test_after_the_retention_period_a_report_is_redacted_and_its_mapping_deleted(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(
        homeserver, make_account, tmp_path, retention_days=RETENTION_S / 86400
    ) as world:
        member = await world.signed_up_member(make_account, "oost")
        anna = world.coordinator("oost")
        officer = next(iter(world.police.values()))
        desk = world.room("oost", "desk")
        police_room = world.room("oost", "police")

        started = time.monotonic()
        await member.user.say(member.private_room, "Melding die na de bewaartermijn verdwijnt")
        report = await anna.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("kind") == "report", what="the report"
        )
        await anna.reply_in_thread(desk, report.event_id, "!doorsturen Melding voor de politie")
        forward = await officer.wait_for_event(
            lambda e: e.room_id == police_room and e.fields.get("kind") == "forward",
            what="the forward",
        )
        store = world.bridge.store
        assert store.query_one("SELECT COUNT(*) FROM conversations")[0] == 1  # type: ignore[index]

        await asyncio.sleep(max(0.0, RETENTION_S + 1 - (time.monotonic() - started)))
        world.bridge._last_escalation = 0.0  # run the housekeeping with the next batch
        await member.user.say(member.private_room, "!naam")

        async def redacted(user_client: nio.AsyncClient, room: str, event_id: str) -> bool:
            response = await user_client.room_get_event(room, event_id)
            return isinstance(response, nio.RoomGetEventResponse) and not response.event.source.get(
                "content"
            )

        for _ in range(60):
            if await redacted(anna.client, desk, report.event_id) and await redacted(
                officer.client, police_room, forward.event_id
            ):
                break
            await anna.sync(wait_ms=250)
        assert await redacted(anna.client, desk, report.event_id)
        assert await redacted(officer.client, police_room, forward.event_id)
        assert store.query_one("SELECT COUNT(*) FROM conversations")[0] == 0  # type: ignore[index]
        assert store.query_one("SELECT COUNT(*) FROM bot_events")[0] == 0  # type: ignore[index]
