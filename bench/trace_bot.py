"""`python -m bench.trace_bot run --config FILE`: the bot, with a timeline of one relayed
message's steps written to `$BIN_TRACE` (JSON lines). For finding what bounds relay latency;
the benchmark uses it with `--trace-bot`. Only timings are written: no ids, no content.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import nio

from bridge import __main__ as cli
from bridge import bot, forget, store

OUT = open(os.environ.get("BIN_TRACE", "/dev/null"), "a", buffering=1)  # noqa: SIM115


def mark(step: str, **extra: Any) -> None:
    OUT.write(json.dumps({"t": time.monotonic(), "step": step, **extra}) + "\n")


def timed_async(owner: Any, name: str, step: str, detail: Callable[..., Any] | None = None) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            return await original(*args, **kwargs)
        finally:
            info = detail(*args, **kwargs) if detail else {}
            mark(step, s=time.monotonic() - started, start=started, **info)

    setattr(owner, name, wrapper)


def timed(owner: Any, name: str, step: str) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            return original(*args, **kwargs)
        finally:
            mark(step, s=time.monotonic() - started, start=started)

    setattr(owner, name, wrapper)


def trace_transactions() -> None:
    original = store.Store.transaction

    @contextlib.contextmanager
    def transaction(self: store.Store) -> Iterator[Any]:
        started = time.monotonic()
        with original(self) as db:
            yield db
        mark("store.transaction", s=time.monotonic() - started, start=started)

    store.Store.transaction = transaction  # type: ignore[method-assign,assignment]


def what_if(changes: set[str]) -> None:
    """Proposed changes, applied here only, to measure what they would bring.

    sync-normal: the bridge's store with `PRAGMA synchronous=NORMAL` (WAL): commits are not
        fsynced; a process crash loses nothing, a power cut may lose the last transactions,
        which the event-derived transaction ids make harmless to repeat.
    """
    if "sync-normal" in changes:
        opened = store.Store.__init__

        def init(self: store.Store, path: Any) -> None:
            opened(self, path)
            self._db.execute("PRAGMA synchronous=NORMAL")

        store.Store.__init__ = init  # type: ignore[method-assign]


def main() -> int:
    what_if({c for c in os.environ.get("BIN_WHAT_IF", "").split(",") if c})
    timed_async(
        nio.AsyncClient,
        "sync",
        "nio.sync",
        lambda self, *a, **k: {"timeout": k.get("timeout")},
    )
    timed_async(nio.AsyncClient, "room_send", "nio.room_send")
    timed_async(nio.AsyncClient, "share_group_session", "nio.share_group_session")
    timed_async(
        nio.AsyncClient,
        "keys_query",
        "nio.keys_query",
        lambda self, *a, **k: {"tracked": len(self.olm.tracked_users) if self.olm else 0},
    )
    timed_async(nio.AsyncClient, "keys_claim", "nio.keys_claim")
    timed_async(nio.AsyncClient, "send_to_device_messages", "nio.send_to_device_messages")
    timed_async(bot.Bridge, "_dispatch", "bot._dispatch")
    timed_async(bot.Bridge, "_handle_batch", "bot._handle_batch")
    timed_async(bot.Bridge, "_flush_outbox", "bot._flush_outbox")
    timed_async(
        bot.Bridge,
        "_maintain_keys",
        "bot._maintain_keys",
        lambda self, client, response, *a, **k: {
            "changed": len(response.device_list.changed),
            "rooms": len(response.rooms.join),
        },
    )
    timed(bot.Bridge, "_write_status", "bot._write_status")
    timed(forget, "forget_up_to", "forget.forget_up_to")
    trace_transactions()
    return cli.main()


if __name__ == "__main__":
    raise SystemExit(main())


def relay_breakdown(path: str, trips: list[tuple[float, float]]) -> dict[str, float]:
    """Median milliseconds of each leg of a relayed message, from the trace and the
    benchmark's (sent, received) times: member send → bot's sync returns → the bot's desk
    send starts → it is accepted → the coordinator has it."""
    events = [json.loads(line) for line in open(path)]  # noqa: SIM115
    syncs = sorted(e["t"] for e in events if e["step"] == "nio.sync" and e.get("timeout"))
    dispatches = sorted((e["start"], e["t"]) for e in events if e["step"] == "bot._dispatch")
    sends = sorted((e["start"], e["t"]) for e in events if e["step"] == "nio.room_send")
    forgets = sorted((e["start"], e["t"]) for e in events if e["step"] == "forget.forget_up_to")
    commits = sorted((e["start"], e["t"]) for e in events if e["step"] == "store.transaction")
    legs: dict[str, list[float]] = {}

    def add(name: str, seconds: float) -> None:
        legs.setdefault(name, []).append(seconds * 1000)

    for sent, received in trips:
        synced = next((t for t in syncs if t > sent), None)
        dispatch = next((d for d in dispatches if synced and d[0] >= synced), None)
        if synced is None or dispatch is None or dispatch[0] > received:
            continue
        send = next((s for s in sends if s[0] >= dispatch[0]), None)
        if send is None or send[0] > received:
            continue
        add("member send to bot sync returned", synced - sent)
        add("sync returned to dispatch", dispatch[0] - synced)
        add("dispatch to desk send", send[0] - dispatch[0])
        add("desk send (encrypt + HTTP)", send[1] - send[0])
        add("desk send accepted to coordinator has it", received - send[1])
        add(
            "commits before the desk send",
            sum(c[1] - c[0] for c in commits if dispatch[0] <= c[0] and c[1] <= send[0]),
        )
        add(
            "key forgetting before the desk send",
            sum(f[1] - f[0] for f in forgets if dispatch[0] <= f[0] and f[1] <= send[0]),
        )
        add("total", received - sent)
    return {name: sorted(values)[len(values) // 2] for name, values in legs.items()}
