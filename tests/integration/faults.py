"""SIGKILL fault injection: members send a stream of messages while the bot process is killed.

Shared by the CI test (tests/integration/test_fault_injection.py) and the longer soak script
(bench/soak.py). The bot runs as a real process (`python -m bridge run --config FILE`); it is
killed with SIGKILL at seeded random moments — some while it starts, most while it relays —
and started again each time. At the end every message must be in the desk exactly once, and
every member must have exactly one delivery confirmation per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import quote

from bridge import pseudonyms
from bridge.homeserver import Account
from bridge.store import Store
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

Register = Callable[..., Account]
READY_TIMEOUT_S = 180
"""A restarted bot first handles everything that queued up while it was down; on a loaded
2-core machine that has taken close to a minute."""


@dataclass
class FaultPlan:
    """How hard to shake the bot; every random choice comes from `seed`."""

    members: int = 5
    messages: int = 500
    """In total, spread evenly over the members."""
    kills: int = 20
    seed: int = 20260601
    send_gap_s: tuple[float, float] = (0.0, 0.3)
    """Each member waits a random time in this range between two messages."""
    kill_after_ready_s: tuple[float, float] = (0.05, 1.2)
    """Most kills: this long after the restarted bot said it was ready."""
    startup_kill_share: float = 0.25
    """The share of kills that hit the bot while it is still starting."""
    startup_kill_s: tuple[float, float] = (0.2, 1.5)
    """When a kill hits the start: this long after the process was spawned."""
    settle_timeout_s: float = 120.0


@dataclass
class FaultOutcome:
    """What the run saw."""

    sent: list[str] = field(default_factory=list)
    desk: Counter[str] = field(default_factory=Counter)
    """How often each sent text appeared in the desk (by the nl.bin `text` field)."""
    confirmations: Counter[str] = field(default_factory=Counter)
    """Delivery confirmations per member (by member index)."""
    kills: int = 0
    startup_kills: int = 0
    starts: int = 0
    seconds: float = 0.0
    unexpected: list[str] = field(default_factory=list)
    """Texts in the desk that nobody sent (must be empty)."""
    undecryptable: Counter[str] = field(default_factory=Counter)
    """Events a client could not decrypt ("co" and member indexes; must stay empty)."""

    startup_s: list[float] = field(default_factory=list)
    diagnosis: list[str] = field(default_factory=list)
    """Per private room, each event as the bot's ledger saw it (only when something failed)."""

    @property
    def missing(self) -> list[str]:
        return [t for t in self.sent if self.desk[t] == 0]

    @property
    def duplicated(self) -> dict[str, int]:
        return {t: n for t, n in self.desk.items() if n > 1}

    def summary(self) -> str:
        counts = Counter(self.desk[t] for t in self.sent)
        return (
            f"{len(self.sent)} messages sent, {sum(self.desk.values())} desk copies "
            f"(exactly once: {counts[1]}, missing: {counts[0]}, duplicated: "
            f"{sum(v for k, v in counts.items() if k > 1)}); "
            f"{sum(self.confirmations.values())} confirmations; "
            f"{self.kills} SIGKILLs ({self.startup_kills} during start-up), "
            f"{self.starts} starts (ready after {_median(self.startup_s):.1f} s median); "
            f"{self.seconds:.1f} s; "
            f"undecryptable: {dict(self.undecryptable)}"
        )


