"""The benchmark's world: a fresh embedded Synapse, accounts, the member pool processes, the
bot as its own process (`python -m bridge run --config FILE`), and the shortcuts that make a
thousand members affordable (each one measured and reported as set-up cost)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import nio

from bench.common import ENCRYPTED, Client, make_client, now
from bridge import i18n, provision
from bridge.homeserver import Account, EmbeddedHomeserver, register_user_async
from bridge.pseudonyms import keyed_digest
from bridge.settings import dump_toml_value
from bridge.store import Store

T = TypeVar("T")
SETUP_CONCURRENCY = 8
"""Parallel requests while setting up: Synapse on SQLite gains nothing above a handful."""


async def bounded(items: Iterable[T], work: Callable[[T], Awaitable[Any]], limit: int) -> list[Any]:
    """Run `work` over `items`, at most `limit` at a time, results in order."""
    semaphore = asyncio.Semaphore(limit)

    async def one(item: T) -> Any:
        async with semaphore:
            return await work(item)

    return list(await asyncio.gather(*(one(item) for item in items)))


@dataclass
class Wijk:
    slug: str
    join_code: str
    members: list[str] = field(default_factory=list)
    """User ids of the pool members signed up here (seeded)."""
    rooms: dict[str, str] = field(default_factory=dict)
    """desk / police / wijk room ids, from the bot's status file."""


