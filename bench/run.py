"""`make bench`: relay latency, broadcast fan-out, restart and client responsiveness, each
against a baseline measured in the same run (issue 8).

    .venv/bin/python -m bench.run            # sizes 10, 100, 1000 (under 15 minutes)
    .venv/bin/python -m bench.run --quick    # sizes 10, 50: a smoke run of every figure
    .venv/bin/python -m bench.run --only tui # bintui's figures alone (a one-member world)

Starts a fresh embedded Synapse in a temporary directory, runs the bot as its own process,
prints a table and writes bench/results/latest.json. BENCHMARKS.md explains every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import logging
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from bench import profiling, tui
from bench.common import Client, Seen, median, now, percentile, rss_mb, until
from bench.world import BotProcess, MemberPool, Wijk, World, encrypted_room
from bridge.homeserver import EmbeddedHomeserver
from bridge.settings import RelaySettings

RESULTS = Path(__file__).parent / "results"
TARGETS = {
    "relay_ratio_p50": ("<=", 2.1),
    "fanout_ratio_1000": ("<=", 1.3),
    "restart_to_first_relay_s": ("<=", 5.0),
    "restart_duplicates": ("<=", 0),
    "bot_rss_mb_1000": ("<=", 200.0),
    "tui_first_paint_s": ("<=", 1.0),
    "tui_nav_p95_ms": ("<=", 50.0),
    "tui_rss_mb": ("<=", 200.0),
}
SIGNUPS = 5
"""Members who sign up through the bot's real conversation (the others are seeded)."""
CONCURRENCY = RelaySettings().broadcast_concurrency
TMPFS = "/dev/shm"
"""Synapse's SQLite goes here unless --synapse-on-disk (see BENCHMARKS.md)."""
GAP_S = 0.1
"""Pause after each latency sample (both paths), so that every message finds the bot idle."""
PROFILE: Path | None = None
"""Where py-spy profiles of the bot and Synapse go (`--profile DIR`); None: not profiled."""


def log(message: str) -> None:
    print(f"[{now() - STARTED:7.1f} s] {message}", flush=True)


