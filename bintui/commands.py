"""The bot commands the client sends on the coordinator's behalf (pure).

The client never changes a report itself: it types the same commands a coordinator could type
in Element, always with the report's number, so the bot acts on exactly that report even if a
member's words look like a number. The bot announces the result and the client shows that.
"""

from __future__ import annotations

from bridge.anonymise import clean_text
from bridge.desk import CATEGORIES as REPORT_CATEGORIES
from bridge.protocol import Status

from .gateway import Report

__all__ = [
    "BROADCAST_CATEGORIES",
    "DEFAULT_BROADCAST_CATEGORY",
    "REPORT_CATEGORIES",
    "STATUSES",
]

STATUSES: tuple[str, ...] = tuple(s.value for s in Status)
BROADCAST_CATEGORIES: tuple[str, ...] = (
    "informatie",
    "waarschuwing",
    "inbraak",
    "verdachte situatie",
    "oproep",
    "politie",
)
"""As `bridge.broadcasts.CATEGORIES` (a test keeps them equal; that module loads nio)."""
DEFAULT_BROADCAST_CATEGORY = "informatie"


def claim(report: Report) -> str:
    """`!neem M-0003`: I handle this report."""
    return f"!neem {report.report}"


def set_status(report: Report, status: str) -> str:
    """`!status M-0003 afgehandeld`."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    return f"!status {report.report} {status}"


def set_category(report: Report, category: str) -> str:
    """`!categorie M-0003 inbraak`."""
    if category not in REPORT_CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    return f"!categorie {report.report} {category}"


def forward(report: Report, text: str, note: str = "") -> str:
    """`!doorsturen M-0003 <text>` and, on a line of its own, `notitie: <note>`."""
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise ValueError("nothing to forward")
    command = f"!doorsturen {report.report} {text}"
    note = " ".join(note.split())
    return f"{command}\nnotitie: {note}" if note else command


def block(report: Report) -> str:
    """`!blokkeer M-0003`: block the member behind this report (who stays unknown)."""
    return f"!blokkeer {report.report}"


def unblock(report: Report) -> str:
    """`!deblokkeer M-0003`."""
    return f"!deblokkeer {report.report}"


def forward_prefill(report: Report) -> str:
    """The member's words in this report, for the coordinator to edit before forwarding.

    Terminal escapes and bidi overrides are taken out (the bot would drop them anyway), so
    the editor shows and sends only plain text.
    """
    words = [clean_text(item.text) for item in report.items if item.role == "member"]
    return "\n\n".join(w for w in words if w)


def publish(category: str, text: str) -> str:
    """`!publiceer waarschuwing: <text>` in the wijk room: asks the bot for a preview."""
    if category not in BROADCAST_CATEGORIES:
        raise ValueError(f"unknown broadcast category {category!r}")
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise ValueError("nothing to publish")
    return f"!publiceer {category}: {text}"


def publish_bulletin(label: str) -> str:
    """`!publiceer B-0001`: the bot publishes the police's own words, category politie."""
    return f"!publiceer {label}"


def confirm(*, send_anyway: bool = False) -> str:
    """`!ja`, or `!ja zeker` for a text the fairness check flagged."""
    return "!ja zeker" if send_anyway else "!ja"


STOP = "!stop"
STATS = "!stats"
