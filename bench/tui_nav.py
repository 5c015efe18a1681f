"""`python -m bench.tui_nav N DATA_DIR`: the real bintui app over a desk of N reports.

Everything is the real client except the network: the real `MatrixGateway` with its
`ReportBook` filled as a sync fills it, so `reports()` and `mark_read()` cost what they cost in
production. The benchmark runs this in a pseudo-terminal and times key
presses to repaints from the outside.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from bintui.app import BinTuiApp
from bintui.gateway import Gateway
from bintui.matrix_gateway import MatrixGateway
from bintui.reports import THREAD, ReportBook, RoomEvent
from bintui.settings import ClientSettings
from bridge.protocol import FIELD, BinFields, Kind, Status, report_id

BOT = "@bin-bot:bench.local"
COORDINATOR = "@co-anna:bench.local"
DESK = "!desk:bench.local"
PSEUDONYMS = ("Blauwe Reiger", "Groene Specht", "Rode Vos", "Gele Kwikstaart", "Grijze Uil")
UNREAD = 10
"""The newest reports are unread, the rest were handled: a coordinator who keeps up."""


def report_text(number: int) -> str:
    """The member's first message of report `number`: shown only in the thread view."""
    return f"Testtekst {number:05d}"


def year_of_reports(count: int) -> ReportBook:
    """`count` reports over a year, each a root plus a member follow-up and an answer."""
    book = ReportBook(bot_user_id=BOT)
    end = time.time()
    step = 365 * 86400 / max(count, 1)
    for number in range(count):
        # Report 0 is the newest, so it is listed first.
        ts = end - number * step
        root = f"$root{number}"
        pseudonym = PSEUDONYMS[number % len(PSEUDONYMS)]
        fields = BinFields(
            kind=Kind.REPORT,
            wijk="oost",
            report=report_id(number + 1),
            pseudonym=pseudonym,
            status=Status.CLOSED if number >= UNREAD else None,
            text=report_text(number),
        )
        book.add(
            RoomEvent(root, DESK, BOT, "BIN", ts, {"body": "melding", FIELD: fields.to_content()})
        )
        relation = {"rel_type": THREAD, "event_id": root}
        follow_up = BinFields(
            kind=Kind.MEMBER_MESSAGE, pseudonym=pseudonym, text="Nog een detail: een witte bus."
        )
        book.add(
            RoomEvent(
                f"$m{number}",
                DESK,
                BOT,
                "BIN",
                ts + 60,
                {"body": "x", "m.relates_to": relation, FIELD: follow_up.to_content()},
            )
        )
        if number >= UNREAD:
            book.add(
                RoomEvent(
                    f"$a{number}",
                    DESK,
                    COORDINATOR,
                    "Anna",
                    ts + 120,
                    {"body": "Dank je, we kijken ernaar.", "m.relates_to": relation},
                )
            )
    return book


class OfflineGateway(MatrixGateway):
    """The real gateway with its report book already filled, and no network: connected
    from the start, nothing to send."""

    def __init__(self, settings: ClientSettings, book: ReportBook) -> None:
        super().__init__(settings)
        self._book = book

    async def start(self, on_change: Callable[[], None]) -> None:
        self._on_change = on_change
        self._set_state("online")
        on_change()

    async def close(self) -> None:
        pass


def main() -> None:
    count = int(sys.argv[1])
    data_dir = Path(sys.argv[2])
    book = year_of_reports(count)

    def factory(settings: ClientSettings) -> Gateway:
        return OfflineGateway(settings, book)

    BinTuiApp(ClientSettings(data_dir=data_dir), gateway_factory=factory).run()


if __name__ == "__main__":
    main()
