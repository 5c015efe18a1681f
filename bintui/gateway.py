"""The interface through which screens talk to Matrix: plain data plus a small Protocol.

Screens only see the dataclasses below; `MatrixGateway` implements the Protocol with
matrix-nio, tests implement it with a fake. Everything a screen changes in the BIN workflow
(status, category, claim, forward, block, broadcast) is a desk or wijk command sent through
the gateway, so the bot stays the single source of truth and the client only shows what the
bot announced back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

Role = Literal["member", "coordinator", "command", "bot", "police"]
Status = Literal["connecting", "online", "offline"]
RoomRole = Literal["desk", "police", "wijk"]


@dataclass(frozen=True, slots=True)
class MediaFile:
    """Where the bot's cleaned copy of a photo lives: encrypted, on the homeserver."""

    url: str
    """mxc:// address of the encrypted bytes (the bot's upload, never the member's)."""
    key: str
    """The AES key (JWK `k`, unpadded base64url)."""
    iv: str
    sha256: str
    """The SHA-256 of the encrypted bytes (unpadded base64)."""
    mimetype: str = "image/jpeg"


@dataclass(frozen=True, slots=True)
class ThreadItem:
    """One message in a report's thread, already attributed from structured data."""

    event_id: str
    role: Role
    """Who wrote it: the member (via the bot), a coordinator (an answer the member receives),
    a coordinator's desk command (`!neem` …, never delivered), the bot speaking for itself,
    or the police/gemeente (their reply to a forward, posted by the bot)."""
    author: str
    """Pseudonym (member), display name or user id (coordinator), bot name (bot).
    Taken from `nl.bin` fields or the event's sender, never from the message text."""
    text: str
    """The words as written; untrusted, always rendered through `bintui.safe_text`."""
    ts: float
    """Server timestamp, seconds since the epoch."""
    urgent: bool = False
    """The bot flagged these words as possibly urgent (nl.bin `urgent`)."""
    edited: bool = False
    """A new version of an earlier message (the bot removed the old copy)."""
    part: tuple[int, int] | None = None
    """(part, parts) of a long text sent in parts."""
    media: str | None = None
    """'image' or 'location' when the message carries one (nl.bin `media`)."""
    file: MediaFile | None = None
    """For a photo: the bot's encrypted upload, to fetch from the homeserver on request."""


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
    """A member wrote, or the police answered, after the last answer and nobody looked yet."""
    category: str | None = None
    """As set with `!categorie`, from the bot's latest announcement in the thread."""
    handler: str | None = None
    """The coordinator (user id) who claimed it with `!neem`, from the bot's announcements."""
    urgent: bool = False
    """Some message of the member in this report was flagged as possibly urgent."""
    reaction_to: str | None = None
    """The broadcast (W-0003) this report reacts to, if it is a reaction."""
    blocked: bool = False
    """The member behind it is blocked (from the bot's latest block/unblock announcement)."""
    police_reply: str | None = None
    """The event id of the latest police/gemeente reply in the thread (to announce new ones
    without looking through every report's messages)."""
    _last_ts: float | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def last_ts(self) -> float:
        """Time of the latest activity in this report (worked out once: sorting ten thousand
        reports asks for it again and again)."""
        last = self._last_ts
        if last is None:
            last = max((item.ts for item in self.items), default=self.opened_ts)
            object.__setattr__(self, "_last_ts", last)  # frozen: a cache, not a change
        return last

    @property
    def first_answer_ts(self) -> float | None:
        """When a coordinator first answered in the thread (None if nobody did yet)."""
        return next((i.ts for i in self.items if i.role == "coordinator"), None)

    @property
    def key(self) -> str:
        """The identity of a report in lists: its root event id."""
        return self.root_event_id


@dataclass(frozen=True, slots=True)
class Wijk:
    """One wijk the coordinator works for, with its three rooms as far as they are known."""

    slug: str
    """The short name in the bot's fields, e.g. 'oost'."""
    name: str
    """The display name as in the room names, e.g. 'Oost'."""
    desk: str | None = None
    police: str | None = None
    wijk: str | None = None
    """The broadcast room ("Wijkberichten")."""

    def room(self, role: RoomRole) -> str | None:
        """The room id of one of the three rooms."""
        return {"desk": self.desk, "police": self.police, "wijk": self.wijk}[role]


PoliceKind = Literal["bulletin", "forward", "police_reply"]