STARTED = now()


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Meter:
    """CPU used by the bot and by Synapse over a stretch of wall time."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.started = now()
        self.bot = cpu_s(world.bot.pid)
        self.synapse = cpu_s(synapse_pid(world))

    def read(self) -> dict[str, float]:
        wall = now() - self.started
        return {
            "wall_s": round(wall, 2),
            "bot_cpu_s": round(cpu_s(self.world.bot.pid) - self.bot, 2),
            "synapse_cpu_s": round(cpu_s(synapse_pid(self.world)) - self.synapse, 2),
        }


def synapse_pid(world: World) -> int:
    process = world.homeserver._process
    assert process is not None
    return process.pid


def profiled(world: World, phase: str) -> Any:
    """Sample the bot and Synapse during a phase when `--profile` is given."""
    return profiling.sampled({"bot": world.bot.pid, "synapse": synapse_pid(world)}, PROFILE, phase)


# --- set-up ---------------------------------------------------------------------------------


async def build(args: argparse.Namespace, root: Path) -> tuple[World, MemberPool]:
    sizes: list[int] = args.sizes
    homeserver = EmbeddedHomeserver(args.synapse_dir / "synapse", fast_test_mode=True)
    t = now()
    homeserver.start()
    log(f"Synapse started on {homeserver.url}")
    bot_dir = root / "bot"
    world = World(
        root=root,
        homeserver=homeserver,
        bot_account=None,  # type: ignore[arg-type]
        coordinators=[],
        secret=secrets.token_hex(32),
        wijken={},
        bot=BotProcess(root / "bridge.toml", bot_dir, root / "bot.log"),
    )
    if args.trace_bot:
        world.bot.trace = root / "bot-trace.jsonl"
        world.bot.what_if = args.what_if
    world.timed("synapse_start", now() - t)

    t = now()
    (world.bot_account,) = await world.register("bin-bot", 1)
    world.coordinators = await world.register("co", 2)
    signups = await world.register("lid", SIGNUPS)
    members = await world.register("m", sum(sizes))
    world.timed("register_accounts", now() - t)
    world.setup["accounts"] = 3 + SIGNUPS + len(members)
    log(f"registered {3 + SIGNUPS + len(members)} accounts")

    world.wijken["oost"] = Wijk("oost", f"oost-{secrets.token_hex(4)}")
    offset = 0
    wijk_of: dict[str, str] = {}
    for size in sizes:
        wijk = Wijk(f"w{size}", f"w{size}-{secrets.token_hex(4)}")
        wijk.members = [a.user_id for a in members[offset : offset + size]]
        offset += size
        world.wijken[wijk.slug] = wijk
        wijk_of.update(dict.fromkeys(wijk.members, wijk.slug))

    t = now()
    pool = await MemberPool.start(world.url, args.workers, root / "pool.log")
    await pool.add(members)
    world.timed("member_clients_and_keys", now() - t)
    log(f"{len(members)} member clients logged in with keys, in {args.workers} processes")

    t = now()
    private = await world.create_private_rooms(list(wijk_of))
    world.private_rooms = private
    world.timed("private_rooms", now() - t)
    log(f"{len(private)} private rooms created as the bot")

    t = now()
    await pool.join({user: [room] for user, room in private.items()})
    world.timed("member_joins", now() - t)
    log("members joined their rooms")

    world.seed_members(private, wijk_of, await world.bot_position())
    world.write_bot_config(
        {
            "broadcast_undo_seconds": 0,
            "rate_limit_per_minute": 100_000,
            "broadcast_concurrency": CONCURRENCY,
        }
    )
    t = now()
    world.bot.start()
    status = await world.bot.wait_ready(600)
    world.take_rooms(status)
    world.timed("bot_first_start", now() - t)
    log("bot ready")

    t = now()
    coordinator = world.client(world.coordinators[0])
    coordinator.start()
    wanted = {room for w in world.wijken.values() for room in w.rooms.values()}
    await until(lambda: wanted <= set(coordinator.nio.rooms), 300, "the wijk rooms")
    world.timed("coordinator_joins", now() - t)

    t = now()
    world.signups = []
    joined = await asyncio.gather(*(sign_up(world, account) for account in signups))
    world.signups = list(joined)
    world.timed("real_signups", now() - t)
    world.setup["real_signup_per_member_s"] = round((now() - t) / SIGNUPS, 3)
    log(f"{SIGNUPS} members signed up through the bot")
    return world, pool


async def sign_up(world: World, account: Any) -> tuple[Client, str]:
    """The real sign-up conversation: a DM to the bot, the bot's own room, the join code."""
    member = world.client(account)
    member.start()
    dm = await encrypted_room(member, [world.bot_account.user_id])
    welcome = await member.wait_for(
        lambda s: s.room_id != dm and "Welkom" in s.text, 120, "the welcome"
    )
    await member.say(welcome.room_id, world.wijken["oost"].join_code)
    await member.wait_for(
        lambda s: s.room_id == welcome.room_id and "aangemeld" in s.text, 120, "the sign-up"
    )
    await member.stop()
    return member, welcome.room_id


# --- latency ------------------------------------------------------------------------------


async def one_trip(
    sender: Client,
    room: str,
    receiver: Client,
    where: str,
    label: str,
    trips: list[tuple[float, float]] | None = None,
) -> float:
    marker = f"{label}{secrets.token_hex(5)}"
    arrived = receiver.expect(lambda s: s.room_id == where and marker in s.text)
    sent = now()
    await sender.say(room, f"Bench {marker}: losliggende stoeptegel bij de bakker")
    seen: Seen = await asyncio.wait_for(arrived, 60)
    if trips is not None:
        trips.append((sent, seen.at))
    # The bot still confirms to the member and stores its position after the desk copy went
    # out: the next message waits until that is done, as members' messages find the bot idle.
    await asyncio.sleep(GAP_S)
    return (seen.at - sent) * 1000


