"""The interface through which screens talk to Matrix: plain data plus a small Protocol.

Screens only see `Report`, `ThreadItem` and `ConnectionState`; `MatrixGateway` implements the
Protocol with matrix-nio, tests implement it with a fake.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

Role = Literal["member", "coordinator", "bot"]
Status = Literal["connecting", "online", "offline"]


@dataclass(frozen=True, slots=True)
class ThreadItem:
    """One message in a report's thread, already attributed from structured data."""

    event_id: str
    role: Role
    """Who wrote it: the member (via the bot), a coordinator, or the bot speaking for itself."""
    author: str
    """Pseudonym (member), display name or user id (coordinator), bot name (bot).
    Taken from `nl.bin` fields or the event's sender, never from the message text."""
    text: str
    """The words as written; untrusted, always rendered through `bintui.safe_text`."""
    ts: float
    """Server timestamp, seconds since the epoch."""


@dataclass(frozen=True, slots=True)
class Report:
    """A member's conversation in a desk: the bot's root message and its thread."""

    root_event_id: str
    room_id: str
    report: str
    """The report label, e.g. 'M-0001'."""
    pseudonym: str
    wijk: str
    status: str
    """A `bridge.protocol.Status` value ('nieuw', 'in behandeling', …)."""
    opened_ts: float
    items: list[ThreadItem] = field(default_factory=list)
    """The root (the member's first message) first, then the thread in time order."""
    unread: bool = False
    """A member wrote something the coordinator has not looked at yet."""

    @property
    def last_ts(self) -> float:
        """Time of the latest activity in this report."""
        return max((item.ts for item in self.items), default=self.opened_ts)


@dataclass(frozen=True, slots=True)
class ConnectionState:
    """How the gateway is connected, and the last error in plain words (if any)."""

    status: Status = "connecting"
    error: str | None = None


class LoginRequired(Exception):
    """No usable credentials: ask the coordinator to log in (the message says why, if known)."""


class GatewayError(Exception):
    """Something the coordinator should know about and may act on; the message says what."""


class Gateway(Protocol):
    """What the screens need from Matrix."""

    state: ConnectionState

    async def start(self, on_change: Callable[[], None]) -> None:
        """Connect, do the first sync, then keep syncing in the background.

        `on_change` is called (from the event loop) whenever reports or `state` changed.
        Raises LoginRequired when no credentials are known or they were refused.
        """

    def reports(self) -> list[Report]:
        """All known reports, most recent activity first."""

    def mark_read(self, report: Report) -> None:
        """The coordinator has seen everything currently in `report`."""

    async def reply(self, report: Report, text: str) -> None:
        """Send a coordinator's answer into the report's thread; raises on failure."""

    async def close(self) -> None:
        """Stop syncing and release the connection (the session stays for next time)."""
