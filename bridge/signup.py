"""The anonymous sign-up page (`bin-bridge signup-page`): a resident without a Matrix account
enters their wijk's join code and a password, and gets an account with a random name on the
BIN homeserver — no e-mail, no phone number — plus a link and QR code to start the chat with
the bot.

What it keeps and logs: nothing about anyone. No access log (aiohttp's is off), no IP
addresses (rate limits are global and per wijk, never per address), no user names. The join
code is checked with the bot's own rule (`Membership.wijk_by_code`) on the bot's store opened
read-only, so a rotated code works here the moment `bin-bridge admin rotate-code` printed it
and the old one stops working; the code itself is not stored. Plain HTML forms, no JavaScript.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import html
import logging
import secrets
import sqlite3
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import segno
from aiohttp import web
from markdown_it import MarkdownIt

from bridge.bot import load_or_create_secret
from bridge.homeserver import HomeserverError, create_account_async
from bridge.membership import Membership
from bridge.settings import BridgeSettings, SignupSettings, WijkSettings
from bridge.store import Store

log = logging.getLogger("bridge.signup")

COOKIE = "bin_form"
LOCALPART_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
"""No 0/o, 1/l/i: residents type their account name on a phone."""
MAX_PASSWORD = 200
WRONG_CODE_WINDOW_S = 600.0
MAX_WRONG_DELAY_S = 8.0

Clock = Callable[[], float]


# -- limits without addresses --------------------------------------------------------------------


@dataclass
class TokenBucket:
    """`capacity` actions at once, refilled at `rate` per second."""

    capacity: float
    rate: float
    clock: Clock = time.monotonic
    tokens: float = field(init=False)
    updated: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.capacity
        self.updated = self.clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class WrongCodes:
    """Wrong join codes, counted for everyone together: each one makes the next answer slower."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.times: collections.deque[float] = collections.deque()

    def delay(self) -> float:
        """Seconds to wait before answering the next wrong code."""
        now = self.clock()
        while self.times and now - self.times[0] > WRONG_CODE_WINDOW_S:
            self.times.popleft()
        return min(MAX_WRONG_DELAY_S, 0.5 * 1.5 ** len(self.times))

    def record(self) -> None:
        self.times.append(self.clock())


def random_localpart() -> str:
    """`buur-k7mq-3xte`: random, readable, nothing to do with the person."""
    chars = [secrets.choice(LOCALPART_ALPHABET) for _ in range(8)]
    return "buur-" + "".join(chars[:4]) + "-" + "".join(chars[4:])


# -- the join-code rule, read-only ---------------------------------------------------------------


class _ReadOnlyStore(Store):
    """The bridge's store opened read-only: the page never writes, never migrates."""

    def __init__(self, path: Path) -> None:  # not Store.__init__: no mkdir, no migrations
        self.path = path
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        self._db.row_factory = sqlite3.Row


def _no_notify(*args: object, **kwargs: object) -> None:
    """The page never talks to members in Matrix."""


def _no_admit(*args: object) -> None:
    """Joining a wijk happens with the bot, in the chat, not here."""


def wijk_by_code(settings: BridgeSettings, code: str) -> WijkSettings | None:
    """The bot's own rule: a rotated code (in its store) replaces the one in the config."""
    if not code.strip():
        return None
    database = settings.bot.data_dir / "bridge.db"
    if not database.exists():  # the bot never ran: no code was rotated yet
        wanted = code.strip().lower()
        return next(
            (
                w
                for w in settings.wijken
                if w.join_code.get_secret_value().strip().lower() == wanted
            ),
            None,
        )
    store = _ReadOnlyStore(database)
    try:
        secret = load_or_create_secret(settings)
        membership = Membership(settings, store, secret, _no_notify, _no_admit)
        return membership.wijk_by_code(code)
    finally:
        store.close()


# -- texts -----------------------------------------------------------------------------------------