async def latency(world: World, samples: int) -> dict[str, Any]:
    member, private = world.signups[0]
    coordinator = world.clients[0]
    direct = await encrypted_room(member, [coordinator.user_id])
    world.direct_room = direct

    def coordinator_in_room() -> bool:
        room = member.nio.rooms.get(direct)
        return room is not None and coordinator.user_id in room.users

    deadline = now() + 60
    while not coordinator_in_room():
        if now() > deadline:
            raise TimeoutError("the coordinator did not join the direct room")
        await member.sync_once(200)
    desk = world.wijken["oost"].rooms["desk"]
    for _ in range(5):  # first messages share room keys: not what is measured
        await one_trip(member, direct, coordinator, direct, "wd")
        await one_trip(member, private, coordinator, desk, "wr")
    direct_ms: list[float] = []
    relay_ms: list[float] = []
    trips: list[tuple[float, float]] = []
    block = 10
    # Alternating blocks, so that background load hits both figures alike.
    with profiled(world, "latency"):
        while len(direct_ms) < samples:
            for _ in range(min(block, samples - len(direct_ms))):
                direct_ms.append(await one_trip(member, direct, coordinator, direct, "d"))
            for _ in range(min(block, samples - len(relay_ms))):
                relay_ms.append(await one_trip(member, private, coordinator, desk, "r", trips))
    breakdown = None
    if world.bot.trace is not None:
        from bench.trace_bot import relay_breakdown

        breakdown = relay_breakdown(str(world.bot.trace), trips)
    return {
        "relay_breakdown_ms": breakdown,
        "direct_p50_ms": percentile(direct_ms, 50),
        "direct_p95_ms": percentile(direct_ms, 95),
        "relay_p50_ms": percentile(relay_ms, 50),
        "relay_p95_ms": percentile(relay_ms, 95),
        "relay_ratio_p50": percentile(relay_ms, 50) / percentile(direct_ms, 50),
        "latency_samples": samples,
    }


async def restart_as(world: World, what_if: str) -> None:
    """Stop the bot cleanly and start it again with these proposed changes."""
    world.bot.terminate()
    world.bot.what_if = what_if
    world.bot.start()
    await world.bot.wait_ready(600)


