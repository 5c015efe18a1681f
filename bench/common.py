"""What every benchmark phase shares: nio clients that record when a message arrived, timing
figures, and process memory."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nio

from bridge.homeserver import Account
from bridge.protocol import FIELD

SYNC_FILTER: dict[str, Any] = {"room": {"timeline": {"limit": 100}}}
LONG_POLL_MS = 30_000
ENCRYPTED = {"algorithm": "m.megolm.v1.aes-sha2"}


def now() -> float:
    """The benchmark clock: CLOCK_MONOTONIC is system-wide on Linux, so the member worker
    processes and the main process can compare their readings."""
    return time.monotonic()


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rss_mb(pid: int) -> float:
    """Resident memory of a process from /proc, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def label_of(source: dict[str, Any]) -> str | None:
    """The report label (M-0001) of a bot message, from its nl.bin fields."""
    content = source.get("content")
    fields = content.get(FIELD) if isinstance(content, dict) else None
    label = fields.get("report") if isinstance(fields, dict) else None
    return label if isinstance(label, str) else None


def text_of(source: dict[str, Any]) -> str:
    """The words of a (decrypted) message: its nl.bin text field and its body."""
    content = source.get("content")
    if not isinstance(content, dict):
        return ""
    fields = content.get(FIELD)
    extra = str(fields.get("text", "")) if isinstance(fields, dict) else ""
    return f"{content.get('body', '')}\n{extra}"


@dataclass
class Seen:
    """One message as a client received it."""

    room_id: str
    event_id: str
    sender: str
    text: str
    encrypted: bool
    at: float
    """`now()` when the client had it decrypted in hand."""
    label: str | None = None
    """The report label in the bot's nl.bin fields, if any."""


Waiter = tuple[Callable[[Seen], bool], "asyncio.Future[Seen]"]


@dataclass
class Client:
    """A real Matrix client (matrix-nio, E2EE unless switched off) that syncs in a task and
    records when each message arrived."""

    account: Account
    nio: nio.AsyncClient
    auto_join: bool = True
    seen: list[Seen] = field(default_factory=list)
    keep: bool = True
    """Keep every message in `seen` (off for the members: they only answer waiters)."""
    _waiters: list[Waiter] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    errors: int = 0
    syncs: int = 0
    """Syncs completed so far."""

    @property
    def user_id(self) -> str:
        return self.account.user_id

    async def sync_once(self, wait_ms: int = 0) -> None:
        """One sync, with the key upkeep a real client does, joining invites if wanted."""
        since = self.nio.next_batch
        response = await self.nio.sync(
            timeout=wait_ms, full_state=not since, sync_filter=SYNC_FILTER
        )
        if not isinstance(response, nio.SyncResponse):
            raise ConnectionError(f"sync failed: {getattr(response, 'status_code', response)}")
        at = now()
        client = self.nio
        if client.olm is not None:
            if client.should_upload_keys:
                await client.keys_upload()
            if client.should_query_keys:
                await client.keys_query()
            if client.should_claim_keys:
                await client.keys_claim(client.get_users_for_key_claiming())
            await client.send_to_device_messages()
        if self.auto_join:
            for room_id in response.rooms.invite:
                await client.join(room_id)
        for room_id, info in response.rooms.join.items():
            for event in info.timeline.events:
                if isinstance(event, nio.RoomMessage):
                    self._arrived(
                        Seen(
                            room_id,
                            event.event_id,
                            event.sender,
                            text_of(event.source),
                            bool(getattr(event, "decrypted", False)),
                            at,
                            label_of(event.source),
                        )
                    )
        self.syncs += 1

    def _arrived(self, seen: Seen) -> None:
        if self.keep:
            self.seen.append(seen)
        for waiter in list(self._waiters):
            match, future = waiter
            if not future.done() and match(seen):
                future.set_result(seen)
                self._waiters.remove(waiter)

    def expect(self, match: Callable[[Seen], bool]) -> asyncio.Future[Seen]:
        """A future for the first message from now on that matches."""
        future: asyncio.Future[Seen] = asyncio.get_running_loop().create_future()
        self._waiters.append((match, future))
        return future

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Keep syncing (long-poll) in a task until `stop`."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        wait_ms = 0  # catch up first, then long-poll
        while True:
            try:
                await self.sync_once(wait_ms)
                wait_ms = LONG_POLL_MS
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed sync is retried, like any real client does
                self.errors += 1
                await asyncio.sleep(0.5)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def wait_for(
        self,
        match: Callable[[Seen], bool],
        timeout: float = 60,  # noqa: ASYNC109
        what: str = "a message",
    ) -> Seen:
        """The first matching message already seen, or the next one to arrive."""
        for seen in self.seen:
            if match(seen):
                return seen
        future = self.expect(match)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise TimeoutError(f"{self.user_id} waited {timeout:.0f} s for {what}") from None

    async def say(self, room_id: str, text: str) -> str:
        response = await self.nio.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": text},
            ignore_unverified_devices=True,
        )
        if not isinstance(response, nio.RoomSendResponse):
            raise RuntimeError(f"send failed: {response}")
        return str(response.event_id)

    async def close(self) -> None:
        await self.stop()
        await self.nio.close()


def make_client(
    account: Account,
    url: str,
    *,
    encryption: bool = True,
    store_dir: Path | None = None,
) -> Client:
    """A logged-in client for a registered account. Without `store_dir` its keys live in
    memory only (the member pool: cheap to create, still real Olm/Megolm)."""
    config = nio.AsyncClientConfig(
        encryption_enabled=encryption,
        store_sync_tokens=False,
        store=nio.store.SqliteMemoryStore if store_dir is None else nio.store.DefaultStore,
        request_timeout=120,
        max_timeouts=5,
    )
    if store_dir is not None:
        store_dir.mkdir(parents=True, exist_ok=True)
    client = nio.AsyncClient(
        url,
        account.user_id,
        device_id=account.device_id,
        store_path=str(store_dir) if store_dir is not None else "",
        config=config,
    )
    client.restore_login(account.user_id, account.device_id, account.access_token)
    return Client(account, client)


async def until(
    predicate: Callable[[], Any],
    limit: float = 120,
    what: str = "a condition",
    interval: float = 0.05,
) -> None:
    """Poll until `predicate()` (or its awaited result) is true; TimeoutError after `limit`."""
    deadline = now() + limit
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if now() > deadline:
            raise TimeoutError(f"waited {limit:.0f} s for {what}")
        await asyncio.sleep(interval)
