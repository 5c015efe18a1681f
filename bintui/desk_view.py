"""Which reports the desk list shows and in what order: filter, search and sort (pure).

Searching thousands of reports on every keystroke stays cheap because each report's
searchable text is lower-cased once and kept for as long as the report object is unchanged
(the gateway hands out the same object for an unchanged report).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import compress
from operator import is_not
from typing import Any, Literal

from bridge.protocol import Status, parse_report_id

from .gateway import Report

OPEN = "open"
"""A pseudo-status for the filter: every status except 'afgehandeld'."""
SortOrder = Literal["activity", "opened", "number", "status", "urgent"]
SORT_ORDERS: tuple[SortOrder, ...] = ("activity", "opened", "number", "status", "urgent")
STATUS_ORDER = {s.value: i for i, s in enumerate(Status)}


@dataclass(frozen=True, slots=True)
class DeskFilter:
    """What the coordinator narrowed the list to; None (or "") means no restriction."""

    status: str | None = None
    """A `Status` value, or OPEN for everything not closed."""
    wijk: str | None = None
    category: str | None = None
    search: str = ""
    unread_only: bool = False

    @property
    def active(self) -> bool:
        """Whether anything is filtered out at all."""
        return bool(
            self.status or self.wijk or self.category or self.search.strip() or self.unread_only
        )

    def accepts(self, report: Report) -> bool:
        """Everything but the text search (see `DeskView`)."""
        if self.status == OPEN:
            if report.status == Status.CLOSED.value:
                return False
        elif self.status and report.status != self.status:
            return False
        if self.wijk and report.wijk != self.wijk:
            return False
        if self.category and report.category != self.category:
            return False
        return not (self.unread_only and not report.unread)


def _number(report: Report) -> int:
    return parse_report_id(report.report) or 0


_SORT_KEYS: dict[SortOrder, tuple[Callable[[Report], Any], bool]] = {
    "activity": (lambda r: (r.last_ts, r.opened_ts), True),
    "opened": (lambda r: (r.opened_ts, _number(r)), True),
    "number": (lambda r: (r.wijk, _number(r)), True),
    "status": (lambda r: (STATUS_ORDER.get(r.status, 99), -r.last_ts), False),
    "urgent": (lambda r: (not r.urgent, not r.unread, -r.last_ts), False),
}


PATCH_LIMIT = 16
"""Up to this many reports replaced since the last `DeskView.apply` are patched into its
result instead of filtering and sorting everything again."""


@dataclass(slots=True)
class _Applied:
    """The last `DeskView.apply`: what went in, how, and what came out (with positions)."""

    reports: list[Report]
    desk_filter: DeskFilter
    order: SortOrder
    shown: list[Report]
    position: dict[str, int]


class DeskView:
    """Applies a filter, a search and a sort order to the gateway's reports."""

    def __init__(self) -> None:
        self._haystacks: dict[str, tuple[Report, str]] = {}
        self._last: _Applied | None = None

    def haystack(self, report: Report) -> str:
        """The report's searchable text in lower case: label, pseudonym, category, words."""
        cached = self._haystacks.get(report.root_event_id)
        if cached is not None and cached[0] is report:
            return cached[1]
        parts = [report.report, report.pseudonym, report.category or "", report.reaction_to or ""]
        parts += [item.text for item in report.items]
        text = "\n".join(parts).casefold()
        self._haystacks[report.root_event_id] = (report, text)
        return text

    def forget_missing(self, reports: Iterable[Report]) -> None:
        """Drop cached text of reports that are gone (redacted, left): nothing lingers."""
        if not self._haystacks:
            return  # nothing searched yet: nothing kept
        keep = {r.root_event_id for r in reports}
        for key in [k for k in self._haystacks if k not in keep]:
            del self._haystacks[key]

    def apply(
        self, reports: Sequence[Report], desk_filter: DeskFilter, order: SortOrder
    ) -> list[Report]:
        """The reports to show, in the order to show them."""
        last = self._last
        if last is not None and last.desk_filter == desk_filter and last.order == order:
            patched = self._patch(last, reports)
            if patched is not None:
                return patched
        shown = self._filter_and_sort(reports, desk_filter, order)
        position = {r.root_event_id: i for i, r in enumerate(shown)}
        self._last = _Applied(list(reports), desk_filter, order, shown, position)
        return list(shown)

    def _patch(self, last: _Applied, reports: Sequence[Report]) -> list[Report] | None:
        """The last result with replaced reports put in, when each kept its place: same
        report, same sort key, same verdict of the filter (opening one marks it read)."""
        if len(reports) != len(last.reports):
            return None
        changed = list(compress(range(len(reports)), map(is_not, last.reports, reports)))
        if len(changed) > PATCH_LIMIT:
            return None
        key = _SORT_KEYS[last.order][0]
        f = last.desk_filter
        words = f.search.casefold().split()

        def shown(report: Report) -> bool:
            return f.accepts(report) and all(w in self.haystack(report) for w in words)

        updates: list[tuple[int, Report]] = []
        for index in changed:
            old, new = last.reports[index], reports[index]
            if old.root_event_id != new.root_event_id or key(old) != key(new):
                return None
            if shown(new) != (old.root_event_id in last.position):
                return None
            if old.root_event_id in last.position:
                updates.append((last.position[old.root_event_id], new))
        for index in changed:
            last.reports[index] = reports[index]
        for place, new in updates:
            last.shown[place] = new
        return list(last.shown)

    def _filter_and_sort(
        self, reports: Sequence[Report], desk_filter: DeskFilter, order: SortOrder
    ) -> list[Report]:
        words = desk_filter.search.casefold().split()
        if desk_filter.active:
            shown = [
                r
                for r in reports
                if desk_filter.accepts(r) and all(w in self.haystack(r) for w in words)
            ]
        else:  # the usual case, and per key press in the list: no call per report
            shown = list(reports)
        key, reverse = _SORT_KEYS[order]
        shown.sort(key=key, reverse=reverse)  # near-sorted input: Timsort is close to linear
        return shown


def next_order(order: SortOrder) -> SortOrder:
    """The sort order after `order` (the sort key cycles through them)."""
    return SORT_ORDERS[(SORT_ORDERS.index(order) + 1) % len(SORT_ORDERS)]