async def compare(world: World, what_if: str, samples: int, rounds: int = 4) -> dict[str, Any]:
    """Relay latency of the bot as it is against the bot with `what_if`, in alternating
    rounds (a clean restart between them), with the direct path as each round's yardstick."""
    member, private = world.signups[0]
    coordinator = world.clients[0]
    desk = world.wijken["oost"].rooms["desk"]
    direct = world.direct_room
    figures: dict[str, dict[str, list[float]]] = {}
    for _ in range(rounds):
        for variant in ("", what_if):
            await restart_as(world, variant)
            for _ in range(3):  # new room keys after the restart: not measured
                await one_trip(member, private, coordinator, desk, "wr")
            got = figures.setdefault(variant or "as is", {"direct": [], "relay": []})
            for _ in range(samples // rounds):
                got["direct"].append(await one_trip(member, direct, coordinator, direct, "d"))
            for _ in range(samples // rounds):
                got["relay"].append(await one_trip(member, private, coordinator, desk, "r"))
    await restart_as(world, "")
    return {
        variant: {
            "direct_p50_ms": percentile(got["direct"], 50),
            "relay_p50_ms": percentile(got["relay"], 50),
            "relay_ratio_p50": percentile(got["relay"], 50) / percentile(got["direct"], 50),
        }
        for variant, got in figures.items()
    }


# --- fan-out ------------------------------------------------------------------------------


def duplicates(copies: dict[str, int]) -> int:
    return sum(count - 1 for count in copies.values() if count > 1)


async def publish(world: World, slug: str, marker: str) -> Any:
    """`!publiceer` in the wijk room and wait for the preview; returns a future for the
    bot's delivery count ("afgeleverd aan N van M")."""
    coordinator = world.clients[0]
    room = world.wijken[slug].rooms["wijk"]
    bot = world.bot_account.user_id
    preview = coordinator.expect(
        lambda s: s.room_id == room and s.sender == bot and marker in s.text
    )
    await coordinator.say(room, f"!publiceer Bench {marker}: de gemeente veegt morgen de straten.")
    await asyncio.wait_for(preview, 120)
    return coordinator.expect(
        lambda s: s.room_id == room and s.sender == bot and "afgeleverd aan" in s.text
    )


async def broadcast(
    world: World, pool: MemberPool, slug: str, phase: str, stop: bool = True
) -> dict[str, Any]:
    """From `!ja` (undo window 0 s) until every member's client has decrypted the message."""
    members = world.wijken[slug].members
    marker = f"b{secrets.token_hex(5)}"
    await pool.listen(members, marker)
    done = await publish(world, slug, marker)
    with profiled(world, phase):
        meter = Meter(world)
        started = now()
        await world.clients[0].say(world.wijken[slug].rooms["wijk"], "!ja")
        first, copies = await pool.collect(marker, timeout=900, stop=stop)
        used = meter.read()
    reported: Seen = await asyncio.wait_for(done, 300)
    return {
        "s": max(first.values()) - started if first else float("nan"),
        "median_member_s": median([t - started for t in first.values()]),
        "bot_reported_s": reported.at - started,
        "received": len(first),
        "missing": len(members) - len(first),
        "duplicates": duplicates(copies),
        **used,
    }


async def baseline(world: World, pool: MemberPool, plain: Client, size: int) -> dict[str, Any]:
    """A plain client sends `size` unencrypted messages into `size` rooms, CONCURRENCY at a
    time, until every receiving client has it: the bot's account without the bot (no
    encryption, no bookkeeping) into the same members' rooms as the broadcast of this size."""
    receivers = world.wijken[f"w{size}"].members
    marker = f"p{secrets.token_hex(5)}"
    await pool.listen(receivers, marker)
    semaphore = asyncio.Semaphore(CONCURRENCY)
    content = {"msgtype": "m.text", "body": f"Bench {marker}: de gemeente veegt morgen."}

    async def send(user: str) -> None:
        async with semaphore:
            response = await plain.nio.room_send(
                world.private_rooms[user], "m.room.message", content
            )
            if type(response).__name__ != "RoomSendResponse":
                raise RuntimeError(f"baseline send failed: {response}")

    # The bot is paused (SIGSTOP) meanwhile: it would wake up for each of these messages in
    # its rooms, and that is Synapse work that the plain client does not cause.
    os.kill(world.bot.pid, signal.SIGSTOP)
    try:
        with profiled(world, f"baseline-{size}"):
            meter = Meter(world)
            started = now()
            await asyncio.gather(*(send(user) for user in receivers))
            sent = now() - started
            first, _ = await pool.collect(marker, timeout=900, stop=False)
            used = meter.read()
    finally:
        os.kill(world.bot.pid, signal.SIGCONT)
    return {
        "s": max(first.values()) - started if first else float("nan"),
        "median_member_s": median([t - started for t in first.values()]),
        "sent_s": sent,
        "received": len(first),
        "missing": size - len(first),
        **used,
    }


async def fanout(world: World, pool: MemberPool, sizes: list[int]) -> dict[str, Any]:
    plain = world.client(world.bot_account, encryption=False)
    out: dict[str, Any] = {"cold": {}, "warm": {}, "baseline": {}}
    for size in sizes:
        slug = f"w{size}"
        # The first broadcast into a room claims a one-time key and shares a room key per
        # member; the second finds both in place. The baseline runs in between.
        out["cold"][str(size)] = await broadcast(world, pool, slug, f"first-{size}", stop=False)
        log(f"fan-out {size}, first broadcast: {out['cold'][str(size)]['s']:.2f} s")
        out["baseline"][str(size)] = await baseline(world, pool, plain, size)
        log(f"fan-out {size}, baseline: {out['baseline'][str(size)]['s']:.2f} s")
        out["warm"][str(size)] = await broadcast(world, pool, slug, f"second-{size}")
        log(f"fan-out {size}, second broadcast: {out['warm'][str(size)]['s']:.2f} s")
    out["bot_rss_mb"] = rss_mb(world.bot.pid)
    out["pool_rss_mb"] = await pool.rss_mb()
    return out


# --- restart -----------------------------------------------------------------------------


async def timed_ready(bot: BotProcess) -> float:
    await bot.wait_ready(600)
    return now()


async def guarded(world: World, work: Any, limit: float = 900) -> Any:
    """Await `work`, but fail at once when the bot process dies meanwhile."""
    task = asyncio.ensure_future(work)
    deadline = now() + limit
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=0.2)
            if done:
                return task.result()
            process = world.bot.process
            if process is not None and process.poll() is not None:
                raise RuntimeError(
                    f"the bot exited with {process.returncode}: {world.bot.stderr_tail()}"
                )
            if now() > deadline:
                raise TimeoutError(f"nothing after {limit:.0f} s")
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def restart(world: World, pool: MemberPool, resume_size: int) -> dict[str, Any]:
    """SIGKILL the bot (all its member rooms) twice: during a burst of member messages, and
    in the middle of a broadcast (to the wijk of `resume_size`). Count what arrived twice or
    never."""
    coordinator = world.clients[0]
    desk = world.wijken["oost"].rooms["desk"]
    tag = secrets.token_hex(3)
    markers = [f"k{tag}{i:02d}" for i in range(4 * len(world.signups))]

    def in_desk(marker: str) -> int:
        return sum(1 for s in coordinator.seen if s.room_id == desk and marker in s.text)

    async def burst(index: int) -> None:
        member, private = world.signups[index]
        for marker in markers[index :: len(world.signups)]:
            await member.say(private, f"Bench {marker}: verdachte bus in de straat")

    sending = asyncio.gather(*(burst(i) for i in range(len(world.signups))))
    await until(lambda: sum(1 for m in markers if in_desk(m)) >= 5, 300, "5 relayed", 0.005)
    world.bot.kill()
    relayed_before_kill = sum(1 for m in markers if in_desk(m))
    await sending

    member, private = world.signups[0]
    following = f"n{tag}"
    arrived = coordinator.expect(lambda s: s.room_id == desk and following in s.text)
    spawned = now()
    world.bot.start()
    ready = asyncio.create_task(timed_ready(world.bot))
    spy = profiling.attach_soon(world.bot.pid, PROFILE and PROFILE / "bot-restart.txt")
    await member.say(private, f"Bench {following}: de bus is weggereden")
    seen: Seen = await guarded(world, arrived, 600)
    ready_at = await guarded(world, ready, 600)
    profiling.stop(spy)
    with contextlib.suppress(TimeoutError):
        await until(lambda: all(in_desk(m) for m in markers), 120, "the burst in the desk")
    await asyncio.sleep(3)  # a late second copy would arrive now
    copies = {m: in_desk(m) for m in [*markers, following]}
    burst_result = {
        "to_first_relay_s": seen.at - spawned,
        "to_ready_s": ready_at - spawned,
        "messages": len(copies),
        "relayed_before_kill": relayed_before_kill,
        "duplicates": duplicates(copies),
        "missing": sum(1 for c in copies.values() if c == 0),
    }
    log(f"restart after a kill during member messages: {burst_result}")

    slug = f"w{resume_size}"
    members = world.wijken[slug].members
    marker = f"c{secrets.token_hex(5)}"
    await pool.listen(members, marker)
    done = await publish(world, slug, marker)
    started = now()
    await coordinator.say(world.wijken[slug].rooms["wijk"], "!ja")

    async def far_enough() -> bool:
        return await pool.progress(marker) >= 0.3 * len(members)

    await until(far_enough, 600, "30% delivered", 0.1)
    world.bot.kill()
    killed = now()
    received_at_kill = await pool.progress(marker)
    spawned = now()
    world.bot.start()
    ready = asyncio.create_task(timed_ready(world.bot))
    spy = profiling.attach_soon(world.bot.pid, PROFILE and PROFILE / "bot-resume.txt")
    first, member_copies = await guarded(world, pool.collect(marker, timeout=900, linger=5))
    profiling.stop(spy)
    ready_at = await guarded(world, ready, 600)
    reported: Seen = await guarded(world, done, 300)
    broadcast_result = {
        "members": len(members),
        "received_before_kill": received_at_kill,
        "killed_after_s": killed - started,
        "to_ready_s": ready_at - spawned,
        "to_all_received_s": max(first.values()) - spawned if first else float("nan"),
        "bot_report": reported.text.strip().splitlines()[0][:120],
        "duplicates": duplicates(member_copies),
        "missing": len(members) - len(first),
    }
    log(f"restart after a kill during a broadcast: {broadcast_result}")
    return {
        "burst": burst_result,
        "broadcast": broadcast_result,
        "bot_rss_mb_after": rss_mb(world.bot.pid),
    }


# --- the coordinator client ---------------------------------------------------------------


def write_bintui_config(world: World) -> Path:
    from bridge.settings import dump_toml_value

    account = world.coordinators[0]
    lines = [
        f"homeserver = {dump_toml_value(world.url)}",
        f"user_id = {dump_toml_value(account.user_id)}",
        f"password = {dump_toml_value(account.password)}",
        f"data_dir = {dump_toml_value(str(world.root / 'bintui'))}",
        f"bot_user_id = {dump_toml_value(world.bot_account.user_id)}",
        "",
    ]
    path = world.root / "bintui.toml"
    path.write_text("\n".join(lines))
    path.chmod(0o600)
    return path


async def device_keys(world: World, user_id: str) -> set[str]:
    """The devices of `user_id` whose keys the homeserver has (asked as that user)."""
    account = next(a for a in world.coordinators if a.user_id == user_id)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            world.url + "/_matrix/client/v3/keys/query",
            json={"device_keys": {user_id: []}},
            headers={"Authorization": f"Bearer {account.access_token}"},
        ) as response,
    ):
        body = await response.json()
    return set(body.get("device_keys", {}).get(user_id, {}))


