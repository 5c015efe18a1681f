"""The sign-up page against a real Synapse: accounts with random names for the right code only,
slowed-down wrong codes, limits without addresses, a form token, and nothing logged."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bridge.bot import load_or_create_secret
from bridge.homeserver import EmbeddedHomeserver, _free_port
from bridge.membership import Membership
from bridge.settings import BotSettings, BridgeSettings, HomeserverSettings, SignupSettings
from bridge.signup import COOKIE, create_app, start_site
from bridge.store import Store
from tests.integration.harness import wijk_settings

PASSWORD = "lange-wachtzin-voor-de-test"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def settings_for(homeserver: EmbeddedHomeserver, tmp: Path, **signup: Any) -> BridgeSettings:
    privacy = tmp / "privacy.md"
    privacy.write_text(
        "# Privacyverklaring BIN\n\nWij bewaren **zo weinig mogelijk**.\n\n"
        "<script>alert(1)</script>\n\n| wie | wat |\n|---|---|\n| beheerder | niets |\n"
    )
    return BridgeSettings(
        homeserver=HomeserverSettings(url=homeserver.url),
        bot=BotSettings(user_id="@bin:bin.local", data_dir=tmp / "bot"),
        wijken=[wijk_settings("oost", [], []), wijk_settings("west", [], [])],
        signup=SignupSettings(
            client_url="https://matrix.example.nl",
            secure_cookies=False,
            privacy_file=privacy,
            **signup,
        ),
    )


class Client:
    """A browser-like client (keeps cookies, also for 127.0.0.1) for one served page."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def get(self, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        response = await self.session.get(self.base + path, **kwargs)
        await response.read()
        return response

    async def post(self, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        response = await self.session.post(self.base + path, **kwargs)
        await response.read()
        return response


Page = tuple[Client, BridgeSettings, FakeClock, list[float]]


@pytest.fixture
async def page(
    homeserver: EmbeddedHomeserver, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Page]:
    """The page served exactly as `bin-bridge signup-page` serves it (no access log)."""
    extra = getattr(request, "param", {})
    settings = settings_for(homeserver, tmp_path, **extra)
    clock = FakeClock()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    app = create_app(settings, homeserver.registration_shared_secret, clock=clock, sleep=sleep)
    port = _free_port()
    runner = await start_site(app, "127.0.0.1", port)
    client = Client(f"http://127.0.0.1:{port}")
    try:
        yield client, settings, clock, slept
    finally:
        await client.session.close()
        await runner.cleanup()


async def form_token(client: Client, lang: str = "nl") -> str:
    response = await client.get("/", params={"lang": lang})
    assert response.status == 200
    text = await response.text()
    match = re.search(r'name="form_token" value="([0-9a-f]+)"', text)
    assert match, text
    return match.group(1)


async def submit(
    client: Client, code: str, password: str = PASSWORD, **extra: str
) -> tuple[int, str]:
    token = await form_token(client)
    data = {"form_token": token, "code": code, "password": password, "password2": password}
    response = await client.post("/", data=data | extra)
    return response.status, await response.text()


def account_in(text: str) -> str:
    match = re.search(r'<code id="account">([^<]+)</code>', text)
    assert match, text
    return match.group(1)


async def login(url: str, user_id: str, password: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url + "/_matrix/client/v3/login",
            json={
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": user_id},
                "password": password,
            },
        ) as response,
    ):
        return response.status


async def test_the_form_is_accessible_dutch_by_default_english_on_request_and_has_no_script(
    page: Page,
) -> None:
    client, *_ = page
    nl = await (await client.get("/")).text()
    assert '<html lang="nl">' in nl
    assert "<script" not in nl.lower()
    for field_id in ("code", "password", "password2"):
        assert f'<label for="{field_id}">' in nl
        assert f'id="{field_id}"' in nl
    assert "Aanmeldcode van je wijk" in nl and "112" in nl and "0900-8844" in nl
    assert 'href="privacy"' in nl
    response = await client.get("/", params={"lang": "en"})
    en = await response.text()
    assert '<html lang="en">' in en and "Create my account" in en
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"


async def test_the_right_code_makes_an_account_with_a_random_name_and_shows_how_to_start(
    page: Page, homeserver: EmbeddedHomeserver
) -> None:
    client, settings, _, _ = page
    code = settings.wijken[0].join_code.get_secret_value()
    status, text = await submit(client, f"  {code.lower()} ")
    assert status == 200, text
    user_id = account_in(text)
    assert re.fullmatch(r"@buur-[a-z2-9]{4}-[a-z2-9]{4}:bin\.local", user_id), user_id
    assert PASSWORD not in text and code not in text
    assert 'href="https://matrix.to/#/@bin:bin.local"' in text
    assert '<svg role="img" aria-label="QR-code' in text
    assert "Element" in text and "FluffyChat" in text
    assert "https://matrix.example.nl" in text
    # A real account, with the resident's password, and no session left behind by the page.
    assert await login(homeserver.url, user_id, PASSWORD) == 200
    status, second = await submit(client, code)
    assert account_in(second) != user_id


