"""Exactly once across restarts and crashes: no member message is lost or relayed twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nio
import pytest

from bridge.bot import Bridge
from bridge.homeserver import EmbeddedHomeserver
from bridge.store import PendingSend, Store
from tests.conftest import MakeAccount
from tests.integration.harness import (
    Member,
    Received,
    User,
    World,
    running_world,
    wijk_settings,
)

pytestmark = pytest.mark.integration


class Crash(BaseException):
    """The process dies here: nothing in the bot may catch it (it is no Exception)."""


def desk_copies(coordinator: User, desk: str, text: str) -> list[Received]:
    """The bot's events in the desk that carry this member text."""
    return [e for e in coordinator.in_room(desk) if e.fields.get("text") == text]


async def wait_until_relayed(world: World, texts: list[str]) -> None:
    """Until the coordinator has seen every text in the desk, then one more sync for stragglers."""
    coordinator = world.coordinator("oost")
    desk = world.room("oost", "desk")
    await coordinator.wait_for(
        lambda: all(desk_copies(coordinator, desk, text) for text in texts),
        what=f"{texts} in the desk",
    )
    await coordinator.sync(wait_ms=300)


async def confirmations(member: Member, count: int) -> list[Received]:
    """Wait until the member has `count` delivery confirmations; return them."""

    def found() -> list[Received]:
        return [
            e
            for e in member.user.in_room(member.private_room)
            if "afgeleverd" in e.body.lower() and e.fields.get("kind") == "notice"
        ]

    await member.user.wait_for(lambda: len(found()) >= count, what=f"{count} confirmations")
    await member.user.sync(wait_ms=300)
    return found()


