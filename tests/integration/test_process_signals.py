"""The bot as a real process: SIGTERM while it relays, SIGKILL in the middle of a broadcast.

`python -m bridge run --config FILE` runs as a child process, as in production. SIGTERM must
end it cleanly and quickly even with sends in flight, and whatever was in flight is relayed
exactly once after the next start. A SIGKILL while a broadcast goes out to 50 members must
leave every member with exactly one copy once the bot is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from bridge.homeserver import Account, EmbeddedHomeserver
from bridge.leakscan import MemberTrace, assert_no_leaks
from tests.conftest import MakeAccount
from tests.integration.faults import READY_TIMEOUT_S
from tests.integration.harness import (
    BotProcess,
    Timeout,
    User,
    client_api,
    make_user,
    open_private_room,
    sign_up,
    wijk_settings,
    write_bot_config,
)

pytestmark = pytest.mark.integration

SIGTERM_BOUND_S = 10.0
"""A clean stop with sends in flight must not take longer than this."""


@dataclass
class ProcessWorld:
    """A bot process, its coordinator and police officer, and signed-up members."""

    bot: BotProcess
    bot_account: Account
    coordinator: User
    police: User
    members: list[tuple[User, str]] = field(default_factory=list)
    """(client, the bot's private room) per member."""
    desk: str = ""
    wijk_room: str = ""

    @property
    def data_dir(self) -> Path:
        return self.bot.data_dir

    def texts_in(self, room: str) -> Counter[str]:
        return Counter(
            str(e.fields["text"]) for e in self.coordinator.in_room(room) if "text" in e.fields
        )


@contextlib.asynccontextmanager
async def process_world(
    url: str, register: MakeAccount, tmp: Path, members: int, **relay: Any
) -> AsyncIterator[ProcessWorld]:
    bot_account = register("bin-bot", displayname="BIN")
    co_account = register("co-oost")
    police_account = register("politie-oost")
    wijk = wijk_settings("oost", [co_account.user_id], [police_account.user_id])
    config = write_bot_config(
        tmp / "bridge.toml",
        url,
        bot_account,
        tmp / "bot",
        [wijk],
        extra={"relay": {"rate_limit_per_minute": 100_000, **relay}},
    )
    bot = BotProcess(config, tmp / "bot", tmp / "bot.log")
    users: list[User] = []
    try:
        coordinator = await make_user(co_account, url, tmp / "co")
        police = await make_user(police_account, url, tmp / "police")
        users += [coordinator, police]
        bot.start()
        status = await bot.wait_ready(READY_TIMEOUT_S)
        world = ProcessWorld(bot, bot_account, coordinator, police)
        world.desk = str(status["wijken"]["oost"]["desk"])
        world.wijk_room = str(status["wijken"]["oost"]["wijk"])
        for user in (coordinator, police, coordinator, police):
            await user.sync()
        gate = asyncio.Semaphore(5)  # the bot greets one DM at a time

        async def join(i: int) -> tuple[User, str]:
            async with gate:
                account = register(f"lid{i}", displayname=f"Bewoner {i}")
                user = await make_user(account, url, tmp / "members" / str(i))
                users.append(user)
                _, private = await open_private_room(user, bot_account.user_id)
                await sign_up(user, private, wijk.join_code.get_secret_value())
                return user, private

        world.members = list(await asyncio.gather(*(join(i) for i in range(members))))
        yield world
    finally:
        bot.close()
        for user in users:
            await user.close()


async def keep_syncing(user: User, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await user.sync(wait_ms=1000)


def trace_of(user: User, private: str) -> MemberTrace:
    display = user.client.rooms[private].user_name(user.user_id)
    return MemberTrace(
        user_id=user.user_id,
        display_name=display if display != user.user_id else None,
        room_ids=[private],
    )


@pytest.mark.timeout(400)
async def test_sigterm_while_relaying_a_stream_exits_cleanly_and_nothing_is_lost_or_repeated(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    members, per_member, sigterms = 4, 60, 3
    rng = random.Random(20260602)
    async with process_world(homeserver.url, make_account, tmp_path, members) as world:
        bot = world.bot
        sent: list[str] = []
        stop_syncing = asyncio.Event()
        syncer = asyncio.create_task(keep_syncing(world.coordinator, stop_syncing))
        total = members * per_member
        exits: list[tuple[int, float, int, int]] = []
        """(exit code, seconds to exit, texts sent by then, texts the coordinator had seen)"""

        terminated = asyncio.Event()

        async def stream(index: int, user: User, room: str) -> None:
            """At least `per_member` messages, and on until the last SIGTERM has landed."""
            n = 0
            while n < per_member or not terminated.is_set():
                text = f"Stroom {index}-{n:02d}: fietsendief bij het station"
                sent.append(text)
                await user.say(room, text)
                n += 1
                await asyncio.sleep(rng.uniform(0.1, 0.4))

        async def backlog() -> tuple[int, int]:
            """(texts in the desk, texts sent) at a moment when one is still on its way.

            On a fast machine the bot can be all caught up at a random moment; a SIGTERM then
            would test nothing in flight, so wait (briefly) for a message to be under way.
            """
            deadline = time.monotonic() + 10
            while True:
                in_desk, sent_now = sum(world.texts_in(world.desk).values()), len(sent)
                if in_desk < sent_now or time.monotonic() > deadline:
                    return in_desk, sent_now
                await asyncio.sleep(0.01)

        async def terminator() -> None:
            for _ in range(sigterms):
                await asyncio.sleep(rng.uniform(1.0, 2.0))  # after (re)start, mid-stream
                in_desk, sent_now = await backlog()
                began = time.monotonic()
                code = bot.terminate(timeout=SIGTERM_BOUND_S)
                exits.append((code, time.monotonic() - began, sent_now, in_desk))
                await asyncio.sleep(0.5)  # members keep sending while it is down
                bot.start()
                await bot.wait_ready(READY_TIMEOUT_S)
            terminated.set()

        await asyncio.gather(
            terminator(), *(stream(i, u, r) for i, (u, r) in enumerate(world.members))
        )
        deadline = time.monotonic() + 120
        while not all(world.texts_in(world.desk)[t] for t in sent):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(3)  # a duplicate would arrive now
        stop_syncing.set()
        await syncer
        await world.coordinator.sync()
        desk = world.texts_in(world.desk)
        final_code = bot.terminate(timeout=SIGTERM_BOUND_S)
        print(
            "\nSIGTERMs (exit code, seconds, sent by then, seen in the desk by then): "
            f"{[(c, round(s, 2), n, d) for c, s, n, d in exits]}; "
            f"{len(sent)} sent, {sum(desk.values())} desk copies, "
            f"{sum(1 for t in sent if desk[t] == 1)} exactly once"
        )

        assert [code for code, *_ in exits] == [0, 0, 0]
        assert all(seconds < SIGTERM_BOUND_S for _, seconds, *_ in exits)
        assert all(seen < sent_now for _, _, sent_now, seen in exits)  # a backlog in flight
        assert final_code == 0
        assert len(sent) >= total == 240
        assert [t for t in sent if desk[t] != 1] == []
        assert sum(desk.values()) == len(sent)
        assert set(desk) == set(sent)
        desk_events = [e.source for e in world.coordinator.in_room(world.desk)]
        for user, private in world.members:
            assert_no_leaks(desk_events, trace_of(user, private))


def deliveries(data_dir: Path) -> list[tuple[str, str, str | None]]:
    """(room, txn id, event id or None) of every broadcast delivery, read beside the bot."""
    db = sqlite3.connect(f"file:{data_dir / 'bridge.db'}?mode=ro", uri=True, timeout=5)
    try:
        rows = db.execute("SELECT room_id, txn_id, event_id FROM deliveries").fetchall()
    except sqlite3.OperationalError:  # the table is being created
        rows = []
    finally:
        db.close()
    return [(str(r[0]), str(r[1]), r[2]) for r in rows]


async def copies_on_server(world: ProcessWorld, room: str) -> list[str]:
    """Transaction ids of the bot's broadcast deliveries that the homeserver holds in `room`.

    The homeserver shows an event's transaction id to the device that sent it, so this counts
    what reached the server, recorded by the bot or not.
    """
    status, body = await client_api(
        world.coordinator.client.homeserver,
        world.bot_account.access_token,
        "GET",
        f"/_matrix/client/v3/rooms/{quote(room)}/messages?dir=b&limit=200",
    )
    assert status == 200, body
    return [
        str(e["unsigned"]["transaction_id"])
        for e in body["chunk"]
        if e["sender"] == world.bot_account.user_id
        and str((e.get("unsigned") or {}).get("transaction_id", "")).startswith("bin-w-")
    ]


@pytest.mark.timeout(500)
async def test_a_sigkill_during_a_broadcast_to_fifty_members_leaves_each_with_exactly_one_copy(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    text = "Let op: er wordt aangebeld door valse meteropnemers. Vraag altijd om een pasje."
    async with process_world(
        homeserver.url, make_account, tmp_path, 50, broadcast_undo_seconds=0
    ) as world:
        bot, co = world.bot, world.coordinator
        await co.say(world.wijk_room, f"!publiceer waarschuwing: {text}")
        await co.wait_for_event(
            lambda e: e.room_id == world.wijk_room and "gaat naar 50 leden" in e.body,
            timeout=60,
            what="the preview",
        )
        await co.say(world.wijk_room, "!ja")

        # SIGKILL as soon as at least 5 deliveries are recorded, while the rest go out.
        deadline = time.monotonic() + 120
        while sum(1 for *_, event in deliveries(world.data_dir) if event) < 5:
            if time.monotonic() > deadline:
                raise Timeout("the broadcast did not start")
            await asyncio.sleep(0.01)
        bot.kill()
        before = deliveries(world.data_dir)
        recorded = sum(1 for *_, event in before if event)
        rooms = [private for _, private in world.members]
        on_server = [len(await copies_on_server(world, room)) for room in rooms]
        had_it = sum(1 for n in on_server if n)
        print(
            f"\nat the SIGKILL: {recorded} of {len(before)} deliveries recorded by the bot, "
            f"{had_it} of 50 members had their copy on the homeserver"
        )
        assert len(before) == 50
        assert 5 <= recorded <= had_it < 50  # the kill landed in the middle of the fan-out
        assert max(on_server) == 1

        bot.start()
        await bot.wait_ready(READY_TIMEOUT_S)
        done = await co.wait_for_event(
            lambda e: e.room_id == world.wijk_room and "W-0001: afgeleverd aan" in e.body,
            timeout=120,
            what="the delivery count",
        )
        assert "afgeleverd aan 50 van 50" in done.body
        after = deliveries(world.data_dir)
        assert sum(1 for *_, event in after if event) == 50
        txn_of = {room: txn for room, txn, _ in after}
        server_after = {room: await copies_on_server(world, room) for room in rooms}
        assert {room: copies for room, copies in server_after.items()} == {
            room: [txn_of[room]] for room in rooms
        }

        # And as the members see it, decrypted: one copy each.
        received: list[int] = []
        for user, private in world.members:
            await user.wait_for(
                lambda u=user, r=private: any(
                    e.fields.get("kind") == "broadcast" for e in u.in_room(r)
                ),
                timeout=60,
                what="the broadcast",
            )
            await user.sync(wait_ms=200)
            copies = [e for e in user.in_room(private) if e.fields.get("kind") == "broadcast"]
            assert all(c.fields.get("text") == text for c in copies)
            received.append(len(copies))
        print(f"after the restart: {received.count(1)} of 50 members have exactly one copy")
        assert received == [1] * 50
        assert bot.kills == 1
        assert bot.terminate(timeout=SIGTERM_BOUND_S) == 0
