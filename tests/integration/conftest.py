"""Session fixtures for the production-shaped runs: PostgreSQL, and Synapse from `bin-bridge init`.

Started only when a test asks for them. Never skipped: if PostgreSQL is missing it is installed
(as root, from Debian), and if that is impossible the tests fail and say why.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import shutil
import uuid
from collections.abc import Iterator

import pytest

from bridge.deploy import lift_ratelimit
from bridge.homeserver import Account, register_user
from tests.conftest import MakeAccount
from tests.integration.production import LocalCA, PostgresCluster, ProductionSynapse, new_synapse


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def production_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[ProductionSynapse, ...]:
    """Two server names reserved up front, so that each can allow the other to federate."""
    root = tmp_path_factory.mktemp("production")
    return new_synapse(root, "a"), new_synapse(root, "b")


@pytest.fixture(scope="session")
def local_ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    return LocalCA.make(tmp_path_factory.mktemp("ca"))


def _start(
    server: ProductionSynapse,
    postgres: PostgresCluster,
    ca: LocalCA,
    peer: ProductionSynapse,
    db: str,
) -> None:
    server.init(postgres, db, ["oost:Wijk Oost"])
    server.start(server.write_test_overlay(ca, [peer.server_name]))


@pytest.fixture(scope="session")
def production_homeserver(
    postgres: PostgresCluster,
    production_pair: tuple[ProductionSynapse, ...],
    local_ca: LocalCA,
) -> Iterator[ProductionSynapse]:
    """Synapse on PostgreSQL from `bin-bridge init`'s config, Synapse's default rate limits."""
    server, peer = production_pair
    try:
        _start(server, postgres, local_ca, peer, "synapse_a")
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.data / "media", ignore_errors=True)


@pytest.fixture(scope="session")
def federated_homeserver(
    production_homeserver: ProductionSynapse,
    postgres: PostgresCluster,
    production_pair: tuple[ProductionSynapse, ...],
    local_ca: LocalCA,
) -> Iterator[ProductionSynapse]:
    """A second such Synapse that federates with the first over TLS on loopback."""
    peer, server = production_pair
    try:
        _start(server, postgres, local_ca, peer, "synapse_b")
        yield server
    finally:
        server.stop()


def run_async(coroutine: object) -> object:
    """Run a coroutine to completion from sync code that may itself be inside an event loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()  # type: ignore[arg-type]


def account_factory(server: ProductionSynapse) -> MakeAccount:
    """`make_account` for a production Synapse; a bot's rate limits are lifted as in production."""

    def make(
        prefix: str = "user",
        *,
        admin: bool = False,
        displayname: str | None = None,
        device_id: str | None = None,
    ) -> Account:
        localpart = f"{prefix.lower()}-{uuid.uuid4().hex[:12]}"
        account = register_user(
            server.url,
            server.registration_shared_secret,
            localpart,
            admin=admin,
            displayname=displayname,
            device_id=device_id,
        )
        if prefix == "bin-bot":  # what `bin-bridge setup-bot` does for the real bot
            run_async(
                lift_ratelimit(server.url, server.registration_shared_secret, account.user_id)
            )
        return account

    return make


@pytest.fixture
def make_production_account(production_homeserver: ProductionSynapse) -> MakeAccount:
    return account_factory(production_homeserver)
