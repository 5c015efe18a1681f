"""`bin-bridge doctor` checks for a production setup (one made by `bin-bridge init`): secret
files' permissions, TLS and federation on the public URL, Synapse's privacy settings, the
bot's rate-limit override, the members' privacy statement, and the sign-up page. Read-only,
like every doctor check.

Importing this module registers the checks (`bridge.doctor.check`); `bin-bridge doctor` does.
"""

from __future__ import annotations

import json
import re
import ssl
import stat
import urllib.parse
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bridge.doctor import Context, Finding, check
from bridge.matrix import SESSION_FILE

TIMEOUT = aiohttp.ClientTimeout(total=15)
DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w|y)?\s*$")
_UNIT_S = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
    "y": 365 * 86400.0,
}
DAY = 86400.0


def duration_s(value: Any) -> float | None:
    """Synapse's durations: "1d", "12h", "30m", or a number of milliseconds."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) / 1000
    match = DURATION_RE.match(str(value))
    if not match:
        return None
    number, unit = float(match.group(1)), match.group(2)
    return number / 1000 if unit is None else number * _UNIT_S[unit]


def _not_applicable(title: str, why: str) -> Finding:
    return Finding(title, None, [why])


# --- secret files -------------------------------------------------------------------------------


@check
async def secret_files(ctx: Context) -> Finding:
    """Files with secrets must be readable by their owner only."""
    settings = ctx.settings
    candidates: list[tuple[Path, str]] = [
        (ctx.data_dir / "secret.key", "the HMAC secret"),
        (settings.bot.key_file, "the cross-signing keys"),
        (ctx.data_dir / SESSION_FILE, "the bot's session"),
        (ctx.data_dir / "bridge.db", "the bridge database"),
    ]
    if settings.homeserver.registration_shared_secret_file is not None:
        candidates.append(
            (settings.homeserver.registration_shared_secret_file, "the registration secret")
        )
    if settings.homeserver.synapse_config is not None:
        candidates.append((settings.homeserver.synapse_config, "Synapse's config"))
    lines: list[str] = []
    ok = True
    checked = 0
    if ctx.data_dir.is_dir():
        mode = stat.S_IMODE(ctx.data_dir.stat().st_mode)
        if mode & 0o077:
            ok = False
            lines.append(f"{ctx.data_dir} is open to others (mode {mode:o}): chmod 700 it.")
    for path, what in candidates:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            continue
        except OSError as exc:
            lines.append(f"{what}: cannot look at {path} ({exc.strerror}).")
            continue
        checked += 1
        if mode & 0o077:
            ok = False
            lines.append(f"{what} ({path}) is readable by others (mode {mode:o}): chmod 600 it.")
    if ok:
        lines.insert(0, f"{checked} secret file(s), readable by their owner only.")
    return Finding("Secret files", ok, lines)


# --- the public URL: TLS, federation, .well-known -------------------------------------------------


@check
async def public_endpoints(ctx: Context) -> Finding:
    """TLS on the public URL, the client and federation APIs behind it, and `.well-known`."""
    title = "Public URL, TLS and federation"
    signup = ctx.settings.signup
    if signup is None:
        return _not_applicable(title, "No [signup] section: not a setup from `bin-bridge init`.")
    base = signup.client_url.rstrip("/")
    if urllib.parse.urlsplit(base).scheme != "https":
        return Finding(title, False, [f"{base} is not HTTPS: residents' apps need TLS."])
    lines: list[str] = []
    ok = True
    context = ssl.create_default_context()  # read now: honours SSL_CERT_FILE
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        status, body = await _get(http, base + "/_matrix/client/versions", context)
        if status == 200:
            lines.append(f"{base} answers over TLS with a valid certificate (client API).")
        else:
            ok = False
            lines.append(f"Client API at {base}: {body}.")
        status, body = await _get(http, base + "/_matrix/federation/v1/version", context)
        if status == 200 and isinstance(body, dict):
            server = body.get("server", {})
            lines.append(
                f"Federation API answers ({server.get('name', '?')} {server.get('version', '')})."
            )
        else:
            ok = False
            lines.append(f"Federation API at {base}: {body}.")
        server_name = ctx.settings.bot.user_id.split(":", 1)[1]
        if re.search(r":\d+$", server_name):
            lines.append(f"Server name {server_name} has a port: no delegation needed.")
        else:
            url = f"https://{server_name}/.well-known/matrix/server"
            status, body = await _get(http, url, context)
            if status == 200 and isinstance(body, dict) and body.get("m.server"):
                lines.append(f"{url} delegates to {body['m.server']}.")
            else:
                ok = False
                lines.append(f"{url}: {body} — other servers cannot find this one.")
    return Finding(title, ok, lines)


async def _get(http: aiohttp.ClientSession, url: str, context: ssl.SSLContext) -> tuple[int, Any]:
    """(status, JSON body) — or (0, a plain-words reason) when there was no answer."""
    try:
        async with http.get(url, ssl=context) as response:
            text = await response.text()
            if response.status != 200:
                return response.status, f"HTTP {response.status}"
            try:
                return 200, json.loads(text)
            except ValueError:
                return 200, text
    except aiohttp.ClientSSLError as exc:
        return 0, f"TLS failed ({tls_reason(exc)})"
    except (aiohttp.ClientError, TimeoutError) as exc:
        return 0, f"no answer ({type(exc).__name__})"


def tls_reason(exc: BaseException) -> str:
    """The actual reason a TLS connection failed, e.g. "certificate has expired"."""
    # aiohttp's ClientConnectorCertificateError is itself an ssl.CertificateError, but the
    # one with verify_message is the error it wraps.
    for candidate in (getattr(exc, "certificate_error", None), exc.__cause__, exc):
        message = getattr(candidate, "verify_message", None)
        if isinstance(candidate, ssl.SSLCertVerificationError) and message:
            return f"certificate not accepted: {message}"
    for candidate in (getattr(exc, "os_error", None), exc.__cause__):
        if isinstance(candidate, ssl.SSLError):
            return f"{type(candidate).__name__}: {candidate.reason or candidate}"
    return f"{type(exc).__name__}: {exc}"


# --- Synapse's privacy settings -----------------------------------------------------------------


def synapse_findings(config: dict[str, Any]) -> tuple[bool, list[str]]:
    """Plain-words verdicts on the settings `bin-bridge init` chose for members' privacy."""
    ok = True
    lines: list[str] = []

    def bad(text: str) -> None:
        nonlocal ok
        ok = False
        lines.append("NEEDS ATTENTION: " + text)

    whitelist = config.get("federation_domain_whitelist")
    resources = {
        name
        for listener in config.get("listeners") or []
        for resource in listener.get("resources") or []
        for name in resource.get("names") or []
    }
    if whitelist == [] or "federation" not in resources:
        lines.append("Federation is OFF: only accounts on this server can use BIN.")
    elif whitelist:
        lines.append(f"Federation limited to {len(whitelist)} server(s).")
    else:
        lines.append("Federation is on: residents with an account elsewhere can join.")
    redaction = duration_s(config.get("redaction_retention_period", "7d"))
    if config.get("redaction_retention_period", "7d") is None or redaction is None:
        bad("redaction_retention_period is off: deleted messages are kept forever.")
    elif redaction > 7 * DAY:
        bad(f"redaction_retention_period is {redaction / DAY:g} days: deleted content stays.")
    else:
        lines.append(f"Deleted messages' content kept {redaction / DAY:g} day(s).")
    ips = duration_s(config.get("user_ips_max_age", "28d"))
    if ips is None or ips > 7 * DAY:
        shown = "forever" if ips is None else f"{ips / DAY:g} days"
        bad(f"user_ips_max_age: members' IP addresses are kept {shown} (init sets 1d).")
    else:
        lines.append(f"Members' IP addresses kept {ips / DAY:g} day(s).")
    retention = config.get("retention") or {}
    lifetime = duration_s((retention.get("default_policy") or {}).get("max_lifetime"))
    if retention.get("enabled") and lifetime is not None:
        lines.append(f"Events purged after {lifetime / DAY:g} days.")
    else:
        lines.append("No server-side purge of old events (retention off).")
    for key, wrong, text in (
        ("url_preview_enabled", True, "URL previews fetch links members post"),
        ("report_stats", True, "Synapse reports statistics to matrix.org"),
        ("enable_metrics", True, "a metrics endpoint is on"),
        ("enable_registration", True, "anyone can register without the sign-up page"),
        ("allow_guest_access", True, "guests can use the server"),
    ):
        if config.get(key, False) is wrong:
            bad(f"{key}: {text}.")
    if (config.get("presence") or {}).get("enabled", True):
        bad("presence is on: it shows when members are online.")
    if (config.get("push") or {}).get("include_content", True):
        bad("push.include_content is on: push notifications carry message content.")
    raised = sorted(key for key in config if key.startswith("rc_"))
    if raised:
        lines.append(
            "Rate limits changed in the config: " + ", ".join(raised) + " (init keeps "
            "Synapse's defaults and lifts only the bot's)."
        )
    if ok:
        lines.insert(0, "Privacy settings as `bin-bridge init` wrote them.")
    return ok, lines