@dataclass(frozen=True, slots=True)
class PoliceItem:
    """Something in the police & gemeente flow: a bulletin, our forward, or a police reply."""

    event_id: str
    kind: PoliceKind
    wijk: str
    label: str
    """B-0001 for a bulletin, M-0003 for a forward or a police reply."""
    text: str
    """Untrusted words (police or member text); rendered through `bintui.safe_text`."""
    ts: float
    note: str | None = None
    """On a forward: the coordinator's note to the police."""


BroadcastPhase = Literal["preview", "refused", "confirmed", "sending", "done", "cancelled"]


@dataclass(frozen=True, slots=True)
class Broadcast:
    """A wijk message as the bot reported on it in the wijk room."""

    wijk: str
    label: str
    """W-0001."""
    phase: BroadcastPhase
    text: str = ""
    category: str = ""
    recipients: int | None = None
    """How many members the bot's preview said it goes to."""
    unfair: str | None = None
    """The words the bot's fairness check quoted (origin or skin colour), if it flagged it."""
    delivered: int | None = None
    total: int | None = None
    undo_seconds: float | None = None
    ts: float = 0.0
    """When the latest of the bot's messages about it arrived."""


@dataclass(frozen=True, slots=True)
class WijkStats:
    """What the bot's latest `!stats` answer said about a wijk (small counts stay '<5')."""

    wijk: str
    members: str
    ts: float


IdentityStatus = Literal["unknown", "signed", "created", "needs_recovery_key", "failed"]


@dataclass(frozen=True, slots=True)
class Identity:
    """Where this device stands with the coordinator's cross-signing identity."""

    status: IdentityStatus = "unknown"
    recovery_key: str | None = None
    """Only right after creating the identity: to show to the coordinator, once."""
    message: str = ""
    """What went wrong, in plain words (no secrets)."""


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
    identity: Identity
    """Whether this device is cross-signed by the coordinator's identity (after start)."""

    async def start(self, on_change: Callable[[], None]) -> None:
        """Connect, do the first sync, then keep syncing in the background.

        `on_change` is called (from the event loop) whenever reports or `state` changed.
        Raises LoginRequired when no credentials are known or they were refused.
        """

    def reports(self) -> list[Report]:
        """All known reports, most recent activity first (unchanged reports are the same
        objects from call to call, so a list can update only the rows that changed)."""

    def mark_read(self, report: Report) -> None:
        """The coordinator has seen everything currently in `report`."""

    async def reply(self, report: Report, text: str) -> None:
        """Send a coordinator's answer into the report's thread; raises on failure."""

    async def send_command(self, report: Report, text: str) -> None:
        """Send a desk command (`!neem M-0003` …) into the report's thread; raises on failure.
        The bot acts on it and announces the result in the thread."""

    async def send_to_room(self, wijk: str, role: RoomRole, text: str) -> None:
        """Send `text` (a command such as `!publiceer …` or `!stats`) into one of a wijk's
        rooms; raises GatewayError when the room is unknown or the send fails."""

    def wijken(self) -> list[Wijk]:
        """The wijken whose rooms the coordinator is in, by slug."""

    def police_items(self) -> list[PoliceItem]:
        """Bulletins, forwards and police replies, newest first."""

    def broadcasts(self) -> list[Broadcast]:
        """What the bot said about each broadcast, newest first."""

    def stats(self) -> list[WijkStats]:
        """The latest `!stats` figures per wijk that the bot posted, if any."""

    async def restore_identity(self, recovery_key: str) -> Identity:
        """Sign this device with the identity whose keys the recovery key unlocks."""

    async def fetch_media(self, file: MediaFile) -> bytes:
        """The decrypted bytes of a photo, from the coordinator's own homeserver only;
        raises GatewayError when it cannot be fetched or does not match its hash."""

    def load_drafts(self) -> dict[str, str]:
        """Unsent answers by report root, as kept (encrypted) from an earlier run."""

    def save_drafts(self, drafts: dict[str, str]) -> None:
        """Keep these unsent answers (encrypted at rest); an empty dict removes the file."""

    async def logout(self) -> None:
        """Log this device out on the homeserver, then delete the local session, encryption
        store and cache; raises GatewayError (and deletes nothing) when the server refuses."""

    async def close(self) -> None:
        """Stop syncing and release the connection (the session stays for next time)."""
