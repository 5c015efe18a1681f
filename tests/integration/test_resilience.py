"""The bot rides out a homeserver that drops connections, hangs, or restarts — losing nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge import bot as bot_module
from bridge.homeserver import Account, EmbeddedHomeserver, register_user
from tests.conftest import MakeAccount
from tests.integration.harness import running_world
from tests.integration.test_restart import desk_copies, wait_until_relayed

pytestmark = pytest.mark.integration


class CuttingProxy:
    """A TCP proxy between the bot and Synapse that can cut every connection, or swallow them."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.writers: set[asyncio.StreamWriter] = set()
        self.blackhole = False
        self.connections = 0
        self.cuts = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.add(writer)
        if self.blackhole:
            return  # accepted, never answered: what a hung load balancer looks like
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.writers.add(up_writer)
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    def cut(self) -> None:
        """Close every open connection, in both directions."""
        self.cuts += 1
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()

    async def close(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
def quick_watchdog(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Short long-polls and a short watchdog, so a hung sync is noticed within seconds."""
    monkeypatch.setattr(bot_module, "SYNC_TIMEOUT_MS", 2000)
    monkeypatch.setattr(bot_module, "SYNC_GRACE_S", 3.0)
    monkeypatch.setattr(bot_module, "MAX_BACKOFF_S", 2.0)
    yield


async def test_cut_connections_and_a_hung_sync_lose_and_repeat_nothing(
    homeserver: EmbeddedHomeserver,
    make_account: MakeAccount,
    tmp_path: Path,
    quick_watchdog: None,
) -> None:
    proxy = CuttingProxy(homeserver.port)
    url = await proxy.start()
    try:
        async with running_world(
            homeserver, make_account, tmp_path, rate_limit_per_minute=1000
        ) as world:
            member = await world.signed_up_member(make_account, "oost")
            await world.stop_bot()
            world.settings = world.settings.model_copy(
                update={"homeserver": world.settings.homeserver.model_copy(update={"url": url})}
            )
            await world.start_bot()
            texts = []
            for round_ in range(6):
                for i in range(3):
                    text = f"Ronde {round_} bericht {i}"
                    texts.append(text)
                    await member.user.say(member.private_room, text)
                await asyncio.sleep(0.3)
                proxy.cut()
            await wait_until_relayed(world, texts)
            # A sync that hangs: connections are accepted but never answered. (The bot is idle
            # now, in its long-poll; a hung *send* is bounded by nio's request timeout instead.)
            proxy.blackhole = True
            proxy.cut()
            hung_before = world.bridge.hung_syncs
            for _ in range(100):
                if world.bridge.hung_syncs > hung_before:
                    break
                await asyncio.sleep(0.1)
            assert world.bridge.hung_syncs > hung_before
            late = "Terwijl de verbinding hangt"
            texts.append(late)
            await member.user.say(member.private_room, late)
            proxy.blackhole = False
            proxy.cut()
            await wait_until_relayed(world, texts)

            coordinator = world.coordinator("oost")
            desk = world.room("oost", "desk")
            counts = [len(desk_copies(coordinator, desk, t)) for t in texts]
            assert counts == [1] * 19
            assert world.bot_running
            assert proxy.cuts == 8
            assert world.bridge.sync_failures == 0  # recovered
    finally:
        await proxy.close()


async def test_a_synapse_restart_mid_stream_loses_and_repeats_nothing(
    tmp_path: Path, quick_watchdog: None
) -> None:
    """On a homeserver of its own: stopping it must not disturb the other tests."""
    with EmbeddedHomeserver(tmp_path / "synapse", fast_test_mode=True) as server:

        def register(prefix: str = "user", **kw: object) -> Account:
            localpart = f"{prefix.lower()}-{uuid.uuid4().hex[:12]}"
            return register_user(
                server.url,
                server.registration_shared_secret,
                localpart,
                **kw,  # type: ignore[arg-type]
            )

        async with running_world(
            server, register, tmp_path / "world", rate_limit_per_minute=1000
        ) as world:
            member = await world.signed_up_member(register, "oost")
            first = [f"Voor de herstart van Synapse {i}" for i in range(5)]
            for text in first:
                await member.user.say(member.private_room, text)
            server.stop()  # mid-stream: the bot may be relaying right now
            await asyncio.sleep(2)
            assert world.bot_running
            server.start()
            second = [f"Na de herstart van Synapse {i}" for i in range(5)]
            for text in second:
                await member.user.say(member.private_room, text)
            await wait_until_relayed(world, first + second)

            coordinator = world.coordinator("oost")
            desk = world.room("oost", "desk")
            counts = [len(desk_copies(coordinator, desk, t)) for t in first + second]
            assert counts == [1] * 10
            assert world.bot_running
            assert world.bridge.store.pending_sends() == []
