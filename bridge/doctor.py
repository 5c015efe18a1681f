"""`bin-bridge doctor`: the bot's health in plain words for an operator, safe while it runs.

Each check is a small function that looks at one thing and returns a `Finding`. Checks are
read-only: the databases are opened read-only, nothing is created or repaired, and no member
identifier or message text is ever printed. Other parts of the bridge add their own checks
with `@check` (see `CHECKS`); `run_doctor` runs them all in order.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bridge.crosssign import load_keys, verify_device_chain
from bridge.matrix import (
    SESSION_FILE,
    STORE_DIR,
    IdentityError,
    Session,
    check_crypto_store,
    load_session,
)
from bridge.settings import BridgeSettings

STATUS_FILE = "status.json"
STALE_SYNC_S = 5 * 60
"""A running bot completes a sync at least every long-poll (30 s); five minutes is trouble."""


@dataclass
class Finding:
    """What one check found: a verdict and a few lines for the operator."""

    title: str
    ok: bool | None
    """True: fine; False: needs attention; None: information only."""
    lines: list[str] = field(default_factory=list)


@dataclass
class Context:
    """What every check may look at (loaded once)."""

    settings: BridgeSettings
    data_dir: Path
    session: Session | None
    session_error: str | None
    status: dict[str, Any]

    def bridge_db(self) -> sqlite3.Connection | None:
        """The bridge's database, read-only (None if it does not exist yet)."""
        path = self.data_dir / "bridge.db"
        if not path.exists():
            return None
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


Check = Callable[[Context], Awaitable[Finding]]
CHECKS: list[Check] = []


def check(function: Check) -> Check:
    """Register a doctor check; checks run in the order they were registered."""
    CHECKS.append(function)
    return function


def load_context(settings: BridgeSettings) -> Context:
    data_dir = settings.bot.data_dir
    try:
        session, session_error = load_session(data_dir), None
    except IdentityError as exc:
        session, session_error = None, str(exc)
    try:
        status = json.loads((data_dir / STATUS_FILE).read_text())
    except (OSError, ValueError):
        status = {}
    return Context(settings, data_dir, session, session_error, status)


# --- the checks -------------------------------------------------------------------------------


@check
async def identity(ctx: Context) -> Finding:
    """The bot's account and device, its crypto store, and its cross-signing chain."""
    finding = Finding("Identity", True)
    bot = ctx.settings.bot
    if ctx.session_error is not None:
        return Finding("Identity", False, [ctx.session_error])
    if ctx.session is None:
        return Finding(
            "Identity",
            None,
            [f"No session yet in {ctx.data_dir / SESSION_FILE}: the bot has never started."],
        )
    session = ctx.session
    finding.lines.append(f"Bot account {session.user_id}, device {session.device_id}.")
    if session.user_id != bot.user_id:
        finding.ok = False
        finding.lines.append(f"The config names another bot account ({bot.user_id})!")
    try:
        check_crypto_store(ctx.data_dir / STORE_DIR, session)
        finding.lines.append("Crypto store present and readable, for this device.")
    except IdentityError as exc:
        finding.ok = False
        finding.lines.append(f"Crypto store: {exc}")
    keys = load_keys(bot.key_file) if bot.key_file.exists() else None
    if keys is None:
        finding.ok = False
        finding.lines.append(f"No cross-signing keys in {bot.key_file}.")
        return finding
    master = keys.public("master")
    try:
        status, body = await _client_post(
            ctx.settings.homeserver.url,
            session,
            "/_matrix/client/v3/keys/query",
            {"device_keys": {session.user_id: []}},
        )
    except (aiohttp.ClientError, TimeoutError) as exc:
        finding.ok = False
        finding.lines.append(f"The homeserver did not answer ({type(exc).__name__}).")
        return finding
    if status != 200 or not isinstance(body, dict):
        finding.ok = False
        finding.lines.append(f"The homeserver refused the key query (HTTP {status}).")
    elif verify_device_chain(body, session.user_id, session.device_id, master_key=master):
        finding.lines.append(
            "Cross-signing verified on the homeserver: the device is signed by the "
            f"self-signing key, which is signed by master key {master}."
        )
    else:
        finding.ok = False
        finding.lines.append(
            "Cross-signing does NOT verify on the homeserver: members' apps will show the bot "
            "as unverified."
        )
    return finding