async def run_fault_injection(
    homeserver_url: str, register: Register, tmp: Path, plan: FaultPlan
) -> FaultOutcome:
    """Run `plan` against the homeserver; return what the desk and the members saw."""
    rng = random.Random(plan.seed)
    tmp.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (set-up)
    outcome = FaultOutcome()
    bot_account = register("bin-bot", displayname="BIN")
    co_account = register("co-oost")
    police_account = register("politie-oost")
    wijk = wijk_settings("oost", [co_account.user_id], [police_account.user_id])
    data_dir = tmp / "bot"
    # The stream is fast on purpose: the per-member flood limit (case C14) is lifted here.
    config = write_bot_config(
        tmp / "bridge.toml",
        homeserver_url,
        bot_account,
        data_dir,
        [wijk],
        extra={"relay": {"rate_limit_per_minute": 100_000}},
    )
    bot = BotProcess(config, data_dir, tmp / "bot.log")
    users: list[User] = []
    stop_syncing = asyncio.Event()
    try:
        coordinator = await make_user(co_account, homeserver_url, tmp / "co")
        police = await make_user(police_account, homeserver_url, tmp / "police")
        users += [coordinator, police]
        bot.start()
        status = await bot.wait_ready(READY_TIMEOUT_S)
        desk = str(status["wijken"]["oost"]["desk"])
        for user in (coordinator, police, coordinator, police):
            await user.sync()
        members = []
        for i in range(plan.members):
            account = register(f"lid{i}", displayname=f"Bewoner {i}")
            user = await make_user(account, homeserver_url, tmp / "members" / str(i))
            users.append(user)
            _, private = await open_private_room(user, bot_account.user_id)
            await sign_up(user, private, wijk.join_code.get_secret_value())
            members.append((user, private))

        async def keep_syncing(user: User) -> None:
            while not stop_syncing.is_set():
                await user.sync(wait_ms=1000)

        syncer = asyncio.create_task(keep_syncing(coordinator))
        per_member = plan.messages // plan.members
        gaps = [[rng.uniform(*plan.send_gap_s) for _ in range(per_member)] for _ in members]
        kill_plan = [
            (rng.random() < plan.startup_kill_share, rng.random()) for _ in range(plan.kills)
        ]
        started = time.monotonic()

        async def send_stream(index: int, user: User, room: str) -> None:
            for n, gap in enumerate(gaps[index]):
                text = f"Melding {index}-{n:03d}: verdachte situatie"
                outcome.sent.append(text)
                await user.say(room, text)
                await asyncio.sleep(gap)

        async def killer() -> None:
            for during_start, fraction in kill_plan:
                low, high = plan.startup_kill_s if during_start else plan.kill_after_ready_s
                if not during_start:
                    await bot.wait_ready(READY_TIMEOUT_S)
                await asyncio.sleep(low + fraction * (high - low))
                was_ready = bot.ready
                bot.kill()
                outcome.startup_kills += not was_ready
                bot.start()

        await asyncio.gather(
            killer(), *(send_stream(i, user, room) for i, (user, room) in enumerate(members))
        )
        await bot.wait_ready(READY_TIMEOUT_S)

        def desk_texts() -> Counter[str]:
            return Counter(
                str(e.fields["text"]) for e in coordinator.in_room(desk) if "text" in e.fields
            )

        deadline = time.monotonic() + plan.settle_timeout_s
        while not all(desk_texts()[t] for t in outcome.sent):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(3)  # stragglers: a duplicate would arrive now
        stop_syncing.set()
        await syncer
        await coordinator.sync()
        outcome.seconds = time.monotonic() - started
        sent = set(outcome.sent)
        for text, count in desk_texts().items():
            if text in sent:
                outcome.desk[text] = count
            else:
                outcome.unexpected.append(text)
        for index, (user, room) in enumerate(members):
            with contextlib.suppress(Timeout):
                await user.wait_for(partial(_has_confirmations, user, room, per_member), 30)
            await user.sync(wait_ms=300)
            outcome.confirmations[str(index)] = _confirmations(user, room)
            if user.undecryptable:
                outcome.undecryptable[str(index)] = user.undecryptable
        if coordinator.undecryptable:
            outcome.undecryptable["co"] = coordinator.undecryptable
        outcome.kills, outcome.starts, outcome.startup_s = bot.kills, bot.starts, bot.startup_s
        code = bot.terminate()
        assert code == 0, f"the bot exited with {code} on SIGTERM"
        if outcome.missing or outcome.duplicated:
            outcome.diagnosis = await diagnose(data_dir, [room for _, room in members])
        return outcome
    finally:
        stop_syncing.set()
        bot.close()
        for user in users:
            await user.close()


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2] if values else 0.0


def _has_confirmations(user: User, room: str, count: int) -> bool:
    return _confirmations(user, room) >= count


def _confirmations(user: User, room: str) -> int:
    return sum(
        1
        for e in user.in_room(room)
        if e.fields.get("kind") == "notice" and "afgeleverd" in e.body.lower()
    )


async def diagnose(data_dir: Path, rooms: list[str]) -> list[str]:
    """One line per private room: `b` the bot's event, `H` a handled member event, `.` not."""
    session = json.loads((data_dir / "session.json").read_text())
    secret = bytes.fromhex((data_dir / "secret.key").read_text().strip())
    store = Store(data_dir / "bridge.db")
    lines = []
    try:
        for room in rooms:
            status, body = await client_api(
                session["homeserver"],
                session["access_token"],
                "GET",
                f"/_matrix/client/v3/rooms/{quote(room)}/messages?dir=b&limit=1000",
            )
            assert status == 200, body
            marks = []
            for event in reversed(body["chunk"]):
                if event["sender"] == session["user_id"]:
                    marks.append("b")
                else:
                    digest = pseudonyms.keyed_digest(secret, "event", event["event_id"])
                    marks.append("H" if store.is_handled(digest) else ".")
            lines.append("".join(marks))
    finally:
        store.close()
    return lines
