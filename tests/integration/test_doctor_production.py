"""`bin-bridge doctor` on a setup made by `bin-bridge init`: secret files, TLS and federation
on the public URL, Synapse's privacy settings, the bot's rate-limit override, the sign-up page."""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from bridge import doctor_production
from bridge.__main__ import main as bin_bridge
from bridge.doctor import Finding, diagnose
from bridge.homeserver import _free_port, register_user_async
from bridge.settings import BridgeSettings, load_settings
from bridge.signup import create_app, start_site
from tests.integration.production import NO_PROXY, LocalCA, ProductionSynapse

PRODUCTION_CHECKS = [
    doctor_production.secret_files,
    doctor_production.public_endpoints,
    doctor_production.synapse_settings,
    doctor_production.bot_rate_limit,
    doctor_production.signup_page,
]


def operator_config(server: ProductionSynapse, tmp: Path, public_url: str) -> Path:
    """init's bridge.toml, with the public URL of this test and a free port for the page."""
    text = server.bridge_config.read_text()
    text = re.sub(r'client_url = ".*"', f'client_url = "{public_url}"', text, count=1)
    text = re.sub(r"listen_port = \d+", f"listen_port = {_free_port()}", text, count=1)
    text = re.sub(r'data_dir = ".*"', f'data_dir = "{tmp / "bot"}"', text, count=1)
    # No nginx in the test: the page is checked where it listens.
    text = re.sub(r'public_url = ".*"\n', "", text, count=1)
    path = tmp / "bridge.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


def by_title(findings: list[Finding]) -> dict[str, Finding]:
    return {f.title: f for f in findings}


async def test_doctor_finds_a_setup_made_by_init_healthy_and_names_what_breaks(
    production_homeserver: ProductionSynapse,
    local_ca: LocalCA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = production_homeserver
    monkeypatch.setenv("SSL_CERT_FILE", str(local_ca.ca_file))
    public = f"https://localhost:{server.federation_port}"  # the TLS listener, with our CA
    config = operator_config(server, tmp_path, public)
    with redirect_stdout(io.StringIO()):
        assert await asyncio.to_thread(bin_bridge, ["setup-bot", "--config", str(config)]) == 0
    settings = load_settings(config)
    assert settings.signup is not None
    admin = await register_user_async(
        server.url, server.registration_shared_secret, "doctor-admin", admin=True
    )
    settings.bot.admin_token = SecretStr(admin.access_token)
    (tmp_path / "bot").mkdir(mode=0o700)
    runner = await start_site(
        create_app(settings), settings.signup.listen_host, settings.signup.listen_port
    )
    try:
        healthy = by_title(await diagnose(settings, PRODUCTION_CHECKS))
        for finding in healthy.values():
            assert finding.ok is True, finding
        text = "\n".join(line for f in healthy.values() for line in f.lines)
        assert "answers over TLS with a valid certificate" in text
        assert "Federation API answers (Synapse" in text
        assert "Federation is on" in text
        assert "Deleted messages' content kept 1 day(s)." in text
        assert "Members' IP addresses kept 1 day(s)." in text
        assert "Lifted for @bin:" in text
        assert "shows the form" in text
    finally:
        await runner.cleanup()

    # init wrote the privacy statement; doctor asks for the operator's details in it.
    assert settings.signup.privacy_file is not None
    statement = settings.signup.privacy_file
    assert statement.is_file()
    (privacy,) = await diagnose(settings, [doctor_production.privacy_statement])
    assert privacy.ok is False and "fill in your name" in privacy.lines[0]

    # Now break things the way an operator might.
    weakened = yaml.safe_load(server.config.read_text())
    weakened.update(
        url_preview_enabled=True,
        user_ips_max_age="28d",
        federation_domain_whitelist=[],
        rc_message={"per_second": 1000, "burst_count": 1000},
    )
    del weakened["redaction_retention_period"]
    weak_file = tmp_path / "homeserver.yaml"
    weak_file.write_text(yaml.safe_dump(weakened))
    weak_file.chmod(0o644)
    broken = settings.model_copy(deep=True)
    broken.homeserver.synapse_config = weak_file
    assert broken.signup is not None
    broken.signup.client_url = f"http://localhost:{server.federation_port}"
    findings = by_title(await diagnose(broken, PRODUCTION_CHECKS))
    secret = findings["Secret files"]
    assert secret.ok is False and any("homeserver.yaml" in line for line in secret.lines)
    assert findings["Public URL, TLS and federation"].ok is False
    assert "not HTTPS" in findings["Public URL, TLS and federation"].lines[0]
    synapse = findings["Synapse's privacy settings"]
    assert synapse.ok is False
    joined = "\n".join(synapse.lines)
    assert "Federation is OFF" in joined
    assert "url_preview_enabled" in joined
    assert "IP addresses are kept 28 days" in joined
    assert "rc_message" in joined
    assert findings["Sign-up page"].ok is False  # it was stopped


def test_a_certificate_from_an_unknown_ca_is_reported_as_a_tls_failure(
    production_homeserver: ProductionSynapse, tmp_path: Path
) -> None:
    config = operator_config(
        production_homeserver,
        tmp_path,
        f"https://localhost:{production_homeserver.federation_port}",
    )
    settings: BridgeSettings = load_settings(config)
    findings = asyncio.run(diagnose(settings, [doctor_production.public_endpoints]))
    assert findings[0].ok is False
    text = "\n".join(findings[0].lines)
    # The verification error itself, not a guess that the name is wrong.
    assert "TLS failed (certificate not accepted: unable to get local issuer certificate)" in text


def test_the_doctor_command_runs_the_production_checks(
    production_homeserver: ProductionSynapse, tmp_path: Path
) -> None:
    config = operator_config(production_homeserver, tmp_path, "https://localhost:1")
    result = subprocess.run(
        [sys.executable, "-m", "bridge", "doctor", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout
    for title in ("Secret files", "Public URL, TLS and federation", "Synapse's privacy settings"):
        assert title in out, out + result.stderr
    assert "Sign-up page" in out and "does not answer" in out
    assert result.returncode == 1


def test_the_guides_admin_token_recipe_makes_a_token_the_admin_api_accepts(
    production_homeserver: ProductionSynapse, tmp_path: Path
) -> None:
    """docs/operator.md, 'Admin token': run as written, only paths and the port changed."""
    import json
    import secrets
    import urllib.request

    guide = (Path(__file__).resolve().parents[2] / "docs" / "operator.md").read_text()
    section = guide[guide.index("### Admin token (`bot.admin_token`)") :]
    script = re.search(r"```sh\n(.*?)```", section, re.S)
    assert script is not None
    server = production_homeserver
    user = f"bin-beheer-{secrets.token_hex(3)}"
    text = (
        script.group(1)
        .replace("/opt/bin-matrix/.venv/bin/", str(Path(sys.executable).parent) + "/")
        .replace("/etc/bin-matrix/synapse/homeserver.yaml", str(server.config))
        .replace("http://127.0.0.1:8008", server.url)
        .replace("/root/bin-admin-password", str(tmp_path / "bin-admin-password"))
        .replace("bin-beheer", user)
    )
    result = subprocess.run(
        ["bash", "-e", "-c", text], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("syt_")
    quoted = urllib.parse.quote(f"@{user}:{server.server_name}", safe="@:")
    request = urllib.request.Request(
        f"{server.url}/_synapse/admin/v2/users/{quoted}",
        headers={"Authorization": f"Bearer {token}"},
    )
    with NO_PROXY.open(request, timeout=30) as response:
        assert json.load(response)["admin"] is True
