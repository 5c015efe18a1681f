"""The desk's shortcuts for big lists give exactly what recomputing everything gives: the
report book puts changed reports back in place, the desk view patches replaced reports in."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from bench.tui_nav import DESK, year_of_reports
from bintui.desk_view import SORT_ORDERS, DeskFilter, DeskView, SortOrder
from bintui.gateway import Report
from bintui.reports import THREAD, RoomEvent


def ids(reports: list[Report]) -> list[str]:
    return [r.root_event_id for r in reports]


def test_the_report_book_keeps_the_same_order_as_a_full_sort_while_reports_change() -> None:
    rng = random.Random(3)
    book = year_of_reports(400)
    roots = ids(book.reports())
    for step in range(300):
        root = rng.choice(roots)
        action = rng.random()
        if action < 0.4:
            book.mark_read(root)
        elif action < 0.85:
            ts = 2e9 + step if rng.random() < 0.5 else 5.0  # newest of all, or oldest
            relation = {"rel_type": THREAD, "event_id": root}
            content = {"body": "nog iets", "m.relates_to": relation}
            book.add(RoomEvent(f"$new{step}", DESK, "@co:bench.local", "Co", ts, content))
        else:
            book.redact(root)
            roots.remove(root)
        if step % 7 == 0:
            shown = book.reports()
            fresh = sorted(shown, key=lambda r: (r.last_ts, r.opened_ts), reverse=True)
            assert ids(shown) == ids(fresh)
            assert set(ids(shown)) == set(roots)


FILTERS = [
    DeskFilter(),
    DeskFilter(status="open"),
    DeskFilter(unread_only=True),
    DeskFilter(search="detail"),
    DeskFilter(search="00012"),
]


@pytest.mark.parametrize("order", SORT_ORDERS)
@pytest.mark.parametrize("desk_filter", FILTERS)
def test_the_desk_view_patched_gives_what_a_fresh_one_gives(
    order: SortOrder, desk_filter: DeskFilter
) -> None:
    rng = random.Random(5)
    reports = year_of_reports(200).reports()
    view = DeskView()
    for _ in range(40):
        index = rng.randrange(len(reports))
        report = reports[index]
        change = rng.choice(["unread", "status", "urgent", "category"])
        if change == "unread":
            reports[index] = replace(report, unread=not report.unread)
        elif change == "status":
            reports[index] = replace(report, status=rng.choice(["nieuw", "afgehandeld"]))
        elif change == "urgent":
            reports[index] = replace(report, urgent=not report.urgent)
        else:
            reports[index] = replace(report, category=rng.choice([None, "inbraak"]))
        got = view.apply(reports, desk_filter, order)
        want = DeskView().apply(reports, desk_filter, order)
        assert ids(got) == ids(want)
        assert all(a is b for a, b in zip(got, want, strict=True))
