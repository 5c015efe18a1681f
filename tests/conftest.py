"""Shared fixtures: one real Synapse per test run, and fresh users on it for each test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from bridge.homeserver import Account, EmbeddedHomeserver, register_user

# A factory that registers a new, unique user; see `make_account` below.
MakeAccount = Callable[..., Account]


@pytest.fixture(scope="session")
def homeserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedHomeserver]:
    """A real Synapse on 127.0.0.1 and a free port, started once for the whole run.

    Never skipped: integration tests always run, in CI too. It is only started when a test
    asks for it, so `make unit` stays fast. `fast_test_mode` lowers bcrypt to 4 rounds.
    """
    data_dir = tmp_path_factory.mktemp("synapse")
    with EmbeddedHomeserver(data_dir, fast_test_mode=True) as server:
        yield server


@pytest.fixture
def make_account(homeserver: EmbeddedHomeserver) -> MakeAccount:
    """Return `make(prefix="user", *, admin=False, displayname=None, device_id=None)`.

    Each call registers a new user with a unique localpart (`prefix-<uuid>`), because the
    homeserver is shared by every test in the run. It is synchronous (~15-40 ms per user);
    async code that must not block can use `bridge.homeserver.register_user_async` instead.
    """

    def make(
        prefix: str = "user",
        *,
        admin: bool = False,
        displayname: str | None = None,
        device_id: str | None = None,
    ) -> Account:
        localpart = f"{prefix.lower()}-{uuid.uuid4().hex[:12]}"
        return register_user(
            homeserver.url,
            homeserver.registration_shared_secret,
            localpart,
            admin=admin,
            displayname=displayname,
            device_id=device_id,
        )

    return make