@check
async def store_health(ctx: Context) -> Finding:
    """The bridge database: schema version and SQLite's own integrity check."""
    db = ctx.bridge_db()
    if db is None:
        return Finding("Bridge database", None, ["Not created yet (the bot has never started)."])
    try:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        verdict = [str(r[0]) for r in db.execute("PRAGMA integrity_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        return Finding("Bridge database", False, [f"Cannot be read: {exc}."])
    finally:
        db.close()
    ok = verdict == ["ok"]
    lines = [f"Schema version {version}."]
    lines.append("Integrity check: ok." if ok else f"Integrity check FAILED: {verdict[:5]}")
    return Finding("Bridge database", ok, lines)


@check
async def queues(ctx: Context) -> Finding:
    """What is waiting: sends not yet confirmed, events still waiting for their room key."""
    db = ctx.bridge_db()
    if db is None:
        return Finding("Queues", None, ["No database yet."])
    try:
        outbox, oldest = db.execute("SELECT COUNT(*), MIN(created_at) FROM outbox").fetchone()
        waiting, oldest_key = db.execute(
            "SELECT COUNT(*), MIN(received_at) FROM undecrypted"
        ).fetchone()
    except sqlite3.DatabaseError as exc:
        return Finding("Queues", False, [f"Cannot be read: {exc}."])
    finally:
        db.close()
    now = time.time()
    lines = [f"Outbox: {outbox} send(s) not yet confirmed by the homeserver" + _age(oldest, now)]
    lines.append(f"Waiting for a room key: {waiting} event(s)" + _age(oldest_key, now))
    stuck = oldest is not None and now - float(oldest) > 3600
    if stuck:
        lines.append("The oldest send waits for more than an hour: see the bot's log.")
    return Finding("Queues", not stuck, lines)


@check
async def sync(ctx: Context) -> Finding:
    """When the bot last completed a sync (from its status file)."""
    status = ctx.status
    if not status:
        return Finding("Sync", None, [f"No status file ({ctx.data_dir / STATUS_FILE})."])
    last = status.get("last_sync")
    lines = []
    ok: bool | None = True
    if isinstance(last, int | float):
        ago = time.time() - float(last)
        lines.append(f"Last completed sync: {_when(last)} ({ago:.0f} s ago).")
        if ago > STALE_SYNC_S:
            ok = False
            lines.append("That is long ago: the bot is stopped, or cannot reach the homeserver.")
    else:
        ok = None
        lines.append("No sync completed yet.")
    lines.append(
        f"Errors since start: {status.get('errors', 0)}; last kind: "
        f"{status.get('last_error') or 'none'}."
    )
    if status.get("last_error_at"):
        lines.append(f"Last error at {_when(status['last_error_at'])}.")
    return Finding("Sync", ok, lines)


@check
async def privacy_settings(ctx: Context) -> Finding:
    """Retention and the settings that bear on members' anonymity (information only)."""
    relay = ctx.settings.relay
    bot = ctx.settings.bot
    secret = (
        "from the config/environment"
        if bot.secret_key is not None
        else f"generated, in {ctx.data_dir / 'secret.key'}"
    )
    lines = [
        f"Report-to-member mapping kept for {relay.retention_days:g} days.",
        f"Blocked accounts remembered (as keyed digests) for {relay.block_retention_days:g} days.",
        f"Conversation window: {relay.conversation_window_days:g} days; pseudonyms "
        f"{relay.pseudonyms.replace('_', ' ')}.",
        f"Flood limit: {relay.rate_limit_per_minute} messages per member per minute.",
        f"Log level {ctx.settings.log_level} (identifiers are masked at every level).",
        f"HMAC secret {secret}.",
    ]
    weakening = weakened_anonymity(ctx.settings)
    if weakening:
        lines.append("Settings that weaken members' anonymity:")
        lines += [f"  - {line}" for line in weakening]
    return Finding("Retention and anonymity settings", None, lines)


def weakened_anonymity(settings: BridgeSettings) -> list[str]:
    """Plain-words warnings for every setting that makes members easier to identify."""
    relay = settings.relay
    out = []
    if relay.max_delay_seconds <= 0:
        out.append(
            "no relay delay (relay.max_delay_seconds = 0): a desk post follows the member's "
            "message within a second, so whoever runs the homeserver can link the two by timing."
        )
    if relay.pseudonyms == "per_member":
        out.append(
            "stable pseudonyms (relay.pseudonyms = per_member): coordinators can link all "
            "conversations of one member into a profile."
        )
    if settings.log_level.upper() == "DEBUG":
        out.append(
            "DEBUG logging: identifiers stay masked, but the log records when and how often "
            "members write; use INFO or WARNING in production."
        )
    if settings.bot.admin_token is None:
        out.append(
            "no admin token (bot.admin_token): members' original photos and the rooms of "
            "members who left stay on the homeserver (encrypted) until the operator purges them."
        )
    if relay.retention_days > 180:
        out.append(
            f"long retention ({relay.retention_days:g} days): the link between a report and its "
            "member is kept longer than needed to answer it."
        )
    return out


# --- running ----------------------------------------------------------------------------------


async def diagnose(settings: BridgeSettings, checks: list[Check] | None = None) -> list[Finding]:
    """Run every registered check; a check that fails to run is itself a finding."""
    ctx = load_context(settings)
    findings = []
    for function in checks if checks is not None else CHECKS:
        try:
            findings.append(await function(ctx))
        except Exception as exc:
            name = function.__name__.replace("_", " ")
            findings.append(Finding(name, False, [f"The check itself failed: {exc!r}."]))
    return findings


def render(findings: list[Finding]) -> str:
    marks = {True: "OK  ", False: "FOUT", None: "INFO"}
    out = []
    for finding in findings:
        out.append(f"[{marks[finding.ok]}] {finding.title}")
        out += [f"       {line}" for line in finding.lines]
    bad = [f.title for f in findings if f.ok is False]
    out.append("")
    out.append("All checks passed." if not bad else f"Needs attention: {', '.join(bad)}.")
    return "\n".join(out)


def run_doctor(settings: BridgeSettings) -> int:
    """Print the findings; exit code 0 when nothing needs attention, 1 otherwise."""
    findings = asyncio.run(diagnose(settings))
    print(render(findings))
    return 1 if any(f.ok is False for f in findings) else 0


# --- helpers ----------------------------------------------------------------------------------


async def _client_post(
    homeserver: str, session: Session, path: str, body: dict[str, Any]
) -> tuple[int, Any]:
    timeout = aiohttp.ClientTimeout(total=20)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.post(
            homeserver.rstrip("/") + path,
            json=body,
            headers={"Authorization": f"Bearer {session.access_token}"},
        ) as response,
    ):
        return response.status, await response.json(content_type=None)


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(timestamp)))


def _age(oldest: Any, now: float) -> str:
    if oldest is None:
        return "."
    return f" (oldest {now - float(oldest):.0f} s)."
