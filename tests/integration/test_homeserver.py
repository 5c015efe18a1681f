"""The embedded Synapse: its generated config, its lifecycle and shared-secret registration."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from bridge.homeserver import (
    Account,
    EmbeddedHomeserver,
    HomeserverError,
    register_user,
    register_user_async,
)

pytestmark = pytest.mark.integration

# The factory returned by the `make_account` fixture in tests/conftest.py.
MakeAccount = Callable[..., Account]

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(url: str, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with _DIRECT.open(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _answers(url: str) -> bool:
    try:
        return _get(url + "/_matrix/client/versions")[0] == 200
    except (urllib.error.URLError, OSError):
        return False


def _connection_refused(host: str, port: int, family: socket.AddressFamily) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        try:
            probe.connect((host, port))
        except OSError:
            return True
    return False


def _config(homeserver: EmbeddedHomeserver) -> dict[str, Any]:
    loaded = yaml.safe_load(homeserver.config_path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


# -- the running server ----------------------------------------------------------------------


def test_the_homeserver_answers_on_127_0_0_1_only(homeserver: EmbeddedHomeserver) -> None:
    assert homeserver.url == f"http://127.0.0.1:{homeserver.port}"
    status, versions = _get(homeserver.url + "/_matrix/client/versions")
    assert status == 200
    assert versions["versions"]

    # Other loopback addresses reach the same machine but not a socket bound to 127.0.0.1.
    assert _connection_refused("127.0.0.2", homeserver.port, socket.AF_INET)
    if socket.has_ipv6:
        assert _connection_refused("::1", homeserver.port, socket.AF_INET6)


def test_the_federation_and_key_apis_are_not_served(homeserver: EmbeddedHomeserver) -> None:
    assert _get(homeserver.url + "/_matrix/federation/v1/version")[0] == 404
    assert _get(homeserver.url + "/_matrix/key/v2/server")[0] == 404


def test_a_second_homeserver_on_a_running_data_dir_is_refused(
    homeserver: EmbeddedHomeserver,
) -> None:
    intruder = EmbeddedHomeserver(homeserver.data_dir, fast_test_mode=True)
    with pytest.raises(HomeserverError, match="already running"):
        intruder.start()
    with pytest.raises(HomeserverError, match="already running"):
        intruder.prepare()
    assert homeserver.is_running()
    assert _answers(homeserver.url)


def test_the_homeserver_log_holds_no_secrets_or_tokens(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount
) -> None:
    account = make_account("logcheck")
    _get(homeserver.url + "/_matrix/client/v3/account/whoami", account.access_token)
    log = homeserver.log_path.read_text(encoding="utf-8")
    for secret in (homeserver.registration_shared_secret, account.password, account.access_token):
        assert secret not in log


# -- the generated configuration -------------------------------------------------------------


def test_the_generated_config_listens_for_clients_only_on_loopback(
    homeserver: EmbeddedHomeserver,
) -> None:
    config = _config(homeserver)
    assert config["listeners"] == [
        {
            "port": homeserver.port,
            "bind_addresses": ["127.0.0.1"],
            "type": "http",
            "tls": False,
            "x_forwarded": False,
            "resources": [{"names": ["client"], "compress": False}],
        }
    ]
    assert config["database"]["name"] == "sqlite3"
    assert Path(config["database"]["args"]["database"]).parent == homeserver.data_dir
    assert Path(config["media_store_path"]) == homeserver.data_dir / "media"


def test_the_generated_config_makes_no_outbound_connections(
    homeserver: EmbeddedHomeserver,
) -> None:
    config = _config(homeserver)
    assert config["trusted_key_servers"] == []
    assert config["federation_domain_whitelist"] == []
    assert config["report_stats"] is False
    assert config["url_preview_enabled"] is False
    assert config["presence"] == {"enabled": False}


def test_the_generated_config_allows_registration_only_by_shared_secret(
    homeserver: EmbeddedHomeserver,
) -> None:
    config = _config(homeserver)
    assert config["enable_registration"] is False
    assert len(config["registration_shared_secret"]) >= 32
    assert config["registration_shared_secret"] == homeserver.registration_shared_secret


def test_the_generated_config_keeps_little_about_members(homeserver: EmbeddedHomeserver) -> None:
    config = _config(homeserver)
    assert config["redaction_retention_period"] == "1d"
    assert config["user_ips_max_age"] == "1d"
    assert config["caches"]["sync_response_cache_duration"] == 0

    log_config = yaml.safe_load((homeserver.data_dir / "log.config.yaml").read_text())
    assert log_config["root"]["level"] == "WARNING"
    assert log_config["handlers"]["file"]["filename"] == str(homeserver.log_path)


def test_fast_test_mode_lowers_bcrypt_and_the_default_keeps_it(tmp_path: Path) -> None:
    fast = EmbeddedHomeserver(tmp_path / "fast", fast_test_mode=True)
    normal = EmbeddedHomeserver(tmp_path / "normal")
    fast.prepare()
    normal.prepare()
    assert _config(fast)["bcrypt_rounds"] == 4
    assert "bcrypt_rounds" not in _config(normal)  # Synapse's default: 12


def test_synapse_reads_every_raised_rate_limit(homeserver: EmbeddedHomeserver) -> None:
    # Parse the config with Synapse's own code, in a child so Synapse stays out of this process.
    script = textwrap.dedent(
        """
        import json, sys
        from synapse.config.homeserver import HomeServerConfig
        config = HomeServerConfig.load_config("check", ["-c", sys.argv[1]])
        limits = {
            name: [value.per_second, value.burst_count]
            for name, value in vars(config.ratelimiting).items()
            if name.startswith("rc_") and hasattr(value, "per_second")
        }
        print(json.dumps(limits))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(homeserver.config_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    limits = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(limits) >= 20
    too_low = {name: value for name, value in limits.items() if value[0] < 1000}
    assert too_low == {}


def test_secret_files_are_readable_by_their_owner_only(homeserver: EmbeddedHomeserver) -> None:
    for name in ("homeserver.yaml", "signing.key"):
        mode = stat.S_IMODE((homeserver.data_dir / name).stat().st_mode)
        assert mode == 0o600, f"{name} has mode {mode:o}"


def test_a_second_prepare_reuses_the_config_secret_signing_key_and_port(tmp_path: Path) -> None:
    first = EmbeddedHomeserver(tmp_path / "hs")
    config_path = first.prepare()
    config_text = config_path.read_text()
    key_text = (tmp_path / "hs" / "signing.key").read_text()
    config_mtime = config_path.stat().st_mtime_ns

    second = EmbeddedHomeserver(tmp_path / "hs")
    assert second.prepare() == config_path
    assert second.registration_shared_secret == first.registration_shared_secret
    assert second.port == first.port
    assert config_path.read_text() == config_text
    assert config_path.stat().st_mtime_ns == config_mtime
    assert (tmp_path / "hs" / "signing.key").read_text() == key_text


def test_a_busy_stored_port_is_replaced_by_a_free_one(tmp_path: Path) -> None:
    first = EmbeddedHomeserver(tmp_path / "hs")
    first.prepare()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", first.port))
        squatter.listen()
        second = EmbeddedHomeserver(tmp_path / "hs")
        second.prepare()
        assert second.port != first.port
    assert second.registration_shared_secret == first.registration_shared_secret
    assert _config(second)["listeners"][0]["port"] == second.port


def test_a_given_port_overrides_the_stored_one(tmp_path: Path) -> None:
    first = EmbeddedHomeserver(tmp_path / "hs")
    first.prepare()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        wanted = probe.getsockname()[1]
    second = EmbeddedHomeserver(tmp_path / "hs", port=wanted)
    second.prepare()
    assert second.url == f"http://127.0.0.1:{wanted}"
    assert _config(second)["public_baseurl"] == f"http://127.0.0.1:{wanted}/"


def test_a_data_dir_of_another_server_name_is_refused(tmp_path: Path) -> None:
    EmbeddedHomeserver(tmp_path / "hs", server_name="one.local").prepare()
    with pytest.raises(HomeserverError, match=r"one\.local"):
        EmbeddedHomeserver(tmp_path / "hs", server_name="two.local").prepare()


def test_a_homeserver_that_cannot_start_says_why_with_its_log(tmp_path: Path) -> None:
    broken = EmbeddedHomeserver(tmp_path / "hs", fast_test_mode=True)
    broken.prepare()
    (tmp_path / "hs" / "signing.key").write_text("not a key\n")
    with pytest.raises(HomeserverError, match="exited with code") as caught:
        broken.start(timeout=60)
    assert "homeserver.log" in str(caught.value)
    assert "Error reading signing_key" in str(caught.value)
    assert not broken.is_running()


# -- registration ----------------------------------------------------------------------------


def test_registering_a_user_returns_a_token_usable_for_whoami(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount
) -> None:
    account = make_account("alice", device_id="ALICEDEVICE")
    assert account.user_id.startswith("@alice-")
    assert account.user_id.endswith(":bin.local")
    assert account.device_id == "ALICEDEVICE"

    status, whoami = _get(
        homeserver.url + "/_matrix/client/v3/account/whoami", account.access_token
    )
    assert status == 200
    assert whoami["user_id"] == account.user_id
    assert whoami["device_id"] == "ALICEDEVICE"


def test_registering_sets_the_display_name(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount
) -> None:
    account = make_account("named", displayname="Buurtbewoner")
    status, profile = _get(
        homeserver.url + f"/_matrix/client/v3/profile/{account.user_id}/displayname",
        account.access_token,
    )
    assert status == 200
    assert profile["displayname"] == "Buurtbewoner"


def test_registering_a_taken_localpart_fails_with_m_user_in_use(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount
) -> None:
    taken = make_account("taken").user_id[1:].split(":")[0]
    with pytest.raises(HomeserverError) as caught:
        register_user(homeserver.url, homeserver.registration_shared_secret, taken)
    assert caught.value.errcode == "M_USER_IN_USE"
    assert "M_USER_IN_USE" in str(caught.value)


def test_registering_with_a_wrong_secret_fails_clearly(homeserver: EmbeddedHomeserver) -> None:
    with pytest.raises(HomeserverError, match="HMAC incorrect") as caught:
        register_user(homeserver.url, "not-the-secret", "mallory")
    assert caught.value.status == 403
    assert "not-the-secret" not in str(caught.value)


def test_registering_against_no_server_fails_clearly() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(HomeserverError, match="cannot reach"):
        register_user(f"http://127.0.0.1:{port}", "secret", "nobody")


async def test_registering_from_async_code_returns_a_working_session(
    homeserver: EmbeddedHomeserver,
) -> None:
    account = await register_user_async(
        homeserver.url,
        homeserver.registration_shared_secret,
        f"async-{os.getpid()}-{time.time_ns()}",
    )
    headers = {"Authorization": f"Bearer {account.access_token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(homeserver.url + "/_matrix/client/v3/account/whoami", headers=headers) as r,
    ):
        assert r.status == 200
        assert (await r.json())["user_id"] == account.user_id

    with pytest.raises(HomeserverError) as caught:
        await register_user_async(homeserver.url, "wrong", "mallory-async")
    assert caught.value.status == 403


def test_an_account_never_shows_its_password_or_token() -> None:
    account = Account("@a:bin.local", "hunter2-password", "syt_secret_token", "DEVICE")
    assert "hunter2-password" not in repr(account)
    assert "syt_secret_token" not in repr(account)
    assert "DEVICE" in repr(account)


# -- `bin-bridge homeserver` -----------------------------------------------------------------


def _start_serve(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """Run `serve()` in a child and return it with the URL from its one line of output."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from bridge.homeserver import serve; "
            "sys.exit(serve(Path(sys.argv[1])))",
            str(data_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], 90)
    if not ready:
        child.kill()
        pytest.fail("serve() printed nothing within 90 s")
    line = child.stdout.readline()
    assert line.startswith("Homeserver draait op http://127.0.0.1:"), line
    assert f"(data: {data_dir})" in line
    return child, line.split()[3]


def _terminate(child: subprocess.Popen[str]) -> int:
    child.send_signal(signal.SIGTERM)
    return child.wait(timeout=30)


def test_serve_runs_until_sigterm_and_then_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "served"
    child, url = _start_serve(data_dir)
    try:
        assert _answers(url)
        secret = EmbeddedHomeserver(data_dir).registration_shared_secret
        account = register_user(url, secret, "survivor")
    finally:
        exit_code = _terminate(child)
    assert exit_code == 0, child.stderr.read() if child.stderr else ""
    assert not _answers(url)

    # A second run reuses the data dir: same port, and the account and its token still work.
    child, second_url = _start_serve(data_dir)
    try:
        assert second_url == url
        status, whoami = _get(url + "/_matrix/client/v3/account/whoami", account.access_token)
        assert (status, whoami["user_id"]) == (200, account.user_id)
    finally:
        assert _terminate(child) == 0
    assert not _answers(url)
