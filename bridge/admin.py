"""`bin-bridge admin`: the operator's view of the wijken — members, open reports, join codes,
figures — read from the bridge's own store (safe while the bot runs: SQLite in WAL mode).
"""

from __future__ import annotations

import sys
from typing import TextIO

from bridge.bot import load_or_create_secret
from bridge.desk import DeskWork, small
from bridge.membership import Membership
from bridge.settings import BridgeSettings
from bridge.store import Store


def _store(settings: BridgeSettings) -> Store:
    return Store(settings.bot.data_dir / "bridge.db")


def list_wijken(settings: BridgeSettings, out: TextIO = sys.stdout) -> int:
    """One line per wijk: slug, name, members, open reports, coordinators."""
    store = _store(settings)
    try:
        print(f"{'wijk':<12} {'leden':>6} {'open':>5}  naam / coördinatoren", file=out)
        for wijk in settings.wijken:
            row = store.query_one(
                "SELECT COUNT(*) FROM conversations WHERE wijk=? AND closed=0", (wijk.slug,)
            )
            open_reports = int(row[0]) if row else 0
            members = store.member_count(wijk.slug)
            coordinators = ", ".join(wijk.coordinators) or "-"
            print(
                f"{wijk.slug:<12} {members:>6} {open_reports:>5}  {wijk.name} / {coordinators}",
                file=out,
            )
    finally:
        store.close()
    return 0


def rotate_code(settings: BridgeSettings, slug: str, out: TextIO = sys.stdout) -> int:
    """Give a wijk a new join code; it is printed once and only its digest is kept."""
    if settings.wijk(slug) is None:
        print(f"bin-bridge admin: unknown wijk {slug!r}", file=sys.stderr)
        return 2
    store = _store(settings)
    try:
        secret = load_or_create_secret(settings)
        code = Membership(settings, store, secret, _no_notify, _no_admit).rotate_code(slug)
    finally:
        store.close()
    print(f"Nieuwe aanmeldcode voor {slug}: {code}", file=out)
    print("De oude code werkt niet meer. Deze code wordt niet nog eens getoond.", file=out)
    return 0


def stats(settings: BridgeSettings, slug: str | None, out: TextIO = sys.stdout) -> int:
    """The same figures as `!stats`, for one wijk or all; small counts hidden."""
    store = _store(settings)
    try:
        desk = DeskWork(settings, store)
        for wijk in settings.wijken:
            if slug is None or wijk.slug == slug:
                print(desk.stats(wijk), file=out)
                print(file=out)
        total = sum(store.member_count(w.slug) for w in settings.wijken)
        print(f"Leden in totaal: {small(total)}", file=out)
    finally:
        store.close()
    return 0


def _no_notify(*args: object, **kwargs: object) -> None:
    """The admin CLI rotates codes only; it never talks to members."""


def _no_admit(*args: object) -> None:
    """The admin CLI never admits members."""