@check
async def synapse_settings(ctx: Context) -> Finding:
    """Synapse's federation, retention and privacy settings, read from its config file."""
    title = "Synapse's privacy settings"
    path = ctx.settings.homeserver.synapse_config
    if path is None:
        return _not_applicable(title, "homeserver.synapse_config is not set: not checked.")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except PermissionError:
        return _not_applicable(
            title, f"Cannot read {path}: run doctor as root or as Synapse's user."
        )
    except (OSError, yaml.YAMLError) as exc:
        return Finding(title, False, [f"Cannot read {path}: {exc}."])
    if not isinstance(loaded, dict):
        return Finding(title, False, [f"{path} is not a YAML mapping."])
    ok, lines = synapse_findings(loaded)
    return Finding(title, ok, lines)


# --- the bot's rate-limit override --------------------------------------------------------------


@check
async def bot_rate_limit(ctx: Context) -> Finding:
    """The bot's rate limits lifted with the admin API (needs `bot.admin_token` to look)."""
    title = "The bot's rate limits"
    bot = ctx.settings.bot
    if bot.admin_token is None:
        return _not_applicable(
            title, "No bot.admin_token: cannot ask the admin API (`setup-bot` lifts them)."
        )
    quoted = urllib.parse.quote(bot.user_id, safe="@:")
    url = ctx.settings.homeserver.url.rstrip("/") + (
        f"/_synapse/admin/v1/users/{quoted}/override_ratelimit"
    )
    headers = {"Authorization": f"Bearer {bot.admin_token.get_secret_value()}"}
    try:
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as http,
            http.get(url, headers=headers) as response,
        ):
            status = response.status
            body = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return Finding(title, False, [f"The admin API did not answer ({type(exc).__name__})."])
    if status != 200 or not isinstance(body, dict):
        return Finding(title, False, [f"The admin API refused (HTTP {status})."])
    if body.get("messages_per_second") == 0 and body.get("burst_count") == 0:
        return Finding(title, True, [f"Lifted for {bot.user_id} (0/0: no limit)."])
    if not body:
        return Finding(
            title, False, ["Not lifted: broadcasts will be slow. Run `bin-bridge setup-bot`."]
        )
    return Finding(
        title,
        None,
        [
            f"Override {body.get('messages_per_second')}/s, burst {body.get('burst_count')} "
            "(setup-bot sets 0/0: no limit)."
        ],
    )