async def client_first_paint(world: World, launches: int) -> dict[str, Any]:
    """bintui as a coordinator starts it, against this run's homeserver: once to log in (a
    new device, keys uploaded, store written), then `launches` times with that warm store."""
    config = write_bintui_config(world)
    coordinator = world.clients[0]
    before = await device_keys(world, coordinator.user_id)
    cold = await asyncio.to_thread(tui.launch, config, None, online_for=3)
    log(f"bintui first launch (login): {cold}")

    async def new_device() -> bool:
        return bool(await device_keys(world, coordinator.user_id) - before)

    await until(new_device, 60, "the keys of bintui's device")
    await asyncio.sleep(3)  # the bot hears of the new device and starts a new room key
    # A report the new device can read, the newest in the desk.
    member, private = world.signups[1]
    desk = world.wijken["oost"].rooms["desk"]
    marker = f"t{secrets.token_hex(4)}"
    await member.say(private, "!nieuw")
    arrived = coordinator.expect(lambda s: s.room_id == desk and marker in s.text)
    await member.say(private, f"Bench {marker}: fietsendiefstal bij het station")
    seen: Seen = await asyncio.wait_for(arrived, 120)
    label = seen.label or marker
    warm = []
    for _ in range(launches):
        warm.append(await asyncio.to_thread(tui.launch, config, label))
        log(f"bintui warm launch: {warm[-1]}")
    return {
        "login_launch": cold,
        "warm_launches": warm,
        "report": label,
        "first_paint_s": median([w["first_paint_s"] for w in warm]),
        "report_shown_s": median([w["report_shown_s"] for w in warm]),
    }


