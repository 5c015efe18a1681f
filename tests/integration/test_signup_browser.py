"""A resident without an account, end to end in a real browser (Debian's Chromium, driven by
Playwright): the sign-up page from `bin-bridge init`'s config makes the account on the
PostgreSQL Synapse; the resident logs in with nio, signs up with the bot that `setup-bot`
created, and a report reaches the coordinators' desk.
"""

from __future__ import annotations

import asyncio
import io
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import nio
import pytest
from playwright.async_api import Browser, async_playwright

from bridge.__main__ import main as bin_bridge
from bridge.bot import Bridge
from bridge.homeserver import Account, _free_port
from bridge.settings import load_settings
from bridge.signup import create_app, start_site
from tests.conftest import MakeAccount
from tests.integration.harness import User, make_user
from tests.integration.production import ProductionSynapse

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "mijn-geheime-buurtzin-42"
ENCRYPTED = [
    {
        "type": "m.room.encryption",
        "state_key": "",
        "content": {"algorithm": "m.megolm.v1.aes-sha2"},
    }
]


def chromium() -> str:
    """Debian's Chromium; installed with apt-get if missing (never Playwright's own download)."""
    if not Path(CHROMIUM).exists() and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True)
    assert Path(CHROMIUM).exists(), "apt-get install chromium (make test does it as root)"
    return CHROMIUM


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


def operator_config(server: ProductionSynapse, tmp: Path, coordinator: str) -> Path:
    """The generated bridge.toml, edited as an operator would: a coordinator, free ports."""
    text = server.bridge_config.read_text()
    text = text.replace('user_id = "@bin:', 'user_id = "@bin-web:', 1)
    text = re.sub(r'data_dir = ".*"', f'data_dir = "{tmp / "bot"}"', text, count=1)
    text = text.replace("coordinators = []", f'coordinators = ["{coordinator}"]', 1)
    text = re.sub(r"listen_port = \d+", f"listen_port = {_free_port()}", text, count=1)
    path = tmp / "bridge.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


async def run_bot(settings: Any, stop: asyncio.Event) -> tuple[Bridge, asyncio.Task[None]]:
    bridge = Bridge(settings)
    task = asyncio.create_task(bridge.run(stop))
    ready = asyncio.ensure_future(bridge.ready.wait())
    done, _ = await asyncio.wait({ready, task}, timeout=90, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()
    assert ready in done, "the bot was not ready within 90 s"
    return bridge, task


async def test_a_resident_signs_up_in_a_browser_and_their_first_report_reaches_the_desk(
    production_homeserver: ProductionSynapse,
    make_production_account: MakeAccount,
    browser: Browser,
    tmp_path: Path,
) -> None:
    server = production_homeserver
    began = time.monotonic()
    co_account = make_production_account("co-web")
    config = operator_config(server, tmp_path, co_account.user_id)
    out = io.StringIO()
    with redirect_stdout(out):
        assert await asyncio.to_thread(bin_bridge, ["setup-bot", "--config", str(config)]) == 0
    assert "Rate limits lifted" in out.getvalue()
    settings = load_settings(config)
    assert settings.signup is not None

    stop = asyncio.Event()
    bridge, bot_task = await run_bot(settings, stop)
    coordinator = await make_user(co_account, server.url, tmp_path / "co")
    resident: User | None = None
    runner = await start_site(
        create_app(settings), settings.signup.listen_host, settings.signup.listen_port
    )
    try:
        await coordinator.sync()
        await coordinator.sync()

        # -- the browser: the resident fills in the form, finding each field by its label.
        page = await browser.new_page()
        await page.goto(f"http://127.0.0.1:{settings.signup.listen_port}/")
        assert await page.get_attribute("html", "lang") == "nl"
        assert await page.locator("script").count() == 0
        code = settings.wijken[0].join_code.get_secret_value()
        await page.get_by_label("Aanmeldcode van je wijk").fill(code)
        await page.get_by_label("Kies een wachtwoord").fill(PASSWORD)
        await page.get_by_label("Herhaal het wachtwoord").fill(PASSWORD)
        await page.get_by_role("button", name="Maak mijn account").click()
        await page.wait_for_selector("#account")
        user_id = (await page.inner_text("#account")).strip()
        assert re.fullmatch(
            rf"@buur-[a-z2-9]{{4}}-[a-z2-9]{{4}}:{re.escape(server.server_name)}", user_id
        )
        link = await page.get_attribute("#bot-link", "href")
        assert link == f"https://matrix.to/#/{settings.bot.user_id}"
        assert await page.get_by_role("img", name=re.compile("QR-code")).is_visible()
        assert PASSWORD not in await page.content()
        await page.screenshot(path=str(tmp_path / "signup-done.png"), full_page=True)
        await page.close()

        # -- the resident's Matrix app: a password login, as Element or FluffyChat does it.
        client = nio.AsyncClient(
            server.url,
            user_id,
            store_path=str(_mkdir(tmp_path / "resident")),
            config=nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False),
        )
        login = await client.login(PASSWORD, device_name="FluffyChat")
        assert isinstance(login, nio.LoginResponse), login
        resident = User(Account(user_id, PASSWORD, login.access_token, login.device_id), client)
        await resident.sync()

        dm = await client.room_create(
            is_direct=True, invite=[settings.bot.user_id], initial_state=ENCRYPTED
        )
        assert isinstance(dm, nio.RoomCreateResponse), dm
        welcome = await resident.wait_for_event(
            lambda e: e.room_id != dm.room_id and e.fields.get("kind") == "notice",
            timeout=60,
            what="the bot's welcome",
        )
        room = welcome.room_id
        await resident.say(room, code)
        await resident.wait_for_event(
            lambda e: e.room_id == room and "aangemeld" in e.body,
            timeout=60,
            what="the sign-up confirmation",
        )
        text = "Bij de container op het plein liggen al dagen vuilniszakken"
        await resident.say(room, text)
        desk = bridge.store.wijk_room(settings.wijken[0].slug, "desk")
        report = await coordinator.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("kind") == "report",
            timeout=60,
            what="the report in the desk",
        )
        assert report.fields["text"] == text
        assert user_id not in str(report.source)
        print(f"\nbrowser sign-up to report in the desk: {time.monotonic() - began:.1f} s")
    finally:
        await runner.cleanup()
        stop.set()
        await asyncio.wait({bot_task}, timeout=30)
        await coordinator.close()
        if resident is not None:
            await resident.close()


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