# --- the members' privacy statement -------------------------------------------------------------

PRIVACY_PLACEHOLDER = "(vult de beheerder hier in)"
"""The line of docs/privacy.md where the operator's name and contact details belong."""


@check
async def privacy_statement(ctx: Context) -> Finding:
    """The sign-up page links to a privacy statement: it must be there, and filled in."""
    title = "Privacy statement"
    signup = ctx.settings.signup
    if signup is None:
        return _not_applicable(title, "No [signup] section: no sign-up page to show it.")
    if signup.privacy_url:
        return Finding(title, True, [f"The sign-up page links to {signup.privacy_url}."])
    path = signup.privacy_file
    if path is None:
        return Finding(
            title,
            False,
            [
                "Neither signup.privacy_file nor signup.privacy_url is set: the sign-up page "
                "says no privacy statement is posted. Members must be told (AVG, art. 13)."
            ],
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Finding(
            title,
            False,
            [
                f"{path} is missing: the sign-up page says no privacy statement is posted. "
                "Copy docs/privacy.md there and fill in your name and contact details."
            ],
        )
    except OSError as exc:
        return Finding(title, False, [f"Cannot read {path} ({exc.strerror})."])
    if not text.strip():
        return Finding(title, False, [f"{path} is empty."])
    if PRIVACY_PLACEHOLDER in text:
        return Finding(
            title,
            False,
            [
                f"{path} still says {PRIVACY_PLACEHOLDER!r}: fill in your name and contact "
                "details before residents sign up."
            ],
        )
    return Finding(title, True, [f"{path} is there and filled in."])


# --- the sign-up page ---------------------------------------------------------------------------


@check
async def signup_page(ctx: Context) -> Finding:
    """The sign-up page answers, locally and (if HTTPS) through the proxy."""
    title = "Sign-up page"
    signup = ctx.settings.signup
    if signup is None:
        return _not_applicable(title, "No [signup] section: no sign-up page configured.")
    local = f"http://{signup.listen_host}:{signup.listen_port}/"
    lines: list[str] = []
    ok = True
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        targets: list[tuple[str, ssl.SSLContext | None]] = [(local, None)]
        if signup.public_url:
            targets.append((signup.public_url, ssl.create_default_context()))
        for url, context in targets:
            try:
                async with http.get(url, ssl=context if context is not None else True) as reply:
                    text = await reply.text()
                    if reply.status == 200 and 'name="form_token"' in text:
                        lines.append(f"{url} shows the form.")
                    else:
                        ok = False
                        lines.append(f"{url} answered HTTP {reply.status} without the form.")
            except (aiohttp.ClientError, TimeoutError) as exc:
                ok = False
                lines.append(f"{url} does not answer ({type(exc).__name__}).")
    return Finding(title, ok, lines)
