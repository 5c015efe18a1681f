"""Real clients and a real bot on the test run's Synapse: the pieces every flow test uses."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import nio
from pydantic import SecretStr

from bridge.bot import Bridge
from bridge.homeserver import Account, EmbeddedHomeserver
from bridge.leakscan import MemberTrace, assert_no_leaks
from bridge.protocol import FIELD
from bridge.scenario import Seen
from bridge.settings import (
    BotSettings,
    BridgeSettings,
    HomeserverSettings,
    WijkSettings,
    dump_toml_value,
)

Predicate = Callable[[], bool]
CLIENT_SYNC_FILTER: dict[str, Any] = {"room": {"timeline": {"limit": 100}}}


JOIN_RETRY_S = 0.5
"""How long a test person waits before trying a refused join again."""


class Timeout(AssertionError):
    """A condition did not become true in time."""


Received = Seen
"""One event as a client saw it (the scripted demo's record of an event)."""


@dataclass
class User:
    """A person with a real nio client (E2EE on): member, coordinator or police officer."""

    account: Account
    client: nio.AsyncClient
    events: list[Received] = field(default_factory=list)
    auto_join: bool = True
    undecryptable: int = 0
    sent_event_ids: list[str] = field(default_factory=list)
    """Every event this user sent (for the leak scanner: none may be named by the bot)."""
    pending_invites: dict[str, float] = field(default_factory=dict)
    """Invites not joined yet, with when to try again (a join can fail and is retried)."""

    @property
    def user_id(self) -> str:
        return self.account.user_id

    async def sync(self, wait_ms: int = 0) -> None:
        """One sync; joins invites; records decrypted room messages."""
        since = self.client.next_batch
        response = await self.client.sync(
            timeout=wait_ms, full_state=not since, sync_filter=CLIENT_SYNC_FILTER
        )
        if not isinstance(response, nio.SyncResponse):
            return
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()
        if self.client.should_claim_keys:
            await self.client.keys_claim(self.client.get_users_for_key_claiming())
        await self.client.send_to_device_messages()
        if self.auto_join:
            await self._join_invites(response)
        for room_id, info in response.rooms.join.items():
            events = list(info.timeline.events)
            if info.timeline.limited and since:
                # More arrived than the timeline limit: fetch the rest, or counts would lie.
                events = await self._gap(room_id, info.timeline.prev_batch, since) + events
            for event in events:
                if isinstance(event, nio.MegolmEvent):
                    self.undecryptable += 1
                    continue
                if isinstance(event, nio.RoomMessage | nio.UnknownEvent | nio.RedactedEvent):
                    self.events.append(
                        Received(room_id, event.event_id, event.sender, dict(event.source))
                    )

    async def _join_invites(self, response: nio.SyncResponse) -> None:
        """Join every invite; one that fails is tried again on a later sync, as a person would.

        Over federation a join sent the moment the invite arrives can be refused ("You are
        not invited"): the inviting server has not stored its own invite yet. An invite is
        reported once, so without a retry the room would never be joined.
        """
        for room_id in response.rooms.invite:
            self.pending_invites.setdefault(room_id, 0.0)
        for room_id in list(response.rooms.join) + list(response.rooms.leave):
            self.pending_invites.pop(room_id, None)
        now = time.monotonic()
        for room_id, not_before in list(self.pending_invites.items()):
            if now < not_before:
                continue
            if isinstance(await self.client.join(room_id), nio.JoinResponse):
                del self.pending_invites[room_id]
            else:
                self.pending_invites[room_id] = now + JOIN_RETRY_S

    async def _gap(self, room_id: str, prev_batch: str | None, since: str) -> list[Any]:
        events: list[Any] = []
        token = prev_batch
        while token:
            page = await self.client.room_messages(
                room_id, start=token, end=since, direction=nio.MessageDirection.back, limit=100
            )
            assert isinstance(page, nio.RoomMessagesResponse), page
            events.extend(page.chunk)
            if not page.chunk or page.end == token:
                break
            token = page.end
        events.reverse()
        return events

    async def wait_for(
        self,
        predicate: Callable[[], Any],
        timeout: float = 20,  # noqa: ASYNC109
        what: str = "a condition",
    ) -> Any:
        """Sync until predicate() returns something truthy; return it."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                raise Timeout(f"{self.user_id} waited {timeout}s for {what}")
            await self.sync(wait_ms=500)

    async def wait_for_event(
        self,
        match: Callable[[Received], bool],
        timeout: float = 20,  # noqa: ASYNC109
        what: str = "an event",
    ) -> Received:
        """Sync until an event matching `match` has arrived; return the newest such."""

        def find() -> Received | None:
            hits = [e for e in self.events if match(e)]
            return hits[-1] if hits else None

        result: Received = await self.wait_for(find, timeout, what)
        return result

    def in_room(self, room_id: str) -> list[Received]:
        return [e for e in self.events if e.room_id == room_id]

    async def send(self, room_id: str, content: dict[str, Any]) -> str:
        """Send a message (encrypted where the room is) and return its event id."""
        response = await self.client.room_send(
            room_id, "m.room.message", content, ignore_unverified_devices=True
        )
        assert isinstance(response, nio.RoomSendResponse), response
        self.sent_event_ids.append(str(response.event_id))
        return str(response.event_id)

    async def say(self, room_id: str, text: str, **extra: Any) -> str:
        """Send a plain text message."""
        return await self.send(room_id, {"msgtype": "m.text", "body": text, **extra})

    async def reply_in_thread(self, room_id: str, root: str, text: str) -> str:
        """Answer in a thread the way Element does."""
        return await self.send(
            room_id,
            {
                "msgtype": "m.text",
                "body": text,
                "m.relates_to": {
                    "rel_type": "m.thread",
                    "event_id": root,
                    "is_falling_back": True,
                    "m.in_reply_to": {"event_id": root},
                },
            },
        )

    async def close(self) -> None:
        await self.client.close()


async def make_user(account: Account, url: str, store_dir: Path, auto_join: bool = True) -> User:
    """A logged-in nio client for a registered account, synced once."""
    store_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (test setup)
    config = nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
    client = nio.AsyncClient(url, account.user_id, store_path=str(store_dir), config=config)
    client.restore_login(account.user_id, account.device_id, account.access_token)
    user = User(account, client, auto_join=auto_join)
    await user.sync()
    return user


@dataclass
class Sent:
    """What the bot handed to nio for sending: the plaintext before encryption."""

    room_id: str
    event_type: str
    content: dict[str, Any]
    txn_id: str | None = None
    """The transaction id the bot sent it under (the homeserver de-duplicates by it)."""

    @property
    def fields(self) -> dict[str, Any]:
        value = self.content.get(FIELD)
        return value if isinstance(value, dict) else {}


@dataclass
class World:
    """A running bot with one or more wijken and the people around it."""

    homeserver: EmbeddedHomeserver
    settings: BridgeSettings
    coordinators: dict[str, User]
    police: dict[str, User]
    tmp: Path
    sent: list[Sent] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    """The running bot; None while it is stopped."""
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    bridge: Bridge = field(init=False)
    """The current (or last) Bridge; a restart makes a new one on the same data dir."""

    async def start_bot(self) -> None:
        """Start a new Bridge on the settings (and so the data dir) of this world."""
        assert self.task is None, "the bot is already running"
        self.bridge = Bridge(self.settings)
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(_run_recording(self.bridge, self, self.stop))
        await asyncio.wait_for(_ready_or_crash(self.bridge, self.task), timeout=60)

    async def stop_bot(self) -> None:
        """Stop the bot cleanly, the way SIGTERM does; its errors are raised here."""
        task, self.task = self.task, None
        assert task is not None, "the bot is not running"
        self.stop.set()
        await asyncio.wait_for(task, timeout=30)

    async def restart_bot(self) -> None:
        """Stop the bot cleanly and start a new one on the same data dir."""
        await self.stop_bot()
        await self.start_bot()

    async def bot_ended(self, timeout: float = 20) -> BaseException | None:  # noqa: ASYNC109
        """Wait until the bot task ends by itself (a crash); return how it ended."""
        task, self.task = self.task, None
        assert task is not None, "the bot is not running"
        await asyncio.wait({task}, timeout=timeout)
        assert task.done(), f"the bot was still running after {timeout}s"
        if task.cancelled():
            return asyncio.CancelledError()
        return task.exception()

    @property
    def bot_running(self) -> bool:
        return self.task is not None and not self.task.done()

    def room(self, wijk: str, role: str) -> str:
        room_id = self.bridge.store.wijk_room(wijk, role)
        assert room_id is not None, f"no {role} room for {wijk}"
        return room_id

    def coordinator(self, wijk: str, index: int = 0) -> User:
        w = self.settings.wijk(wijk)
        assert w is not None
        return self.coordinators[w.coordinators[index]]

    def join_code(self, wijk: str) -> str:
        w = self.settings.wijk(wijk)
        assert w is not None
        return w.join_code.get_secret_value()

    async def new_member(self, register: Callable[..., Account], name: str = "lid") -> Member:
        """A resident who starts a DM with the bot, joins the bot's room, and is welcomed."""
        display_name = f"Bewoner {uuid.uuid4().hex[:4]}"
        account = register(name, displayname=display_name)
        user = await make_user(account, self.homeserver.url, self.tmp / "members" / account.user_id)
        self.users.append(user)
        dm = await user.client.room_create(
            is_direct=True,
            invite=[self.settings.bot.user_id],
            initial_state=[
                {
                    "type": "m.room.encryption",
                    "state_key": "",
                    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
                }
            ],
        )
        assert isinstance(dm, nio.RoomCreateResponse)
        welcome = await user.wait_for_event(
            lambda e: e.room_id != dm.room_id and e.fields.get("kind") == "notice",
            what="the welcome in the bot's private room",
        )
        member = Member(
            user=user, dm_room=dm.room_id, private_room=welcome.room_id, display_name=display_name
        )
        self.members.append(member)
        return member

    async def signed_up_member(
        self, register: Callable[..., Account], wijk: str, name: str = "lid"
    ) -> Member:
        member = await self.new_member(register, name)
        await member.user.say(member.private_room, self.join_code(wijk))
        await member.user.wait_for_event(
            lambda e: e.room_id == member.private_room and "aangemeld" in e.body,
            what="the sign-up confirmation",
        )
        return member

    def sent_to(self, room_id: str) -> list[Sent]:
        return [s for s in self.sent if s.room_id == room_id]

    def assert_no_member_leaks(self) -> None:
        """Scan every field of everything the bot sent, and of every bot event a coordinator or
        police officer decrypted, for each member's identifiers; run after every test that
        used this world. A member who chose `!persoonlijk ja` is exempt: that is their choice.
        """
        revealed = {
            s.content[FIELD].get("user_id")
            for s in self.sent
            if isinstance(s.content.get(FIELD), dict) and s.content[FIELD].get("revealed")
        }
        bot = self.settings.bot.user_id
        staff_seen = [
            (e.room_id, e.source)
            for user in [*self.coordinators.values(), *self.police.values()]
            for e in user.events
            if e.sender == bot
        ]
        for member in self.members:
            if member.user_id in revealed:
                continue
            own = {member.private_room, member.dm_room}
            trace = MemberTrace(
                user_id=member.user_id,
                display_name=member.display_name,
                room_ids=sorted(own),
                event_ids=list(member.user.sent_event_ids),
            )
            assert_no_leaks([s.content for s in self.sent if s.room_id not in own], trace)
            assert_no_leaks([e for room_id, e in staff_seen if room_id not in own], trace)


@dataclass
class Member:
    """A resident in the world, with their private room and their own DM room."""

    user: User
    dm_room: str
    private_room: str
    display_name: str | None = None

    @property
    def user_id(self) -> str:
        return self.user.user_id


def wijk_settings(slug: str, coordinators: list[str], police: list[str]) -> WijkSettings:
    return WijkSettings(
        slug=slug,
        name=f"Wijk {slug.capitalize()}",
        join_code=SecretStr(f"code-{slug}-{uuid.uuid4().hex[:6]}"),
        coordinators=coordinators,
        police=police,
    )


@contextlib.asynccontextmanager
async def running_world(
    homeserver: EmbeddedHomeserver,
    register: Callable[..., Account],
    tmp: Path,
    wijken: tuple[str, ...] = ("oost",),
    coordinators_per_wijk: int = 2,
    **relay: Any,
) -> AsyncIterator[World]:
    """Start a bot with fresh accounts and rooms; yield the world; stop everything."""
    bot_account = register("bin-bot", displayname="BIN")
    staff: dict[str, User] = {}
    police: dict[str, User] = {}
    wijk_list = []
    for slug in wijken:
        cos = []
        for i in range(coordinators_per_wijk):
            acc = register(f"co{i}-{slug}")
            staff[acc.user_id] = await make_user(acc, homeserver.url, tmp / "staff" / acc.user_id)
            cos.append(acc.user_id)
        acc = register(f"politie-{slug}")
        police[acc.user_id] = await make_user(acc, homeserver.url, tmp / "staff" / acc.user_id)
        wijk_list.append(wijk_settings(slug, cos, [acc.user_id]))
    settings = BridgeSettings(
        homeserver=HomeserverSettings(url=homeserver.url),
        bot=BotSettings(
            user_id=bot_account.user_id,
            device_id=bot_account.device_id,
            access_token=SecretStr(bot_account.access_token),
            data_dir=tmp / "bot",
        ),
        wijken=wijk_list,
        relay=relay or {},
    )
    world = World(homeserver, settings, staff, police, tmp)
    try:
        await world.start_bot()
        for user in [*staff.values(), *police.values()]:
            await user.sync()  # accept the invites to the wijk rooms
        for user in [*staff.values(), *police.values()]:
            await user.sync()  # and see the rooms as joined
        yield world
        world.assert_no_member_leaks()
    finally:
        if world.task is not None:
            world.stop.set()
            await asyncio.wait({world.task}, timeout=30)
            world.task = None
        for user in [*staff.values(), *police.values(), *world.users]:
            await user.close()


async def _ready_or_crash(bridge: Bridge, task: asyncio.Task[None]) -> None:
    ready = asyncio.ensure_future(bridge.ready.wait())
    done, _ = await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        ready.cancel()
        task.result()  # raises the bot's start-up error
        raise AssertionError("the bot stopped before it was ready")


async def _run_recording(bridge: Bridge, world: World, stop: asyncio.Event) -> None:
    """Run the bot, recording the plaintext of every event it sends (for the leak scanner)."""
    original = nio.AsyncClient.room_send

    async def recording(
        client: nio.AsyncClient,
        room_id: str,
        message_type: str,
        content: dict[str, Any],
        *a: Any,
        **kw: Any,
    ) -> Any:
        if client is bridge.client:
            world.sent.append(Sent(room_id, message_type, content, kw.get("tx_id")))
        return await original(client, room_id, message_type, content, *a, **kw)

    with _patched(nio.AsyncClient, "room_send", recording):
        await bridge.run(stop)


@contextlib.contextmanager
def _patched(owner: Any, name: str, value: Any) -> Any:
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


async def client_api(
    url: str, token: str, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    """A raw client-server API call, as any other Matrix client would make it; the answer is
    parsed JSON, or the bytes of anything else (a media download)."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method,
            url + path,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        if "json" not in response.headers.get("Content-Type", "application/json"):
            return response.status, await response.read()
        return response.status, await response.json(content_type=None)


# --- the bot as a real process (fault injection, CLI tests) -----------------------------------


def write_bot_config(
    path: Path,
    homeserver_url: str,
    bot: Account,
    data_dir: Path,
    wijken: list[WijkSettings],
    extra: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """Write a bot config file (TOML) the way an operator would: the bot's existing session."""
    lines = [
        "[homeserver]",
        f"url = {dump_toml_value(homeserver_url)}",
        "",
        "[bot]",
        f"user_id = {dump_toml_value(bot.user_id)}",
        f"device_id = {dump_toml_value(bot.device_id)}",
        f"access_token = {dump_toml_value(bot.access_token)}",
        f"data_dir = {dump_toml_value(str(data_dir))}",
        "",
    ]
    for section, values in (extra or {}).items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {dump_toml_value(value)}" for key, value in values.items()]
        lines.append("")
    for wijk in wijken:
        lines += [
            "[[wijken]]",
            f"slug = {dump_toml_value(wijk.slug)}",
            f"name = {dump_toml_value(wijk.name)}",
            f"join_code = {dump_toml_value(wijk.join_code.get_secret_value())}",
            f"coordinators = {dump_toml_value(wijk.coordinators)}",
            f"police = {dump_toml_value(wijk.police)}",
            "",
        ]
    path.write_text("\n".join(lines))
    path.chmod(0o600)
    return path


@dataclass
class BotProcess:
    """`python -m bridge run --config FILE` as a child process that a test may kill at will."""

    config: Path
    data_dir: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    startup_s: list[float] = field(default_factory=list)
    """For each start that got there: seconds from spawn until the bot said it was ready."""
    _spawned: float = 0.0

    @property
    def status_file(self) -> Path:
        return self.data_dir / "status.json"

    @property
    def stderr_file(self) -> Path:
        return self.log.with_name(self.log.name + ".stderr")

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.status_file.unlink(missing_ok=True)
        command = [sys.executable, "-m", "bridge", "run", "--config", str(self.config)]
        # stderr goes to a file: an unread pipe would block the bot once it is full.
        with self.stderr_file.open("ab") as stderr:
            self.process = subprocess.Popen(
                [*command, "--log-file", str(self.log)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        self.starts += 1
        self._spawned = time.monotonic()

    def status(self) -> dict[str, Any]:
        try:
            value = json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    @property
    def ready(self) -> bool:
        return bool(self.status().get("ready"))

    async def wait_ready(self, timeout: float = 60) -> dict[str, Any]:  # noqa: ASYNC109
        """Until the bot wrote a ready status; its stderr is shown if it died instead."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if status.get("ready"):
                if len(self.startup_s) < self.starts:
                    self.startup_s.append(time.monotonic() - self._spawned)
                return status
            assert self.process is not None
            if self.process.poll() is not None:
                stderr = self.stderr_file.read_text(errors="replace")[-4000:]
                raise AssertionError(f"the bot exited with {self.process.returncode}: {stderr}")
            if time.monotonic() > deadline:
                raise Timeout(f"the bot was not ready within {timeout}s")
            await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no handler, no clean-up, exactly like a power cut of the process."""
        assert self.process is not None
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.kills += 1
        self.process.wait()

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM and wait: the bot's clean shutdown."""
        assert self.process is not None
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the bot did not stop within {timeout}s of SIGTERM") from None

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()


async def open_private_room(user: User, bot_user_id: str) -> tuple[str, str]:
    """Start a DM with the bot; wait for the bot's own private room and its welcome.

    Returns (the member's DM room, the bot's private room).
    """
    dm = await user.client.room_create(
        is_direct=True,
        invite=[bot_user_id],
        initial_state=[
            {
                "type": "m.room.encryption",
                "state_key": "",
                "content": {"algorithm": "m.megolm.v1.aes-sha2"},
            }
        ],
    )
    assert isinstance(dm, nio.RoomCreateResponse)
    welcome = await user.wait_for_event(
        lambda e: e.room_id != dm.room_id and e.fields.get("kind") == "notice",
        timeout=60,
        what="the welcome in the bot's private room",
    )
    return dm.room_id, welcome.room_id


async def sign_up(user: User, private_room: str, join_code: str) -> None:
    """Send the join code; wait for the confirmation."""
    await user.say(private_room, join_code)
    await user.wait_for_event(
        lambda e: e.room_id == private_room and "aangemeld" in e.body,
        timeout=60,
        what="the sign-up confirmation",
    )