TEXT: dict[str, dict[str, str]] = {
    "nl": {
        "title": "Aanmelden bij BIN",
        "intro": (
            "Met BIN, het Buurt Informatie Netwerk, meld je anoniem iets aan de coördinatoren "
            "van je wijk, en krijg je berichten van politie en gemeente. Heb je nog geen "
            "Matrix-account? Maak er hier een. We vragen geen naam, geen e-mailadres en geen "
            "telefoonnummer."
        ),
        "urgent": "Spoed? Bel altijd 112. Politie zonder spoed: 0900-8844. Niet via BIN.",
        "code": "Aanmeldcode van je wijk",
        "code_help": "Je krijgt de code van je wijkcoördinator, bijvoorbeeld OOST-1234-5678.",
        "password": "Kies een wachtwoord",
        "password_help": "Minstens {min} tekens. Schrijf het op: zonder e-mailadres kunnen we "
        "het niet herstellen.",
        "password2": "Herhaal het wachtwoord",
        "submit": "Maak mijn account",
        "privacy": "Privacyverklaring",
        "other_lang": "English",
        "err_form": "Het formulier was verlopen. Probeer het nog een keer.",
        "err_busy": "Het is nu erg druk. Probeer het over een minuut nog eens.",
        "err_wijk_busy": "Voor deze wijk zijn het afgelopen uur veel accounts gemaakt. Probeer "
        "het later nog eens.",
        "err_code": "Deze aanmeldcode kennen we niet. Controleer de code en probeer het opnieuw.",
        "err_short": "Het wachtwoord is te kort: minstens {min} tekens.",
        "err_long": "Het wachtwoord is te lang.",
        "err_mismatch": "De twee wachtwoorden zijn niet hetzelfde.",
        "err_server": "Het lukte nu niet om een account te maken. Probeer het later nog eens.",
        "done_title": "Je account is klaar",
        "done_account": "Je accountnaam",
        "done_server": "Server",
        "done_keep": "Bewaar je accountnaam en wachtwoord goed. Je wachtwoord zie je hier niet "
        "terug, en zonder e-mailadres kunnen we het niet herstellen.",
        "done_next": "Start nu de chat met de BIN-bot",
        "done_link": "Open de chat met de BIN-bot",
        "done_bot": "Het adres van de bot is",
        "done_qr": "QR-code met de link naar de chat met de BIN-bot",
        "done_code": "Stuur de bot daarna je aanmeldcode. Dan hoor je bij je wijk.",
        "element": "Element",
        "element_steps": "Installeer Element. Kies bij het inloggen een andere server "
        "(“Server wijzigen”) en vul {server} in. Log in met je accountnaam en wachtwoord. "
        "Open dan de link of scan de QR-code, of start een nieuwe chat met {bot}.",
        "fluffychat": "FluffyChat",
        "fluffychat_steps": "Installeer FluffyChat. Vul bij het inloggen als server {server} "
        "in, daarna je accountnaam en wachtwoord. Tik op “Nieuwe chat” en scan de QR-code, of "
        "vul {bot} in.",
        "privacy_title": "Privacyverklaring",
        "privacy_missing": "De beheerder heeft de privacyverklaring nog niet geplaatst.",
        "back": "Terug naar aanmelden",
    },
    "en": {
        "title": "Sign up for BIN",
        "intro": (
            "With BIN, the neighbourhood information network, you report things anonymously "
            "to your neighbourhood's coordinators and receive messages from the police and the "
            "municipality. No Matrix account yet? Make one here. We ask for no name, no e-mail "
            "address and no phone number."
        ),
        "urgent": "Urgent? Always call 112. Police, not urgent: 0900-8844. Never through BIN.",
        "code": "Your neighbourhood's join code",
        "code_help": "Your coordinator gives you the code, for example OOST-1234-5678.",
        "password": "Choose a password",
        "password_help": "At least {min} characters. Write it down: without an e-mail address "
        "we cannot reset it.",
        "password2": "Repeat the password",
        "submit": "Create my account",
        "privacy": "Privacy statement",
        "other_lang": "Nederlands",
        "err_form": "The form had expired. Please try again.",
        "err_busy": "It is very busy right now. Please try again in a minute.",
        "err_wijk_busy": "Many accounts were made for this neighbourhood in the past hour. "
        "Please try again later.",
        "err_code": "We do not know this join code. Check the code and try again.",
        "err_short": "The password is too short: at least {min} characters.",
        "err_long": "The password is too long.",
        "err_mismatch": "The two passwords are not the same.",
        "err_server": "We could not make an account right now. Please try again later.",
        "done_title": "Your account is ready",
        "done_account": "Your account name",
        "done_server": "Server",
        "done_keep": "Keep your account name and password safe. Your password is not shown "
        "here, and without an e-mail address we cannot reset it.",
        "done_next": "Now start the chat with the BIN bot",
        "done_link": "Open the chat with the BIN bot",
        "done_bot": "The bot's address is",
        "done_qr": "QR code with the link to the chat with the BIN bot",
        "done_code": "Then send the bot your join code, and you are part of your neighbourhood.",
        "element": "Element",
        "element_steps": "Install Element. When you sign in, choose another server (“Change "
        "server”) and enter {server}. Sign in with your account name and password. Then open "
        "the link or scan the QR code, or start a new chat with {bot}.",
        "fluffychat": "FluffyChat",
        "fluffychat_steps": "Install FluffyChat. When you sign in, enter {server} as the "
        "server, then your account name and password. Tap “New chat” and scan the QR code, "
        "or enter {bot}.",
        "privacy_title": "Privacy statement",
        "privacy_missing": "The operator has not published the privacy statement yet.",
        "back": "Back to sign-up",
    },
}

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 0 auto; padding: 1rem;
       line-height: 1.5; color: #111; background: #fff; }
