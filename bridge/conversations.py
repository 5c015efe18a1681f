"""Which conversation a member's message belongs to (pure rules, DESIGN.md section 3).

A member's message joins a conversation when it replies to a message of that conversation,
or when their latest conversation is still open: not closed by a coordinator and active within
the configured window. Otherwise it starts a new one. `!nieuw` starts a new one explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ConversationState:
    """What the rules need to know about one of the member's conversations."""

    id: str
    last_activity: float
    """Unix time of the latest message in either direction."""
    closed: bool = False


@dataclass(frozen=True, slots=True)
class Inbound:
    """A member's message, as far as routing is concerned."""

    now: float
    replied_to: ConversationState | None = None
    """The conversation of the bot message the member replied to, if it is known."""
    explicit_new: bool = False
    """The member asked for a new conversation (`!nieuw`)."""


@dataclass(frozen=True, slots=True)
class Join:
    """Add the message to this existing conversation (re-opening it if it was closed)."""

    conversation_id: str


@dataclass(frozen=True, slots=True)
class StartNew:
    """Start a new conversation with this message."""


Decision = Join | StartNew


def route(inbound: Inbound, latest: ConversationState | None, window_s: float) -> Decision:
    """Decide where a member's message goes.

    `latest` is the member's most recent conversation in their current wijk, if any.
    A reply wins over the state of `latest` (closed, quiet for too long), because the member
    pointed at the conversation; only an explicit `!nieuw`, said just before, comes first.
    """
    if inbound.explicit_new:
        return StartNew()
    if inbound.replied_to is not None:
        return Join(inbound.replied_to.id)
    if latest is None or latest.closed:
        return StartNew()
    if inbound.now - latest.last_activity > window_s:
        return StartNew()
    return Join(latest.id)
