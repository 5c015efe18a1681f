"""Figures per wijk from the reports the client knows (pure): open reports, reports per week,
average time to the first answer.

These are the coordinator's own view, computed from what this device could read; the bot's
`!stats` counts every conversation (and hides small numbers), and is shown next to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bridge.protocol import Status

from .gateway import Report

WEEK = 7 * 86400
WEEKS = 8


@dataclass(frozen=True, slots=True)
class WijkFigures:
    """What the overview shows for one wijk."""

    wijk: str
    total: int
    open: int
    unread: int
    urgent_open: int
    per_week: tuple[int, ...]
    """Reports opened per week, oldest first; the last is the week ending now."""
    first_answer_hours: float | None
    """Average hours from a report to a coordinator's first answer (answered ones only)."""


def wijk_figures(reports: Iterable[Report], wijk: str, now: float) -> WijkFigures:
    """Figures for one wijk at time `now`."""
    mine = [r for r in reports if r.wijk == wijk]
    per_week = [0] * WEEKS
    for report in mine:
        back = int((now - report.opened_ts) // WEEK)
        if 0 <= back < WEEKS:
            per_week[WEEKS - 1 - back] += 1
    waits = [first - r.opened_ts for r in mine if (first := r.first_answer_ts) is not None]
    open_ = [r for r in mine if r.status != Status.CLOSED.value]
    return WijkFigures(
        wijk=wijk,
        total=len(mine),
        open=len(open_),
        unread=sum(1 for r in mine if r.unread),
        urgent_open=sum(1 for r in open_ if r.urgent),
        per_week=tuple(per_week),
        first_answer_hours=(sum(waits) / len(waits) / 3600) if waits else None,
    )