label { display: block; font-weight: bold; margin-top: 1rem; }
input[type=text], input[type=password] { font-size: 1.1rem; padding: .5rem; width: 100%;
       box-sizing: border-box; border: 2px solid #555; border-radius: 4px; }
input:focus, a:focus, button:focus { outline: 3px solid #1a5fb4; outline-offset: 2px; }
.help { color: #333; font-size: .95rem; margin: .25rem 0 0; }
button { margin-top: 1.5rem; font-size: 1.1rem; padding: .6rem 1.2rem; background: #1a5fb4;
       color: #fff; border: 0; border-radius: 4px; cursor: pointer; }
.error { border: 2px solid #a51d2d; background: #fbe9eb; padding: .75rem; }
.urgent { border-left: 4px solid #a51d2d; padding-left: .75rem; }
code { font-size: 1.1rem; background: #f2f2f2; padding: .1rem .3rem; word-break: break-all; }
nav { display: flex; gap: 1rem; justify-content: flex-end; }
svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; } td, th { border: 1px solid #999; padding: .25rem; }
"""

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


# -- the page ------------------------------------------------------------------------------------


class SignupPage:
    """The routes and their state (buckets, form key); one per process."""

    def __init__(
        self,
        settings: BridgeSettings,
        signup: SignupSettings,
        shared_secret: str,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.signup = signup
        self.shared_secret = shared_secret
        self.sleep = sleep
        self.form_key = secrets.token_bytes(32)
        per_minute = signup.attempts_per_minute
        self.attempts = TokenBucket(per_minute, per_minute / 60, clock)
        self.clock = clock
        self.per_wijk: dict[str, TokenBucket] = {}
        self.wrong = WrongCodes(clock)
        self.markdown = MarkdownIt("commonmark", {"html": False}).enable("table")

    # -- helpers ---------------------------------------------------------------------------------

    def _wijk_bucket(self, slug: str) -> TokenBucket:
        if slug not in self.per_wijk:
            per_hour = self.signup.accounts_per_hour_per_wijk
            self.per_wijk[slug] = TokenBucket(max(3.0, per_hour / 3), per_hour / 3600, self.clock)
        return self.per_wijk[slug]

    def _form_token(self, cookie: str) -> str:
        return hmac.new(self.form_key, cookie.encode(), hashlib.sha256).hexdigest()

    def _form_ok(self, request: web.Request, token: str) -> bool:
        cookie = request.cookies.get(COOKIE, "")
        return bool(cookie) and hmac.compare_digest(self._form_token(cookie), token)

    def _bot_link(self) -> str:
        return "https://matrix.to/#/" + self.settings.bot.user_id

    def _privacy_href(self, lang: str) -> str:
        if self.signup.privacy_url:
            return self.signup.privacy_url
        return "privacy" + ("?lang=en" if lang == "en" else "")

    # -- handlers --------------------------------------------------------------------------------

    async def form(self, request: web.Request) -> web.Response:
        lang = _lang(request.query.get("lang"))
        return self._form_page(request, lang, error=None, status=200)

    async def submit(self, request: web.Request) -> web.Response:
        data = await request.post()
        lang = _lang(str(data.get("lang", "")) or request.query.get("lang"))
        t = TEXT[lang]
        if not self._form_ok(request, str(data.get("form_token", ""))):
            return self._form_page(request, lang, t["err_form"], status=400)
        if not self.attempts.take():
            return self._form_page(request, lang, t["err_busy"], status=429)
        code = str(data.get("code", ""))[:100]
        password = str(data.get("password", ""))
        minimum = self.signup.min_password_length
        # A password problem keeps the code filled in; a wrong code is not shown again.
        if len(password) < minimum:
            return self._form_page(request, lang, t["err_short"].format(min=minimum), 400, code)
        if len(password) > MAX_PASSWORD:
            return self._form_page(request, lang, t["err_long"], 400, code)
        if password != str(data.get("password2", "")):
            return self._form_page(request, lang, t["err_mismatch"], 400, code)
        wijk = await asyncio.to_thread(wijk_by_code, self.settings, code)
        if wijk is None:
            await self.sleep(self.wrong.delay())
            self.wrong.record()
            return self._form_page(request, lang, t["err_code"], status=400)
        if not self._wijk_bucket(wijk.slug).take():
            log.warning("sign-up: the per-wijk limit was reached")
            return self._form_page(request, lang, t["err_wijk_busy"], status=429)
        user_id = await self._create(password)
        if user_id is None:
            return self._form_page(request, lang, t["err_server"], status=503)
        return self._done_page(lang, user_id)

    async def _create(self, password: str) -> str | None:
        for _ in range(3):
            try:
                return await create_account_async(
                    self.settings.homeserver.url, self.shared_secret, random_localpart(), password
                )
            except HomeserverError as exc:
                if exc.errcode == "M_USER_IN_USE":
                    continue
                # No user name, code or password in the log: only what went wrong.
                log.error("sign-up: the homeserver refused (HTTP %s %s)", exc.status, exc.errcode)
                return None
        return None

    async def privacy(self, request: web.Request) -> web.Response:
        lang = _lang(request.query.get("lang"))
        t = TEXT[lang]
        path = self.signup.privacy_file
        if path is not None and path.is_file():
            text = await asyncio.to_thread(path.read_text, encoding="utf-8")
            body = self.markdown.render(text)
        else:
            body = f"<p>{_e(t['privacy_missing'])}</p>"
        back = "./" + ("?lang=en" if lang == "en" else "")
        body = f'<p><a href="{_e(back)}">{_e(t["back"])}</a></p>' + body
        # The statement is in Dutch; its page says so with lang="nl".
        return _html(_page("nl", t["privacy_title"], body), 200)

    # -- pages -----------------------------------------------------------------------------------

    def _form_page(
        self, request: web.Request, lang: str, error: str | None, status: int, code: str = ""
    ) -> web.Response:
        t = TEXT[lang]
        cookie = request.cookies.get(COOKIE) or secrets.token_urlsafe(32)
        minimum = self.signup.min_password_length
        error_html = (
            f'<div class="error" role="alert" id="error"><p>{_e(error)}</p></div>' if error else ""
        )
        described = ' aria-describedby="error"' if error else ""
        other = "en" if lang == "nl" else "nl"
        action = "./" + ("?lang=en" if lang == "en" else "")
        body = f"""
<nav><a href="./?lang={other}" lang="{other}" hreflang="{other}">{_e(t["other_lang"])}</a>
<a href="{_e(self._privacy_href(lang))}">{_e(t["privacy"])}</a></nav>
<h1>{_e(t["title"])}</h1>
<p>{_e(t["intro"])}</p>
<p class="urgent"><strong>{_e(t["urgent"])}</strong></p>
{error_html}
<form method="post" action="{_e(action)}"{described}>
<input type="hidden" name="form_token" value="{self._form_token(cookie)}">
<input type="hidden" name="lang" value="{lang}">
<label for="code">{_e(t["code"])}</label>
<input type="text" id="code" name="code" required autocomplete="off" autocapitalize="characters"
 spellcheck="false" aria-describedby="code-help" value="{_e(code)}">
<p class="help" id="code-help">{_e(t["code_help"])}</p>
<label for="password">{_e(t["password"])}</label>
<input type="password" id="password" name="password" required minlength="{minimum}"
 maxlength="{MAX_PASSWORD}" autocomplete="new-password" aria-describedby="password-help">
<p class="help" id="password-help">{_e(t["password_help"].format(min=minimum))}</p>
<label for="password2">{_e(t["password2"])}</label>
<input type="password" id="password2" name="password2" required minlength="{minimum}"
 maxlength="{MAX_PASSWORD}" autocomplete="new-password">
<button type="submit">{_e(t["submit"])}</button>
</form>
"""
        response = _html(_page(lang, t["title"], body), status)
        response.set_cookie(
            COOKIE,
            cookie,
            httponly=True,
            samesite="Strict",
            secure=self.signup.secure_cookies,
            max_age=3600,
        )
        return response

    def _done_page(self, lang: str, user_id: str) -> web.Response:
        t = TEXT[lang]
        bot = self.settings.bot.user_id
        link = self._bot_link()
        server = self.signup.client_url
        qr = segno.make(link, error="m").svg_inline(
            scale=5, title=t["done_qr"], dark="#000", light="#fff"
        )
        qr = qr.replace("<svg ", '<svg role="img" aria-label="' + _e(t["done_qr"]) + '" ', 1)
        code_bot = f"<code>{_e(bot)}</code>"
        code_server = f"<code>{_e(server)}</code>"
        element = _e(t["element_steps"]).format(server=code_server, bot=code_bot)
        fluffy = _e(t["fluffychat_steps"]).format(server=code_server, bot=code_bot)
        body = f"""
<h1>{_e(t["done_title"])}</h1>
<dl>
<dt>{_e(t["done_account"])}</dt><dd><code id="account">{_e(user_id)}</code></dd>
<dt>{_e(t["done_server"])}</dt><dd><code id="server">{_e(server)}</code></dd>
</dl>
<p>{_e(t["done_keep"])}</p>
<h2>{_e(t["done_next"])}</h2>
<p><a id="bot-link" href="{_e(link)}" rel="noreferrer">{_e(t["done_link"])}</a></p>
<p>{_e(t["done_bot"])} {code_bot}.</p>
<figure>{qr}</figure>
<p><strong>{_e(t["done_code"])}</strong></p>
<h2>{_e(t["element"])}</h2>
<p>{element}</p>
<h2>{_e(t["fluffychat"])}</h2>
<p>{fluffy}</p>
<p class="urgent"><strong>{_e(t["urgent"])}</strong></p>
<p><a href="{_e(self._privacy_href(lang))}">{_e(t["privacy"])}</a></p>
"""
        return _html(_page(lang, t["done_title"], body), 200)


def _lang(value: object) -> str:
    return "en" if value == "en" else "nl"


def _e(value: str) -> str:
    return html.escape(value, quote=True)


def _page(lang: str, title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{_e(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n<main>{body}</main>\n</body>\n</html>\n"
    )


def _html(text: str, status: int) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", headers=HEADERS)


# -- the app and the command -----------------------------------------------------------------------


def read_shared_secret(settings: BridgeSettings) -> str:
    """The registration shared secret (see `homeserver.registration_shared_secret_file`)."""
    from bridge.deploy import read_shared_secret as read

    return read(settings)


def create_app(
    settings: BridgeSettings,
    shared_secret: str | None = None,
    clock: Clock = time.monotonic,
    sleep: Callable[[float], Any] = asyncio.sleep,
) -> web.Application:
    """The sign-up page as an aiohttp application (routes relative to wherever it is served)."""
    signup = settings.signup or SignupSettings(client_url=settings.homeserver.url)
    page = SignupPage(
        settings,
        signup,
        shared_secret if shared_secret is not None else read_shared_secret(settings),
        clock,
        sleep,
    )
    app = web.Application(client_max_size=64 * 1024)
    app.router.add_get("/", page.form)
    app.router.add_post("/", page.submit)
    app.router.add_get("/privacy", page.privacy)
    return app


async def start_site(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve `app` without an access log (it would record residents' addresses)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def serve_signup(settings: BridgeSettings) -> int:
    """`bin-bridge signup-page`: run until SIGINT/SIGTERM."""
    from bridge.deploy import InitError

    if settings.signup is None:
        print("bin-bridge signup-page: the config has no [signup] section", flush=True)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        app = create_app(settings)
    except InitError as exc:
        print(f"bin-bridge signup-page: {exc}", flush=True)
        return 2
    host, port = settings.signup.listen_host, settings.signup.listen_port
    shown = urllib.parse.urlunsplit(("http", f"{host}:{port}", "/", "", ""))
    log.info("sign-up page on %s", shown)
    web.run_app(app, host=host, port=port, access_log=None, print=None)
    return 0