class PoolProcess:
    """One `python -m bench.members` child and the request/answer plumbing to it."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.ids = itertools.count()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            answer = json.loads(line)
            future = self.pending.pop(answer["id"], None)
            if future is not None and not future.done():
                future.set_result(answer)
        for future in self.pending.values():
            if not future.done():
                future.set_exception(RuntimeError("a member pool process ended"))

    async def call(self, op: str, **args: Any) -> dict[str, Any]:
        ident = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[ident] = future
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps({"id": ident, "op": op, **args}) + "\n").encode())
        await self.process.stdin.drain()
        answer = await future
        if not answer.get("ok"):
            raise RuntimeError(f"member pool {op}: {answer.get('error')}")
        return answer


class MemberPool:
    """Members spread round-robin over a few processes."""

    def __init__(self, processes: list[PoolProcess]) -> None:
        self.processes = processes
        self.home: dict[str, PoolProcess] = {}

    @classmethod
    async def start(cls, url: str, count: int, log: Path) -> MemberPool:
        processes = []
        for _ in range(count):
            handle = log.open("ab")
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.members",
                url,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=handle,
                limit=64 * 1024 * 1024,
            )
            handle.close()
            processes.append(PoolProcess(process))
        return cls(processes)

    def _split(self, users: Iterable[str]) -> dict[PoolProcess, list[str]]:
        parts: dict[PoolProcess, list[str]] = {}
        for user in users:
            parts.setdefault(self.home[user], []).append(user)
        return parts

    async def add(self, accounts: list[Account]) -> None:
        parts: dict[PoolProcess, list[dict[str, str]]] = {}
        for index, account in enumerate(accounts):
            process = self.processes[index % len(self.processes)]
            self.home[account.user_id] = process
            parts.setdefault(process, []).append(
                {
                    "user_id": account.user_id,
                    "device_id": account.device_id,
                    "access_token": account.access_token,
                }
            )
        await asyncio.gather(*(p.call("add", accounts=a) for p, a in parts.items()))

    async def join(self, rooms: dict[str, list[str]]) -> None:
        parts = self._split(rooms)
        await asyncio.gather(
            *(p.call("join", rooms={u: rooms[u] for u in users}) for p, users in parts.items())
        )

    async def listen(self, users: list[str], marker: str) -> None:
        parts = self._split(users)
        await asyncio.gather(*(p.call("listen", users=u, marker=marker) for p, u in parts.items()))

    async def progress(self, marker: str) -> int:
        answers = await asyncio.gather(*(p.call("progress", marker=marker) for p in self.processes))
        return sum(int(a["received"]) for a in answers)

    async def collect(
        self,
        marker: str,
        timeout: float = 300,  # noqa: ASYNC109 (passed on to the pool process)
        linger: float = 0,
        stop: bool = True,
    ) -> tuple[dict[str, float], dict[str, int]]:
        """(first arrival per member, copies per member) of the message with `marker`; with
        `stop` False the members keep long-polling for the next phase."""
        answers = await asyncio.gather(
            *(
                p.call("collect", marker=marker, timeout=timeout, linger=linger, stop=stop)
                for p in self.processes
            )
        )
        first: dict[str, float] = {}
        copies: dict[str, int] = {}
        for answer in answers:
            first.update(answer["first"])
            copies.update(answer["copies"])
        return first, copies

    async def rss_mb(self) -> float:
        answers = await asyncio.gather(*(p.call("rss") for p in self.processes))
        return sum(float(a["rss_mb"]) for a in answers)

    async def close(self) -> None:
        for p in self.processes:
            if p.process.stdin is not None and p.process.returncode is None:
                p.process.stdin.write(b'{"op": "quit"}\n')
                with contextlib.suppress(ConnectionError):
                    await p.process.stdin.drain()
        for p in self.processes:
            try:
                await asyncio.wait_for(p.process.wait(), 30)
            except TimeoutError:
                p.process.kill()
                await p.process.wait()
            p.reader.cancel()


@dataclass
class BotProcess:
    """The bot in its own process, the way an operator runs it."""

    config: Path
    data_dir: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None
    trace: Path | None = None
    """With a path, the bot runs as `bench.trace_bot` and writes its step timings there."""
    what_if: str = ""
    """Proposed changes `bench.trace_bot` applies (comma-separated; needs `trace`)."""

    @property
    def status_file(self) -> Path:
        return self.data_dir / "status.json"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.status_file.unlink(missing_ok=True)
        log = str(self.log)
        module = "bridge" if self.trace is None else "bench.trace_bot"
        env = None
        if self.trace is not None:
            env = {**os.environ, "BIN_TRACE": str(self.trace), "BIN_WHAT_IF": self.what_if}
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, "run", "--config", str(self.config), "--log-file", log],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.log.with_suffix(".stderr").open("ab"),
            start_new_session=True,
        )

    def stderr_tail(self) -> str:
        try:
            text = self.log.with_suffix(".stderr").read_text(errors="replace")
        except OSError:
            return ""
        return text.strip()[-300:]

    def status(self) -> dict[str, Any]:
        try:
            value = json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    async def wait_ready(self, timeout: float = 300) -> dict[str, Any]:  # noqa: ASYNC109
        deadline = now() + timeout
        while True:
            status = self.status()
            if status.get("ready"):
                return status
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the bot exited with {self.process.returncode}; see {self.log}(.stderr)"
                )
            if now() > deadline:
                raise TimeoutError(f"the bot was not ready within {timeout:.0f} s")
            await asyncio.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: no handler runs, like a power cut."""
        assert self.process is not None
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def terminate(self, timeout: float = 60) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class World:
    """Everything one benchmark run sets up."""

    root: Path
    homeserver: EmbeddedHomeserver
    bot_account: Account
    coordinators: list[Account]
    secret: str
    wijken: dict[str, Wijk]
    bot: BotProcess
    setup: dict[str, float] = field(default_factory=dict)
    """Seconds spent on each set-up step (reported separately from every figure)."""
    clients: list[Client] = field(default_factory=list)
    private_rooms: dict[str, str] = field(default_factory=dict)
    """Per seeded member, their private room with the bot."""
    direct_room: str = ""
    """The encrypted room of the latency member and the coordinator (the direct path)."""
    signups: list[tuple[Client, str]] = field(default_factory=list)
    """Members signed up through the real conversation, with their private room."""

    @property
    def url(self) -> str:
        return self.homeserver.url

    def timed(self, step: str, seconds: float) -> None:
        self.setup[step] = round(self.setup.get(step, 0.0) + seconds, 3)

    async def register(self, prefix: str, count: int) -> list[Account]:
        secret = self.homeserver.registration_shared_secret
        token = secrets.token_hex(3)
        return await bounded(
            range(count),
            lambda i: register_user_async(self.url, secret, f"{prefix}-{token}-{i}"),
            SETUP_CONCURRENCY,
        )

    def client(self, account: Account, *, encryption: bool = True) -> Client:
        client = make_client(account, self.url, encryption=encryption)
        self.clients.append(client)
        return client

    async def create_private_rooms(self, members: list[str]) -> dict[str, str]:
        """The members' private rooms, created under the bot's account exactly as the bot
        creates them on a sign-up (`Bridge._create_private_room`)."""
        creator = make_client(self.bot_account, self.url, encryption=False)
        lang = "nl"

        async def create(user: str) -> str:
            response = await creator.nio.room_create(
                name=i18n.t("room.private.name", lang),
                topic=i18n.t("room.private.topic", lang),
                invite=[user],
                is_direct=True,
                initial_state=provision.encrypted_room_state("invited"),
                power_level_override=provision.private_room_power_levels(),
            )
            if not isinstance(response, nio.RoomCreateResponse):
                raise RuntimeError(f"creating a private room failed: {response}")
            return str(response.room_id)

        try:
            rooms = await bounded(members, create, SETUP_CONCURRENCY)
        finally:
            await creator.nio.close()
        return dict(zip(members, rooms, strict=True))

    async def bot_position(self) -> str:
        """A sync token of the bot's account from now: seeded into its store, so that its
        first start reads the rooms' state but not their creation as new events (what a
        restarted bot does; the seeded rooms were not created one by one while it ran)."""
        client = make_client(self.bot_account, self.url, encryption=False)
        nothing = {
            "room": {"rooms": []},
            "presence": {"not_types": ["*"]},
            "account_data": {"not_types": ["*"]},
        }
        try:
            response = await client.nio.sync(timeout=0, sync_filter=nothing)
        finally:
            await client.nio.close()
        if not isinstance(response, nio.SyncResponse):
            raise RuntimeError(f"sync as the bot failed: {response}")
        return str(response.next_batch)

    def seed_members(self, rooms: dict[str, str], wijk_of: dict[str, str], sync_token: str) -> None:
        """Record the members in the bot's store as signed up, as the join code would: keyed
        digest of the account, private room, wijk, joined and welcomed; and the bot's sync
        position. Done before the bot first runs (the store has one writer)."""
        store = Store(self.bot.data_dir / "bridge.db")
        try:
            secret = self.secret.encode()
            with store.transaction() as db:
                for user, room in rooms.items():
                    key = keyed_digest(secret, "member", user)
                    db.execute(
                        "INSERT INTO members(member_key, room_id, language, created_at) "
                        "VALUES(?,?,?,?)",
                        (key, room, "nl", time.time()),
                    )
                    store.update_member(key, db, wijk=wijk_of[user], joined=1, welcomed=1)
                store.set_meta("sync_token", sync_token, db)
        finally:
            store.close()

    def write_bot_config(self, relay: dict[str, Any]) -> None:
        bot = self.bot_account
        lines = [
            "# Generated by bench/run.py for one benchmark run.",
            "log_level = " + dump_toml_value("INFO"),
            "[homeserver]",
            f"url = {dump_toml_value(self.url)}",
            "",
            "[bot]",
            f"user_id = {dump_toml_value(bot.user_id)}",
            f"device_id = {dump_toml_value(bot.device_id)}",
            f"access_token = {dump_toml_value(bot.access_token)}",
            f"secret_key = {dump_toml_value(self.secret)}",
            f"data_dir = {dump_toml_value(str(self.bot.data_dir))}",
            "",
            "[relay]",
            *(f"{key} = {dump_toml_value(value)}" for key, value in relay.items()),
            "",
        ]
        coordinators = [a.user_id for a in self.coordinators]
        for wijk in self.wijken.values():
            lines += [
                "[[wijken]]",
                f"slug = {dump_toml_value(wijk.slug)}",
                f"name = {dump_toml_value('Bench ' + wijk.slug)}",
                f"join_code = {dump_toml_value(wijk.join_code)}",
                f"coordinators = {dump_toml_value(coordinators)}",
                "police = []",
                "",
            ]
        # Top-level keys must come before the first table in TOML.
        self.bot.config.write_text("\n".join(lines))
        self.bot.config.chmod(0o600)

    def take_rooms(self, status: dict[str, Any]) -> None:
        for slug, rooms in status.get("wijken", {}).items():
            if slug in self.wijken:
                self.wijken[slug].rooms = dict(rooms)

    async def close(self) -> None:
        for client in self.clients:
            with contextlib.suppress(Exception):
                await client.close()


async def encrypted_room(owner: Client, invite: list[str]) -> str:
    response = await owner.nio.room_create(
        invite=invite,
        initial_state=[{"type": "m.room.encryption", "state_key": "", "content": ENCRYPTED}],
    )
    if not isinstance(response, nio.RoomCreateResponse):
        raise RuntimeError(f"creating a room failed: {response}")
    return str(response.room_id)
