"""Member and coordinator commands: one registry, Dutch names with English aliases (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Audience(StrEnum):
    """Where a command may be used."""

    MEMBER = "member"
    """In a member's private room."""
    DESK = "desk"
    """In a wijk's coordinator desk."""
    WIJK = "wijk"
    """In a wijk's broadcast room (coordinators only)."""


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command: its canonical Dutch name, aliases, and the catalog keys for its help."""

    name: str
    aliases: tuple[str, ...]
    audience: Audience
    help_key: str
    """Message-catalog key of the one-line help text."""
    takes_argument: bool = False


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("hulp", ("help", "?"), Audience.MEMBER, "help.hulp"),
    CommandSpec("aanmelden", ("join",), Audience.MEMBER, "help.aanmelden", takes_argument=True),
    CommandSpec("afmelden", ("leave",), Audience.MEMBER, "help.afmelden", takes_argument=True),
    CommandSpec("nieuw", ("new",), Audience.MEMBER, "help.nieuw"),
    CommandSpec("naam", ("name",), Audience.MEMBER, "help.naam"),
    CommandSpec("privacy", (), Audience.MEMBER, "help.privacy"),
    CommandSpec("taal", ("language", "lang"), Audience.MEMBER, "help.taal", takes_argument=True),
    CommandSpec(
        "persoonlijk", ("personal",), Audience.MEMBER, "help.persoonlijk", takes_argument=True
    ),
    CommandSpec("ja", ("yes",), Audience.MEMBER, "help.locatie_ja"),
    CommandSpec("blokkeer", ("block",), Audience.DESK, "help.blokkeer", takes_argument=True),
    CommandSpec("deblokkeer", ("unblock",), Audience.DESK, "help.deblokkeer", takes_argument=True),
    CommandSpec("status", (), Audience.DESK, "help.status", takes_argument=True),
    CommandSpec(
        "categorie", ("category", "cat"), Audience.DESK, "help.categorie", takes_argument=True
    ),
    CommandSpec("neem", ("claim", "ikdoe"), Audience.DESK, "help.neem", takes_argument=True),
    CommandSpec(
        "doorsturen", ("forward", "politie"), Audience.DESK, "help.doorsturen", takes_argument=True
    ),
    CommandSpec("stats", ("cijfers",), Audience.DESK, "help.stats"),
    CommandSpec("toelaten", ("admit",), Audience.DESK, "help.toelaten", takes_argument=True),
    CommandSpec("weigeren", ("refuse",), Audience.DESK, "help.weigeren", takes_argument=True),
    CommandSpec("hulp", ("help", "?"), Audience.DESK, "help.desk"),
    CommandSpec("publiceer", ("publish",), Audience.WIJK, "help.publiceer", takes_argument=True),
    CommandSpec("ja", ("yes",), Audience.WIJK, "help.wijk_ja"),
    CommandSpec("stop", ("annuleer", "cancel"), Audience.WIJK, "help.wijk_stop"),
)

PREFIX = "!"

CONFIRM_WORDS = frozenset({"ja", "yes"})
"""The explicit confirmation after `!persoonlijk` ("!persoonlijk ja")."""


@dataclass(frozen=True, slots=True)
class Command:
    """A recognised command with its (possibly empty) argument text."""

    spec: CommandSpec
    argument: str


@dataclass(frozen=True, slots=True)
class UnknownCommand:
    """Text that looks like a command but is not one we know."""

    word: str


def lookup(word: str, audience: Audience) -> CommandSpec | None:
    """The command called `word` (name or alias, any case) for this audience."""
    key = word.lower()
    for spec in COMMANDS:
        if spec.audience is audience and (key == spec.name or key in spec.aliases):
            return spec
    return None


def parse(text: str, audience: Audience) -> Command | UnknownCommand | None:
    """Parse a message: a Command, an UnknownCommand, or None when it is not a command at all.

    Only a message that *starts* with `!` followed by a letter is a command, so that
    "!!! er brandt iets" is still a report.
    """
    stripped = text.strip()
    if not stripped.startswith(PREFIX) or len(stripped) < 2 or not stripped[1].isalpha():
        if stripped in ("!?",):
            spec = lookup("?", audience)
            return Command(spec, "") if spec else None
        return None
    # The command word ends at any whitespace: "!aanmelden\nCODE" carries its code too.
    word, *rest = stripped[1:].split(None, 1)
    spec = lookup(word, audience)
    if spec is None:
        return UnknownCommand(word[:32])
    return Command(spec, rest[0].strip() if rest else "")


def where(word: str) -> Audience | None:
    """The room kind where `word` is a command, for explaining a command used in the wrong room."""
    for audience in (Audience.WIJK, Audience.DESK):
        if lookup(word, audience) is not None:
            return audience
    return None


def member_commands() -> tuple[CommandSpec, ...]:
    """The commands a member can use, in help order."""
    return tuple(c for c in COMMANDS if c.audience is Audience.MEMBER)
