"""Wijk broadcasts publish, preview, confirm, fan-out, count, reactions, late members."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from bridge import broadcasts
from bridge.homeserver import EmbeddedHomeserver
from bridge.leakscan import MemberTrace, assert_no_leaks
from tests.conftest import MakeAccount
from tests.integration.harness import Member, World, running_world

TEXT = "Let op: er gaan babbeltrucs rond in de wijk. Laat niemand binnen die je niet kent."


async def publish(world: World, text: str, expect_count: int) -> str:
    """A coordinator publishes in the wijk room and confirms; returns the W-number."""
    coordinator = world.coordinator("oost")
    room = world.room("oost", "wijk")
    await coordinator.say(room, f"!publiceer waarschuwing: {text}")
    preview = await coordinator.wait_for_event(
        lambda e: e.room_id == room and "Voorbeeld" in e.body and text in e.body,
        what="the preview",
    )
    members = "lid" if expect_count == 1 else "leden"
    assert f"gaat naar {expect_count} {members}" in preview.body
    label = str(preview.fields["report"])
    await coordinator.say(room, "!ja")
    return label


async def wait_done(world: World, label: str, timeout: float = 120) -> str:  # noqa: ASYNC109
    coordinator = world.coordinator("oost")
    room = world.room("oost", "wijk")
    done = await coordinator.wait_for_event(
        lambda e: e.room_id == room and f"{label}: afgeleverd aan" in e.body,
        timeout=timeout,
        what="the delivery count",
    )
    return done.body


def broadcasts_in(member: Member) -> list[dict[str, object]]:
    return [
        e.fields
        for e in member.user.in_room(member.private_room)
        if e.fields.get("kind") == "broadcast"
    ]


async def test_a_confirmed_broadcast_reaches_every_member_once_and_chat_is_never_broadcast(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path, broadcast_undo_seconds=1) as world:
        members = [await world.signed_up_member(make_account, "oost") for _ in range(3)]
        coordinator = world.coordinator("oost")
        wijk_room = world.room("oost", "wijk")

        await coordinator.say(wijk_room, "Zullen we de waarschuwing van de politie doorsturen?")
        label = await publish(world, TEXT, expect_count=3)
        assert label == "W-0001"
        assert "afgeleverd aan 3 van 3" in await wait_done(world, label)

        for member in members:
            await member.user.wait_for(lambda m=member: broadcasts_in(m), what="the broadcast")
            for _ in range(2):
                await member.user.sync(wait_ms=200)
            received = broadcasts_in(member)
            assert len(received) == 1, received
            assert received[0]["report"] == "W-0001"
            assert received[0]["text"] == TEXT
            event = next(
                e
                for e in member.user.in_room(member.private_room)
                if e.fields.get("kind") == "broadcast"
            )
            assert event.body.startswith("Bericht van je BIN-coördinator · W-0001 · waarschuwing")
            assert coordinator.user_id not in str(event.source)
            assert event.content["m.mentions"] == {}
        # The coordinators' chat line was never delivered to anyone.
        for member in members:
            assert all("doorsturen?" not in e.body for e in member.user.events)

        # A member who signs up later receives the recent broadcast too.
        late = await world.signed_up_member(make_account, "oost")
        await late.user.wait_for(lambda: broadcasts_in(late), what="the recent broadcast")
        assert broadcasts_in(late)[0]["report"] == "W-0001"


async def test_a_reply_to_a_broadcast_arrives_in_the_desk_as_a_reaction_without_identifiers(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path, broadcast_undo_seconds=0) as world:
        member = await world.signed_up_member(make_account, "oost")
        label = await publish(world, TEXT, expect_count=1)
        await wait_done(world, label)
        delivered = await member.user.wait_for_event(
            lambda e: e.room_id == member.private_room and e.fields.get("kind") == "broadcast",
            what="the broadcast",
        )
        reply_id = await member.user.send(
            member.private_room,
            {
                "msgtype": "m.text",
                "body": f"> <{world.settings.bot.user_id}> Bericht van je BIN-coördinator\n\n"
                "Ik zag gisteren zo iemand bij nummer 8",
                "m.relates_to": {"m.in_reply_to": {"event_id": delivered.event_id}},
            },
        )
        desk = world.room("oost", "desk")
        coordinator = world.coordinator("oost")
        reaction = await coordinator.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("reaction_to") == "W-0001",
            what="the reaction in the desk",
        )
        assert reaction.fields["kind"] == "report"
        assert reaction.fields["text"] == "Ik zag gisteren zo iemand bij nummer 8"
        assert reaction.body.startswith("Reactie op W-0001 · M-0001 · ")
        assert "m.relates_to" not in reaction.content

        display = member.user.client.rooms[member.private_room].user_name(member.user_id)
        trace = MemberTrace(
            user_id=member.user_id,
            display_name=display if display != member.user_id else None,
            room_ids=[member.private_room, member.dm_room],
            event_ids=[reply_id, delivered.event_id],
        )
        outside = [s.content for s in world.sent if s.room_id != member.private_room]
        assert_no_leaks(outside, trace)


async def test_a_broadcast_to_fifty_members_is_delivered_to_all_of_them(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path, broadcast_undo_seconds=0) as world:
        members: list[Member] = []
        for _ in range(10):  # sign up in small batches: the bot greets one DM at a time
            members += await asyncio.gather(
                *(world.signed_up_member(make_account, "oost") for _ in range(5))
            )
        started = time.monotonic()
        label = await publish(world, TEXT, expect_count=50)
        summary = await wait_done(world, label, timeout=180)
        elapsed = time.monotonic() - started
        assert "afgeleverd aan 50 van 50" in summary
        print(f"\n50-member broadcast: {elapsed:.1f} s from publish to count")
        for member in members:
            await member.user.wait_for(lambda m=member: broadcasts_in(m), what="the broadcast")
            assert len(broadcasts_in(member)) == 1


async def test_a_broadcast_being_delivered_reports_its_progress_in_the_wijk_room(
    homeserver: EmbeddedHomeserver,
    make_account: MakeAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One member room at a time, each delivery held up a little as by a slow homeserver, and a
    # short interval: delivery outlasts several intervals however fast the machine is.
    monkeypatch.setattr(broadcasts, "PROGRESS_EVERY_S", 0.05)
    send_one = broadcasts.BroadcastRunner._send_one
    one_at_a_time = asyncio.Lock()

    async def slow_send_one(self: broadcasts.BroadcastRunner, *args: Any) -> None:
        async with one_at_a_time:  # 0.1 s, 0.2 s, ... before each member's delivery
            await asyncio.sleep(0.1)
        await send_one(self, *args)

    monkeypatch.setattr(broadcasts.BroadcastRunner, "_send_one", slow_send_one)
    async with running_world(
        homeserver, make_account, tmp_path, broadcast_undo_seconds=0, broadcast_concurrency=1
    ) as world:
        members = [await world.signed_up_member(make_account, "oost") for _ in range(5)]
        label = await publish(world, TEXT, expect_count=5)
        assert "afgeleverd aan 5 van 5" in await wait_done(world, label)

        wijk_room = world.room("oost", "wijk")
        notices = [
            e
            for e in world.coordinator("oost").in_room(wijk_room)
            if e.sender == world.settings.bot.user_id and e.fields.get("report") == label
        ]
        phases = [str(e.fields.get("phase")) for e in notices]
        progress = [e for e in notices if e.fields.get("phase") == "progress"]
        assert progress, phases
        # Only between the start line and the count, never after "done".
        assert phases.index("sending") < phases.index("progress")
        assert phases[-1] == "done" and phases.count("done") == 1
        reached = [int(e.fields["delivered"]) for e in progress]
        assert reached == sorted(reached)
        for e in progress:
            assert e.fields["total"] == 5 and 0 <= e.fields["delivered"] < 5
            assert e.body == f"{label}: {e.fields['delivered']} van 5 leden bereikt…"
        for member in members:  # informative only: still exactly one copy each
            await member.user.wait_for(lambda m=member: broadcasts_in(m), what="the broadcast")
            assert len(broadcasts_in(member)) == 1
