"""A fake Gateway for Pilot tests (with a small stand-in for the bot), and sample reports."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from bintui.gateway import (
    Broadcast,
    ConnectionState,
    GatewayError,
    Identity,
    LoginRequired,
    MediaFile,
    PoliceItem,
    Report,
    RoomRole,
    ThreadItem,
    Wijk,
    WijkStats,
)
from bridge.fairness import check_broadcast

OOST = Wijk("oost", "Oost", desk="!desk:localhost", police="!police:localhost", wijk="!wijk:l")
FIXED_NOW = 1_767_268_800.0
"""2026-01-01 12:00 UTC: the clock of snapshot tests."""


def report(
    number: int,
    pseudonym: str,
    text: str,
    *,
    answers: tuple[str, ...] = (),
    unread: bool = True,
    status: str = "nieuw",
    minutes_ago: float = 10,
    now: float | None = None,
    wijk: str = "oost",
    **extra: object,
) -> Report:
    """A report in the desk with the member's first message and optional coordinator answers."""
    root = f"$root{number}{'' if wijk == 'oost' else wijk}"
    opened = (now if now is not None else time.time()) - minutes_ago * 60
    items = [ThreadItem(root, "member", pseudonym, text, opened, urgent=bool(extra.get("urgent")))]
    items += [
        ThreadItem(f"$answer{number}-{i}", "coordinator", "Coördinator Anna", answer, opened + i)
        for i, answer in enumerate(answers, start=1)
    ]
    return Report(
        root_event_id=root,
        room_id="!desk:localhost",
        report=f"M-{number:04d}",
        pseudonym=pseudonym,
        wijk=wijk,
        status=status,
        opened_ts=opened,
        items=items,
        unread=unread,
        **extra,  # type: ignore[arg-type]
    )


