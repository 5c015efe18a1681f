"""Exactly once at the edges: long backlogs, and sends older than the de-duplication window."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bridge.homeserver import EmbeddedHomeserver
from bridge.store import Store
from tests.conftest import MakeAccount
from tests.integration.harness import running_world
from tests.integration.test_restart import desk_copies, wait_until_relayed

pytestmark = pytest.mark.integration


async def test_a_backlog_longer_than_the_sync_timeline_is_fetched_and_relayed_once_in_order(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path, rate_limit_per_minute=1000) as w:
        member = await w.signed_up_member(make_account, "oost")
        await w.stop_bot()
        texts = [f"Achterstand {i:02d}: rommel op straat" for i in range(60)]  # limit is 50
        for text in texts:
            await member.user.say(member.private_room, text)

        await w.start_bot()
        await wait_until_relayed(w, texts)

        coordinator = w.coordinator("oost")
        desk = w.room("oost", "desk")
        relayed = [e.fields["text"] for e in coordinator.in_room(desk) if "text" in e.fields]
        assert relayed == texts  # 60 of 60, each once, in the order they were sent
        assert w.bridge.gaps_filled >= 1


async def test_a_pending_send_older_than_a_day_is_looked_up_among_own_events_not_resent(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        member = await world.signed_up_member(make_account, "oost")
        desk = world.room("oost", "desk")
        text = "Al verstuurd, maar de bot weet het niet meer"
        await member.user.say(member.private_room, text)
        await wait_until_relayed(world, [text])
        (sent,) = [s for s in world.sent_to(desk) if s.fields.get("text") == text]
        await world.stop_bot()

        # As if the bot crashed right after the homeserver accepted the send, 25 hours ago:
        # the homeserver no longer de-duplicates that transaction id.
        store = Store(world.settings.bot.data_dir / "bridge.db")
        with store.transaction() as db:
            db.execute(
                "INSERT INTO outbox(txn_id, room_id, event_type, content, created_at) "
                "VALUES(?,?,?,?,?)",
                (
                    sent.txn_id,
                    desk,
                    "m.room.message",
                    json.dumps(sent.content),
                    time.time() - 25 * 3600,
                ),
            )
        store.close()
        before = len(world.sent)

        await world.start_bot()
        await world.coordinator("oost").sync(wait_ms=1000)

        assert world.bridge.store.pending_sends() == []
        assert [s for s in world.sent[before:] if s.txn_id == sent.txn_id] == []
        assert len(desk_copies(world.coordinator("oost"), desk, text)) == 1