async def client_navigation(root: Path, reports: int, presses: int) -> dict[str, Any]:
    spy = PROFILE and PROFILE / "bintui-navigation.txt"
    return await asyncio.to_thread(tui.navigation, reports, presses, root / "tui-nav", spy)


# --- the run ------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = bool(
        subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    )
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "commit": commit,
        "tree_dirty": dirty,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="bin-bench-"))
    args.synapse_dir = root
    if args.tmpfs:
        args.synapse_dir = Path(tempfile.mkdtemp(prefix="bin-bench-synapse-", dir=TMPFS))
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "mode": f"only {args.only}" if args.only else "quick" if args.quick else "full",
        "sizes": args.sizes,
        "machine": machine(),
        "load_avg_start": os.getloadavg(),
        "synapse_data": "tmpfs" if args.synapse_dir != root else "disk",
        "bot_traced": args.trace_bot,
        "what_if": args.what_if,
        "errors": [],
    }
    log(f"working in {root}; sizes {args.sizes}")
    world: World | None = None
    pool: MemberPool | None = None
    sizes = [str(s) for s in args.sizes]
    largest = max(args.sizes)
    try:
        if args.only == "tui-nav":
            return await client_only(args, root, results)
        world, pool = await build(args, root)
        results["setup_s"] = dict(world.setup)

        async def phase(name: str, work: Any) -> Any:
            t = now()
            try:
                value = await work
            except Exception as exc:
                logging.exception("phase %s failed", name)
                results["errors"].append(f"{name}: {type(exc).__name__}: {exc}")
                return None
            finally:
                results.setdefault("phase_s", {})[name] = round(now() - t, 1)
            return value

        lat = None
        if not args.only:
            lat = await phase("latency", latency(world, args.samples))
        if lat:
            results.update({k: v for k, v in lat.items() if v is not None})
            log(
                f"latency: direct p50 {lat['direct_p50_ms']:.1f} ms, "
                f"relay p50 {lat['relay_p50_ms']:.1f} ms"
            )
        if args.what_if and args.trace_bot:
            cmp = await phase("what_if", compare(world, args.what_if, args.samples))
            if cmp:
                results["what_if_latency"] = cmp
                log(f"what if {args.what_if}: {cmp}")
        fan = None
        if "fanout" in args.phases:
            fan = await phase("fanout", fanout(world, pool, args.sizes))
        if fan:
            results["fanout_s"] = {k: fan["warm"][k]["s"] for k in sizes}
            results["fanout_baseline_s"] = {k: fan["baseline"][k]["s"] for k in sizes}
            results["fanout_first_s"] = {k: fan["cold"][k]["s"] for k in sizes}
            results["fanout_baseline_sent_s"] = {k: fan["baseline"][k]["sent_s"] for k in sizes}
            top = str(largest)
            ratio = fan["warm"][top]["s"] / fan["baseline"][top]["s"]
            results["fanout_ratio_1000"] = ratio if largest == 1000 else None
            results[f"fanout_ratio_{top}"] = ratio
            results[f"fanout_first_ratio_{top}"] = fan["cold"][top]["s"] / fan["baseline"][top]["s"]
            results["bot_rss_mb_1000"] = fan["bot_rss_mb"] if largest == 1000 else None
            results[f"bot_rss_mb_{top}"] = fan["bot_rss_mb"]
            results["fanout_details"] = fan
        resume_size = max([s for s in args.sizes if s <= 100] or [min(args.sizes)])
        rst = None
        if "restart" in args.phases:
            rst = await phase("restart", restart(world, pool, resume_size))
        if rst:
            results["restart_to_first_relay_s"] = rst["burst"]["to_first_relay_s"]
            results["restart_to_ready_s"] = rst["burst"]["to_ready_s"]
            results["restart_duplicates"] = (
                rst["burst"]["duplicates"] + rst["broadcast"]["duplicates"]
            )
            results["restart_missing"] = rst["burst"]["missing"] + rst["broadcast"]["missing"]
            results["restart_details"] = rst
        paint = None
        if "tui" in args.phases:
            paint = await phase("tui_first_paint", client_first_paint(world, args.launches))
        if paint:
            results["tui_first_paint_s"] = paint["first_paint_s"]
            results["tui_report_shown_s"] = paint["report_shown_s"]
            results["tui_first_paint_details"] = paint
    finally:
        if world is not None:
            world.bot.terminate()
        if pool is not None:
            await pool.close()
        if world is not None:
            await world.close()
            world.homeserver.stop()
    if "tui" in args.phases:
        await navigation_phase(args, root, results)
    return finish(args, root, results)