class FakeGateway:
    """Serves fixed data; records what was sent; can ask for a login or fail on demand.

    With `bot=True` it also plays the bot's part for the commands the client sends: status,
    category, claim and forward change the report (as the bot's announcement would), and in
    the wijk room `!publiceer` makes a preview, `!ja` confirms and `!stop` cancels.
    """

    def __init__(
        self,
        reports: list[Report] | None = None,
        *,
        state: ConnectionState | None = None,
        login_required: str | None = None,
        reply_error: str | None = None,
        bot: bool = False,
        wijken: list[Wijk] | None = None,
        police: list[PoliceItem] | None = None,
        broadcasts: list[Broadcast] | None = None,
        stats: list[WijkStats] | None = None,
        members: int = 42,
        clock: Callable[[], float] = time.time,
        identity: Identity | None = None,
        undo_seconds: float = 30,
    ) -> None:
        self.undo_seconds = undo_seconds
        """The bot's undo window after `!ja` (short in tests of the countdown)."""
        self._reports = list(reports or [])
        self.state = state or ConnectionState("online")
        self.identity = identity or Identity("signed")
        self.recovery_key = "EsTc abcd"
        self.restores: list[str] = []
        self.login_required = login_required
        self.reply_error = reply_error
        self.bot = bot
        self._wijken = list(wijken if wijken is not None else [OOST])
        self._police = list(police or [])
        self._broadcasts = list(broadcasts or [])
        self._stats = list(stats or [])
        self.members = members
        self.clock = clock
        self.replies: list[tuple[str, str]] = []
        self.commands: list[tuple[str, str]] = []
        self.room_sends: list[tuple[str, RoomRole, str]] = []
        self.read: list[str] = []
        self.started = False
        self.closed = False
        self.on_change: Callable[[], None] = lambda: None
        self.media: dict[str, bytes] = {}
        """Photos by mxc URL, as the homeserver would hand them out (decrypted)."""
        self.drafts: dict[str, str] = {}
        """What the encrypted draft file would hold."""
        self.logged_out = False
        self.logout_error: str | None = None

    async def start(self, on_change: Callable[[], None]) -> None:
        if self.login_required is not None:
            raise LoginRequired(self.login_required)
        self.on_change = on_change
        self.started = True
        on_change()

    def reports(self) -> list[Report]:
        return list(self._reports)

    def mark_read(self, report: Report) -> None:
        self.read.append(report.root_event_id)
        self._reports = [
            replace(r, unread=False) if r.root_event_id == report.root_event_id else r
            for r in self._reports
        ]

    async def reply(self, report: Report, text: str) -> None:
        if self.reply_error is not None:
            raise GatewayError(self.reply_error)
        self.replies.append((report.root_event_id, text))

    async def send_command(self, report: Report, text: str) -> None:
        if self.reply_error is not None:
            raise GatewayError(self.reply_error)
        self.commands.append((report.root_event_id, text))
        if self.bot:
            self._play_desk(report, text)

    async def send_to_room(self, wijk: str, role: RoomRole, text: str) -> None:
        if self.reply_error is not None:
            raise GatewayError(self.reply_error)
        self.room_sends.append((wijk, role, text))
        if self.bot and role == "wijk":
            self._play_wijk(wijk, text)

    def wijken(self) -> list[Wijk]:
        return list(self._wijken)

    def police_items(self) -> list[PoliceItem]:
        return sorted(self._police, key=lambda p: p.ts, reverse=True)

    def broadcasts(self) -> list[Broadcast]:
        return sorted(self._broadcasts, key=lambda b: (b.ts, b.label), reverse=True)

    def stats(self) -> list[WijkStats]:
        return list(self._stats)

    async def restore_identity(self, recovery_key: str) -> Identity:
        self.restores.append(recovery_key)
        if recovery_key == self.recovery_key:
            self.identity = Identity("signed")
        else:
            self.identity = Identity("needs_recovery_key", message="this recovery key does not fit")
        return self.identity

    async def fetch_media(self, file: MediaFile) -> bytes:
        if file.url not in self.media:
            raise GatewayError("the photo could not be downloaded")
        return self.media[file.url]

    def load_drafts(self) -> dict[str, str]:
        return dict(self.drafts)

    def save_drafts(self, drafts: dict[str, str]) -> None:
        self.drafts = dict(drafts)

    async def logout(self) -> None:
        if self.logout_error is not None:
            raise GatewayError(self.logout_error)
        self.logged_out = True
        self.drafts = {}
        self.login_required = "logged out"

    async def close(self) -> None:
        self.closed = True

    # Test helpers: what the real gateway does when a sync brings news.
    def push(self, reports: list[Report], state: ConnectionState | None = None) -> None:
        self._reports = list(reports)
        if state is not None:
            self.state = state
        self.on_change()

    def push_broadcast(self, broadcast: Broadcast) -> None:
        """The bot said something new about a broadcast."""
        self._broadcasts = [
            b for b in self._broadcasts if (b.wijk, b.label) != (broadcast.wijk, broadcast.label)
        ]
        self._broadcasts.append(replace(broadcast, ts=broadcast.ts or self.clock()))
        self.on_change()

    def push_police(self, item: PoliceItem) -> None:
        self._police.append(item)
        self.on_change()

    def broadcast(self, label: str) -> Broadcast:
        return next(b for b in self._broadcasts if b.label == label)

    # -- the bot's part ------------------------------------------------------------------

    def _replace(self, report: Report, **changes: object) -> None:
        now = self.clock()
        note = ThreadItem(f"$sys{len(self.commands)}", "bot", "BIN", "ok", now)
        self._reports = [
            replace(r, items=[*r.items, note], **changes)  # type: ignore[arg-type]
            if r.root_event_id == report.root_event_id
            else r
            for r in self._reports
        ]
        self.on_change()

    def _play_desk(self, report: Report, text: str) -> None:
        word, _, rest = text.partition(" ")
        _label, _, argument = rest.partition(" ")
        if word == "!neem":
            status = "in behandeling" if report.status == "nieuw" else report.status
            self._replace(report, handler="@anna:localhost", status=status)
        elif word == "!status":
            self._replace(report, status=argument)
        elif word == "!categorie":
            self._replace(report, category=argument)
        elif word == "!doorsturen":
            forwarded, _, note = argument.partition("\nnotitie: ")
            self._police.append(
                PoliceItem(
                    f"$fwd{len(self._police)}",
                    "forward",
                    report.wijk,
                    report.report,
                    forwarded,
                    self.clock(),
                    note=note or None,
                )
            )
            self._replace(report, status="doorgestuurd")

    def _play_wijk(self, wijk: str, text: str) -> None:
        number = len(self._broadcasts) + 1
        if text.startswith("!publiceer "):
            argument = text.removeprefix("!publiceer ")
            category, _, words = argument.partition(": ")
            if argument.startswith("B-"):
                found = next(p for p in self._police if p.label == argument)
                category, words = "politie", found.text
            verdict = check_broadcast(words)
            self.push_broadcast(
                Broadcast(
                    wijk,
                    f"W-{number:04d}",
                    "preview",
                    text=words,
                    category=category,
                    recipients=self.members,
                    unfair=verdict.quoted if verdict.flagged else None,
                )
            )
            return
        latest = max(
            (b for b in self._broadcasts if b.wijk == wijk), key=lambda b: b.ts, default=None
        )
        if latest is None:
            return
        if text == "!stop":
            self.push_broadcast(replace(latest, phase="cancelled", ts=0))
        elif text == "!ja" and latest.unfair:
            self.push_broadcast(replace(latest, phase="refused", ts=0))
        elif text in ("!ja", "!ja zeker"):
            self.push_broadcast(
                replace(latest, phase="confirmed", undo_seconds=self.undo_seconds, ts=0)
            )
