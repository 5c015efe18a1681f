"""A pool process holding many members: real E2EE nio clients (Olm/Megolm keys in memory).

The benchmark runs two or more of these next to the bot, so that a thousand members decrypting
a broadcast do not share one event loop with the code that measures. Commands arrive as JSON
lines on stdin, each with an `id`; each is handled in its own task and answered with one JSON
line on stdout carrying the same `id`.

    add      {accounts: [{user_id, device_id, access_token}]}   log in, upload keys
    join     {rooms: {user_id: [room_id, ...]}}                  join, then a full-state sync
    listen   {users, marker}                                     catch up, then long-poll
    progress {marker}                                            how many have it so far
    collect  {marker, timeout, linger}                           wait for all, stop listening
    rss      {}                                                  this process's memory
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from typing import Any

from bench.common import Client, make_client, now, rss_mb, until
from bridge.homeserver import Account

CONCURRENCY = 6


class Pool:
    def __init__(self, url: str) -> None:
        self.url = url
        self.clients: dict[str, Client] = {}
        self.listening: dict[str, list[str]] = {}
        self.out_lock = asyncio.Lock()

    async def reply(self, message: dict[str, Any]) -> None:
        async with self.out_lock:
            sys.stdout.write(json.dumps(message) + "\n")
            sys.stdout.flush()

    async def handle(self, command: dict[str, Any]) -> None:
        ident = command.get("id")
        try:
            result = await getattr(self, "op_" + command["op"])(command)
            await self.reply({"id": ident, "ok": True, **result})
        except Exception as exc:
            await self.reply({"id": ident, "ok": False, "error": f"{type(exc).__name__}: {exc}"})

    async def _each(self, items: list[Any], work: Any) -> None:
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def one(item: Any) -> None:
            async with semaphore:
                await work(item)

        await asyncio.gather(*(one(item) for item in items))

    async def op_add(self, command: dict[str, Any]) -> dict[str, Any]:
        started = now()

        async def add(raw: dict[str, str]) -> None:
            account = Account(raw["user_id"], "", raw["access_token"], raw["device_id"])
            client = make_client(account, self.url)
            client.keep = False
            self.clients[account.user_id] = client
            uploaded = await client.nio.keys_upload()
            if type(uploaded).__name__ != "KeysUploadResponse":
                raise RuntimeError(f"keys upload failed: {uploaded}")

        await self._each(command["accounts"], add)
        return {"seconds": now() - started, "clients": len(self.clients)}

    async def op_join(self, command: dict[str, Any]) -> dict[str, Any]:
        started = now()

        async def join(item: tuple[str, list[str]]) -> None:
            user, rooms = item
            client = self.clients[user]
            for room_id in rooms:
                response = await client.nio.join(room_id)
                if type(response).__name__ != "JoinResponse":
                    raise RuntimeError(f"join failed: {response}")
            await client.sync_once()

        await self._each(list(command["rooms"].items()), join)
        return {"seconds": now() - started}

    async def op_listen(self, command: dict[str, Any]) -> dict[str, Any]:
        users: list[str] = command["users"]
        marker: str = command["marker"]
        before = {}
        for user in users:
            client = self.clients[user]
            client.seen.clear()
            client.keep = True
            if client.running:
                continue  # still long-polling from the previous phase: live already
            before[user] = client.syncs
            client.start()
        # Every client has caught up (its first sync returned) and is long-polling.
        await until(
            lambda: all(self.clients[u].syncs > n for u, n in before.items()), 600, "catching up"
        )
        self.listening[marker] = users
        return {"listening": len(users)}

    def _arrivals(self, marker: str) -> dict[str, list[float]]:
        return {
            user: [s.at for s in self.clients[user].seen if marker in s.text]
            for user in self.listening.get(marker, [])
        }

    async def op_progress(self, command: dict[str, Any]) -> dict[str, Any]:
        arrivals = self._arrivals(command["marker"])
        return {"received": sum(1 for times in arrivals.values() if times)}

    async def op_collect(self, command: dict[str, Any]) -> dict[str, Any]:
        marker: str = command["marker"]
        deadline = now() + float(command.get("timeout", 300))
        while now() < deadline:
            if all(self._arrivals(marker).values()):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(float(command.get("linger", 0)))
        arrivals = self._arrivals(marker)
        users = self.listening.pop(marker, [])
        for user in users:
            client = self.clients[user]
            if command.get("stop", True):
                await client.stop()
                client.keep = False
            client.seen.clear()
        return {
            "first": {user: min(times) for user, times in arrivals.items() if times},
            "copies": {user: len(times) for user, times in arrivals.items()},
            "errors": sum(self.clients[user].errors for user in users),
        }

    async def op_rss(self, command: dict[str, Any]) -> dict[str, Any]:
        return {"rss_mb": rss_mb(os.getpid())}

    async def close(self) -> None:
        await asyncio.gather(*(client.close() for client in self.clients.values()))


async def serve(url: str) -> None:
    pool = Pool(url)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tasks: set[asyncio.Task[None]] = set()
    while line := await reader.readline():
        command = json.loads(line)
        if command.get("op") == "quit":
            break
        task = asyncio.create_task(pool.handle(command))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await pool.close()


def main() -> None:
    # nio warns about routine key exchanges; stdout carries the protocol only.
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    asyncio.run(serve(sys.argv[1]))


if __name__ == "__main__":
    main()
