"""The nginx site `bin-bridge init` writes, run by Debian's nginx in front of the PostgreSQL
Synapse and the sign-up page: TLS, the client and federation APIs, `.well-known`, the sign-up
page under /aanmelden/, the admin API kept inside, plain HTTP redirected. Only what a test on
one machine needs is changed: the certificate (from the test's own CA) and the HTTP port.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bridge.__main__ import main as bin_bridge
from bridge.homeserver import _free_port
from bridge.settings import load_settings
from bridge.signup import create_app, start_site
from tests.integration.production import LocalCA, ProductionSynapse

NGINX = "/usr/sbin/nginx"


def nginx_binary() -> str:
    if not Path(NGINX).exists() and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light"], check=True)
    assert Path(NGINX).exists(), "apt-get install nginx-light (make test does it as root)"
    return NGINX


class Proxy:
    def __init__(self, etc: Path, https_port: int, http_port: int) -> None:
        self.etc = etc
        self.https_port = https_port
        self.http_port = http_port


@pytest.fixture
def proxy(
    production_homeserver: ProductionSynapse, local_ca: LocalCA, tmp_path: Path
) -> Iterator[Proxy]:
    """`init` for https://localhost:PORT in front of the running Synapse; nginx started."""
    https_port, http_port, page_port = _free_port(), _free_port(), _free_port()
    etc = tmp_path / "etc"
    assert (
        bin_bridge(
            [
                "init",
                "--out",
                str(etc),
                "--server-name",
                production_homeserver.server_name,
                "--public-url",
                f"https://localhost:{https_port}",
                "--listen-port",
                str(production_homeserver.client_port),
                "--signup-port",
                str(page_port),
                "--bridge-data-dir",
                str(tmp_path / "bot"),
                "--wijk",
                "oost:Wijk Oost",
            ]
        )
        == 0
    )
    # This init's Synapse is the one already running: the page must use its secret.
    secret = etc / "bridge" / "registration_shared_secret"
    secret.write_text(production_homeserver.registration_shared_secret)
    site = (etc / "nginx" / "bin-matrix.conf").read_text()
    site = re.sub(r"/etc/letsencrypt/live/[^/]+/fullchain\.pem", str(local_ca.cert_file), site)
    site = re.sub(r"/etc/letsencrypt/live/[^/]+/privkey\.pem", str(local_ca.key_file), site)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    site = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", site)
    run = tmp_path / "nginx"
    run.mkdir()
    (run / "site.conf").write_text(site)
    (run / "nginx.conf").write_text(
        # Workers as root only because pytest's temp dirs are private to root; in production
        # /etc/bin-matrix/www is world-readable and nginx runs its workers as www-data.
        f"daemon off;\nuser root;\nworker_processes 1;\npid {run}/nginx.pid;\n"
        f"error_log {run}/error.log;\n"
        "events {}\n"
        f"http {{ client_body_temp_path {run}; proxy_temp_path {run};"
        f" include {run}/site.conf; }}\n"
    )
    process = subprocess.Popen(
        [nginx_binary(), "-c", str(run / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not _listening(https_port):
            assert process.poll() is None, (run / "error.log").read_text()
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
        yield Proxy(etc, https_port, http_port)
    finally:
        process.terminate()
        process.wait(10)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def test_the_generated_nginx_site_serves_synapse_the_page_and_well_known_over_tls(
    proxy: Proxy, local_ca: LocalCA, production_homeserver: ProductionSynapse
) -> None:
    base = f"https://localhost:{proxy.https_port}"
    trust = ssl.create_default_context(cafile=str(local_ca.ca_file))
    settings = load_settings(proxy.etc / "bridge" / "bridge.toml")
    assert settings.signup is not None
    runner = await start_site(
        create_app(settings), settings.signup.listen_host, settings.signup.listen_port
    )
    jar = aiohttp.CookieJar(unsafe=True)
    try:
        async with aiohttp.ClientSession(cookie_jar=jar) as http:

            async def get(path: str) -> tuple[int, str]:
                async with http.get(base + path, ssl=trust, allow_redirects=False) as response:
                    return response.status, await response.text()

            status, body = await get("/_matrix/client/versions")
            assert status == 200 and '"versions"' in body
            status, body = await get("/_matrix/federation/v1/version")
            assert status == 200 and "Synapse" in body
            status, body = await get("/.well-known/matrix/client")
            assert status == 200 and base in body
            # The admin API stays on 127.0.0.1: nginx does not pass it on.
            status, _ = await get("/_synapse/admin/v1/server_version")
            assert status == 404
            # The sign-up page under /aanmelden/, its relative form action and cookie included.
            status, _ = await get("/aanmelden")
            assert status == 301
            status, form = await get("/aanmelden/")
            assert status == 200 and '<html lang="nl">' in form
            token = re.search(r'name="form_token" value="([0-9a-f]+)"', form)
            assert token
            password = "een-lang-wachtwoord-voor-de-proxy"
            async with http.post(
                base + "/aanmelden/",
                ssl=trust,
                data={
                    "form_token": token.group(1),
                    "code": settings.wijken[0].join_code.get_secret_value(),
                    "password": password,
                    "password2": password,
                },
            ) as response:
                done = await response.text()
                assert response.status == 200, done
            assert f":{production_homeserver.server_name}</code>" in done
            status, privacy = await get("/aanmelden/privacy")
            assert status == 200 and "Privacyverklaring" in privacy
            # Plain HTTP is only a redirect to HTTPS.
            async with http.get(
                f"http://127.0.0.1:{proxy.http_port}/_matrix/client/versions",
                allow_redirects=False,
            ) as response:
                assert response.status == 301
                assert response.headers["Location"].startswith("https://")
    finally:
        await runner.cleanup()
    await asyncio.sleep(0)


def test_nginx_accepts_the_site_with_only_the_certificate_certbot_made(
    local_ca: LocalCA, tmp_path: Path
) -> None:
    """Server name and public host differ: certbot, run as the site's header says, makes one
    certificate under live/<public host>/, and nothing else; `nginx -t` must pass with that."""
    etc = tmp_path / "etc"
    assert (
        bin_bridge(
            [
                "init",
                "--out",
                str(etc),
                "--server-name",
                "bin.example.nl",
                "--public-url",
                "https://matrix.bin.example.nl",
                "--wijk",
                "oost:Wijk Oost",
            ]
        )
        == 0
    )
    site = (etc / "nginx" / "bin-matrix.conf").read_text()
    command = re.search(r"certbot certonly --nginx --cert-name (\S+)((?: -d \S+)+)", site)
    assert command is not None
    assert command.group(1) == "matrix.bin.example.nl"
    assert command.group(2).split(" -d ")[1:] == ["matrix.bin.example.nl", "bin.example.nl"]
    # What certbot leaves: /etc/letsencrypt/live/<cert name>/{fullchain,privkey}.pem only.
    letsencrypt = tmp_path / "letsencrypt"
    live = letsencrypt / "live" / command.group(1)
    live.mkdir(parents=True)
    shutil.copy(local_ca.cert_file, live / "fullchain.pem")
    shutil.copy(local_ca.key_file, live / "privkey.pem")
    site = site.replace("/etc/letsencrypt/", f"{letsencrypt}/")
    assert site.count(f"{live}/fullchain.pem") == 2  # both server blocks
    run = tmp_path / "nginx"
    run.mkdir()
    (run / "site.conf").write_text(site)
    (run / "nginx.conf").write_text(
        f"user root;\npid {run}/nginx.pid;\nerror_log {run}/error.log;\nevents {{}}\n"
        f"http {{ client_body_temp_path {run}; proxy_temp_path {run}; include {run}/site.conf; }}\n"
    )
    result = subprocess.run(
        [nginx_binary(), "-t", "-c", str(run / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