async def test_every_message_reaches_the_desk_exactly_once_across_a_clean_restart(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        member = await world.signed_up_member(make_account, "oost")
        coordinator = world.coordinator("oost")
        desk = world.room("oost", "desk")
        before = [f"Voor de herstart {i}: verdachte bus" for i in (1, 2)]
        during = [f"Terwijl de bot weg is {i}" for i in (1, 2)]
        after = ["Na de herstart: de bus staat er nog"]

        for text in before:
            await member.user.say(member.private_room, text)
        await wait_until_relayed(world, before)
        await world.stop_bot()
        for text in during:
            await member.user.say(member.private_room, text)
        await world.start_bot()
        for text in after:
            await member.user.say(member.private_room, text)
        await wait_until_relayed(world, before + during + after)

        texts = before + during + after
        for text in texts:
            assert len(desk_copies(coordinator, desk, text)) == 1, text
            assert len([s for s in world.sent_to(desk) if s.fields.get("text") == text]) == 1
        kinds = [e.fields["kind"] for e in coordinator.in_room(desk) if e.fields.get("text")]
        assert kinds == ["report"] + ["member_message"] * 4
        assert [e.fields["text"] for e in coordinator.in_room(desk) if e.fields.get("text")] == (
            texts
        )
        assert len(await confirmations(member, len(texts))) == len(texts)

        # The conversation mapping survived: an answer in the thread still reaches the member.
        root = desk_copies(coordinator, desk, before[0])[0]
        await coordinator.reply_in_thread(desk, root.event_id, "We sturen iemand langs.")
        answer = await member.user.wait_for_event(
            lambda e: e.room_id == member.private_room and e.fields.get("kind") == "answer",
            what="the answer after the restart",
        )
        assert answer.fields["report"] == "M-0001"
        assert "We sturen iemand langs." in answer.body


async def test_a_send_the_homeserver_accepted_just_before_a_crash_is_resent_once_with_its_txn_id(
    homeserver: EmbeddedHomeserver,
    make_account: MakeAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    doomed = "Dit bericht valt samen met een crash"
    original = Store.complete_send
    crashed: list[PendingSend] = []

    def crash_once(store: Store, send: PendingSend, event_id: str) -> None:
        if not crashed and send.content.get("nl.bin", {}).get("text") == doomed:
            crashed.append(send)
            raise Crash  # the homeserver has the event; the bot never wrote that down
        original(store, send, event_id)

    monkeypatch.setattr(Store, "complete_send", crash_once)
    async with running_world(homeserver, make_account, tmp_path) as world:
        member = await world.signed_up_member(make_account, "oost")
        coordinator = world.coordinator("oost")
        desk = world.room("oost", "desk")

        await member.user.say(member.private_room, doomed)
        ended = await world.bot_ended()
        assert isinstance(ended, Crash)
        assert len(crashed) == 1
        store = Store(world.settings.bot.data_dir / "bridge.db")
        pending = store.pending_sends()
        store.close()
        assert [p.txn_id for p in pending if p.room_id == desk] == [crashed[0].txn_id]

        await world.start_bot()
        await wait_until_relayed(world, [doomed])
        follow_up = "En nog iets na de crash"
        await member.user.say(member.private_room, follow_up)
        await wait_until_relayed(world, [doomed, follow_up])

        copies = desk_copies(coordinator, desk, doomed)
        assert len(copies) == 1
        attempts = [s for s in world.sent_to(desk) if s.fields.get("text") == doomed]
        assert [s.txn_id for s in attempts] == [crashed[0].txn_id] * 2
        assert len(await confirmations(member, 2)) == 2
        # The resent root was recorded: the follow-up sits in its thread.
        (follow,) = desk_copies(coordinator, desk, follow_up)
        assert follow.content["m.relates_to"]["event_id"] == copies[0].event_id
        assert world.bridge.store.pending_sends() == []


async def test_a_restart_that_provisions_a_new_wijk_keeps_the_sync_position_moving_forward(
    homeserver: EmbeddedHomeserver,
    make_account: MakeAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    positions: list[tuple[str | None, str]] = []
    original_loop = Bridge._loop

    async def recording_loop(bridge: Bridge, client: nio.AsyncClient, stop: asyncio.Event) -> None:
        positions.append((bridge.store.sync_token, client.next_batch))
        await original_loop(bridge, client, stop)

    monkeypatch.setattr(Bridge, "_loop", recording_loop)
    async with running_world(homeserver, make_account, tmp_path) as world:
        member = await world.signed_up_member(make_account, "oost")
        await world.stop_bot()
        during = [f"Tijdens de uitbreiding {i}" for i in (1, 2, 3)]
        for text in during:
            await member.user.say(member.private_room, text)
        world.settings = world.settings.model_copy(
            update={"wijken": [*world.settings.wijken, wijk_settings("west", [], [])]}
        )

        await world.start_bot()

        assert world.bridge.store.wijk_room("west", "desk") is not None
        # When the loop starts, the stored position is the newest one the client synced to.
        assert len(positions) == 2
        assert positions[1][0] == positions[1][1]
        await wait_until_relayed(world, during)
        coordinator = world.coordinator("oost")
        desk = world.room("oost", "desk")
        relayed = [e.fields["text"] for e in coordinator.in_room(desk) if e.fields.get("text")]
        assert relayed == during


async def test_after_a_restart_rooms_get_their_state_on_demand_and_nothing_goes_out_in_clear(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    """The first sync after a restart is incremental (a full-state sync of every room would hold
    up the backlog): a room that sync did not mention still gets its answer and its broadcast,
    and every message the bot sends after the restart travels encrypted."""
    async with running_world(homeserver, make_account, tmp_path, broadcast_undo_seconds=0) as world:
        quiet = await world.signed_up_member(make_account, "oost", "stil")
        talker = await world.signed_up_member(make_account, "oost", "prater")
        coordinator = world.coordinator("oost")
        desk = world.room("oost", "desk")
        wijk = world.room("oost", "wijk")
        report = "Mijn fiets is gestolen bij het station"
        await quiet.user.say(quiet.private_room, report)
        await wait_until_relayed(world, [report])
        root = desk_copies(coordinator, desk, report)[0]

        await world.stop_bot()
        while_away = "Terwijl de bot weg is: een inbraak in de Dorpsstraat"
        await talker.user.say(talker.private_room, while_away)
        await world.start_bot()
        rooms = world.bridge.rooms
        assert rooms.on_demand
        assert not rooms.loaded(quiet.private_room)
        await wait_until_relayed(world, [while_away])
        assert len(desk_copies(coordinator, desk, while_away)) == 1

        # The quiet member's room was not in the first sync: the answer still reaches them.
        await coordinator.reply_in_thread(desk, root.event_id, "Dank, we kijken ernaar.")
        answer = await quiet.user.wait_for_event(
            lambda e: e.room_id == quiet.private_room and e.fields.get("kind") == "answer",
            what="the answer after the restart",
        )
        assert "Dank, we kijken ernaar." in answer.body
        assert rooms.loaded(quiet.private_room)

        # A broadcast reaches both members, each once.
        await coordinator.say(wijk, "!publiceer waarschuwing: Let op babbeltrucs in de wijk.")
        await coordinator.wait_for_event(
            lambda e: e.room_id == wijk and "gaat naar 2 leden" in e.body, what="the preview"
        )
        await coordinator.say(wijk, "!ja")
        await coordinator.wait_for_event(
            lambda e: e.room_id == wijk and "afgeleverd aan 2 van 2" in e.body,
            what="the delivery count",
        )
        for member in (quiet, talker):
            await member.user.wait_for(
                lambda m=member: [
                    e for e in m.user.in_room(m.private_room) if e.fields.get("kind") == "broadcast"
                ],
                what="the broadcast",
            )
            copies = [
                e
                for e in member.user.in_room(member.private_room)
                if e.fields.get("kind") == "broadcast"
            ]
            assert len(copies) == 1

        # Read back from the homeserver: every message of the bot in these rooms was encrypted.
        bot = world.settings.bot.user_id
        checked = 0
        for user, room_id in (
            (quiet.user, quiet.private_room),
            (talker.user, talker.private_room),
            (coordinator, desk),
            (coordinator, wijk),
        ):
            page = await user.client.room_messages(room_id, start=user.client.next_batch, limit=200)
            assert isinstance(page, nio.RoomMessagesResponse), page
            messages = [
                e
                for e in page.chunk
                if e.sender == bot and isinstance(e, nio.RoomMessage | nio.MegolmEvent)
            ]
            assert messages, room_id
            for event in messages:
                assert isinstance(event, nio.MegolmEvent) or event.decrypted, type(event)
            checked += len(messages)
        assert checked >= 10