async def test_a_wrong_code_makes_no_account_and_each_wrong_code_is_answered_slower(
    page: Page,
) -> None:
    client, _, _, slept = page
    for _ in range(4):
        status, text = await submit(client, "OOST-0000-0000")
        assert status == 400
        assert "aanmeldcode kennen we niet" in text
        assert "OOST-0000-0000" not in text
        assert "account is klaar" not in text
    assert slept == sorted(slept) and slept[-1] > slept[0]


async def test_a_rotated_code_works_at_once_and_the_old_one_no_longer(page: Page) -> None:
    client, settings, _, _ = page
    old = settings.wijken[1].join_code.get_secret_value()
    store = Store(settings.bot.data_dir / "bridge.db")
    try:
        secret = load_or_create_secret(settings)
        new = Membership(
            settings, store, secret, lambda *a, **k: None, lambda *a: None
        ).rotate_code("west")
    finally:
        store.close()
    assert (await submit(client, old))[0] == 400
    status, text = await submit(client, new)
    assert status == 200, text
    # The other wijk's configured code still works.
    assert (await submit(client, settings.wijken[0].join_code.get_secret_value()))[0] == 200


async def test_a_post_without_the_form_token_or_its_cookie_is_refused(page: Page) -> None:
    client, settings, _, _ = page
    code = settings.wijken[0].join_code.get_secret_value()
    data = {"code": code, "password": PASSWORD, "password2": PASSWORD}
    response = await client.post("/", data=data | {"form_token": "0" * 64})
    assert response.status == 400
    assert "verlopen" in await response.text()
    token = await form_token(client)
    client.session.cookie_jar.clear()
    response = await client.post("/", data=data | {"form_token": token})
    assert response.status == 400


@pytest.mark.parametrize(
    ("password", "password2", "message"),
    [
        ("kort", "kort", "te kort"),
        ("x" * 201, "x" * 201, "te lang"),
        (PASSWORD, PASSWORD + "!", "niet hetzelfde"),
    ],
)
async def test_bad_passwords_are_explained(
    page: Page, password: str, password2: str, message: str
) -> None:
    client, settings, _, _ = page
    code = settings.wijken[0].join_code.get_secret_value()
    status, text = await submit(client, code, password, password2=password2)
    assert status == 400 and message in text
    assert f'value="{code}"' in text  # the code need not be typed again
    assert f'value="{password}"' not in text


@pytest.mark.parametrize("page", [{"attempts_per_minute": 3}], indirect=True)
async def test_all_submissions_together_are_limited_without_looking_at_addresses(
    page: Page,
) -> None:
    client, _, clock, _ = page
    statuses = [(await submit(client, "WRONG-CODE"))[0] for _ in range(4)]
    assert statuses == [400, 400, 400, 429]
    clock.now += 60
    assert (await submit(client, "WRONG-CODE"))[0] == 400


@pytest.mark.parametrize("page", [{"accounts_per_hour_per_wijk": 9}], indirect=True)
async def test_one_code_cannot_make_many_accounts_in_an_hour_but_other_wijken_can(
    page: Page,
) -> None:
    client, settings, clock, _ = page
    oost, west = (w.join_code.get_secret_value() for w in settings.wijken)
    statuses = [(await submit(client, oost))[0] for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert (await submit(client, west))[0] == 200
    clock.now += 3600 / 9
    assert (await submit(client, oost))[0] == 200


async def test_the_privacy_statement_is_served_as_html_without_raw_html(page: Page) -> None:
    client, *_ = page
    text = await (await client.get("/privacy")).text()
    assert "<h1>Privacyverklaring BIN</h1>" in text
    assert "<strong>zo weinig mogelijk</strong>" in text
    assert "<table>" in text
    assert "<script>" not in text and "&lt;script&gt;" in text


async def test_the_page_logs_no_address_name_code_or_password(
    page: Page, caplog: pytest.LogCaptureFixture
) -> None:
    client, settings, _, _ = page
    caplog.set_level(logging.DEBUG)
    code = settings.wijken[0].join_code.get_secret_value()
    _, text = await submit(client, code)
    user_id = account_in(text)
    await submit(client, "OOST-9999-9999")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (user_id, user_id[1:].split(":")[0], code, PASSWORD, "127.0.0.1"):
        assert secret not in logged
    assert not [r for r in caplog.records if r.name == "aiohttp.access"]