async def client_only(
    args: argparse.Namespace, root: Path, results: dict[str, Any]
) -> dict[str, Any]:
    """`--only tui-nav`: the navigation figures without a homeserver (it needs none)."""
    await navigation_phase(args, root, results)
    return finish(args, root, results)


async def navigation_phase(args: argparse.Namespace, root: Path, results: dict[str, Any]) -> None:
    nav = None
    try:
        nav = await client_navigation(root, args.reports, args.presses)
    except Exception as exc:
        logging.exception("navigation failed")
        results["errors"].append(f"tui_navigation: {type(exc).__name__}: {exc}")
    if nav:
        log(f"bintui navigation: { ({k: v for k, v in nav.items() if k != 'samples_ms'}) }")
        results["tui_nav_p95_ms"] = nav["nav_p95_ms"]
        results["tui_nav_p50_ms"] = nav["nav_p50_ms"]
        results["tui_rss_mb"] = nav["rss_mb"]
        results["tui_nav_reports"] = args.reports
        results["tui_nav_details"] = nav


def finish(args: argparse.Namespace, root: Path, results: dict[str, Any]) -> dict[str, Any]:
    results["load_avg_end"] = os.getloadavg()
    results["total_s"] = round(now() - STARTED, 1)
    if args.keep:
        log(f"kept {root} (Synapse: {args.synapse_dir})")
    else:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(args.synapse_dir, ignore_errors=True)
    return results


def judge(results: dict[str, Any]) -> None:
    verdicts = {}
    for key, (op, target) in TARGETS.items():
        value = results.get(key)
        if value is None:
            continue
        verdicts[key] = {"target": f"{op} {target}", "met": value <= target}
    results["targets"] = verdicts


def table(results: dict[str, Any]) -> str:
    def fmt(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
        if isinstance(value, dict):
            return "  ".join(f"{k}: {fmt(v)}" for k, v in value.items())
        return str(value)

    keys = [
        "direct_p50_ms",
        "direct_p95_ms",
        "relay_p50_ms",
        "relay_p95_ms",
        "relay_ratio_p50",
        "fanout_s",
        "fanout_baseline_s",
        "fanout_first_s",
        "fanout_ratio_1000",
        *(k for k in results if k.startswith("fanout_ratio_") and k != "fanout_ratio_1000"),
        "restart_to_first_relay_s",
        "restart_to_ready_s",
        "restart_duplicates",
        "restart_missing",
        "bot_rss_mb_1000",
        "tui_first_paint_s",
        "tui_report_shown_s",
        "tui_nav_p95_ms",
        "tui_rss_mb",
    ]
    lines = [f"{'figure':<28} {'value':<44} target"]
    for key in keys:
        if key not in results:
            continue
        verdict = results.get("targets", {}).get(key)
        mark = ""
        if verdict:
            mark = f"{verdict['target']:<8} {'ok' if verdict['met'] else 'MISSED'}"
        lines.append(f"{key:<28} {fmt(results[key]):<44} {mark}")
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="sizes 10 and 50, fewer samples")
    parser.add_argument("--sizes", help="comma-separated wijk sizes (default 10,100,1000)")
    parser.add_argument("--samples", type=int, help="latency samples per path (default 100)")
    parser.add_argument("--workers", type=int, default=2, help="member pool processes")
    parser.add_argument("--reports", type=int, default=10_000, help="reports in the client")
    parser.add_argument("--presses", type=int, help="key presses timed (default 120)")
    parser.add_argument("--launches", type=int, default=3, help="warm bintui launches")
    parser.add_argument("--out", type=Path, help="results file (default bench/results/…)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--synapse-on-disk",
        action="store_true",
        help=f"Synapse's database on disk like the embedded default (else in {TMPFS})",
    )
    parser.add_argument("--profile", type=Path, help="write py-spy profiles to this directory")
    parser.add_argument(
        "--phases",
        default="fanout,restart,tui",
        help="which phases after the latency one (default: fanout,restart,tui)",
    )
    parser.add_argument(
        "--only",
        choices=("tui", "tui-nav"),
        help="tui: bintui's figures alone, over a world of one member and no latency phase; "
        "tui-nav: navigation and memory only, without a homeserver",
    )
    parser.add_argument(
        "--trace-bot", action="store_true", help="time the bot's steps (bench.trace_bot)"
    )
    parser.add_argument(
        "--what-if",
        default="",
        help="with --trace-bot: proposed bot changes to measure (see bench/trace_bot.py)",
    )
    args = parser.parse_args(argv)
    args.phases = set(args.phases.split(",")) if args.phases else set()
    default_sizes = "10,50" if args.quick else "10,100,1000"
    if args.only:
        args.phases = {"tui"}
        default_sizes = "1"
    args.sizes = [int(s) for s in (args.sizes or default_sizes).split(",")]
    args.samples = args.samples or (30 if args.quick else 100)
    args.presses = args.presses or (60 if args.quick else 120)
    args.tmpfs = not args.synapse_on_disk and os.path.isdir(TMPFS) and os.access(TMPFS, os.W_OK)
    name = "quick.json" if args.quick else "latest.json"
    if args.only:
        name = f"only-{args.only}.json"
    args.out = args.out or RESULTS / name
    return args


def main(argv: list[str] | None = None) -> int:
    global PROFILE
    args = parse(argv)
    PROFILE = args.profile
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    results = asyncio.run(run(args))
    judge(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=float) + "\n")
    print()
    print(table(results))
    print(f"\nwritten to {args.out} in {results['total_s']:.0f} s")
    for error in results["errors"]:
        print(f"error: {error}", file=sys.stderr)
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
