"""Logging that cannot betray a member: identifiers are masked in every record, at every level.

Our own code never logs message text or member identifiers; this is the safety net for
third-party loggers (nio, aiohttp), which do log user, room and event ids.
"""

from __future__ import annotations

import logging
import os
import re

# Matrix user ids, room ids, event ids, room aliases and mxc URLs; bearer tokens and
# access_token query parameters. Room ids of room version 12 have no server part: "!" and the
# unpadded url-safe base64 of a hash (43 characters).
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"mxc://[^\s'\"]+"), "mxc://…"),
    (re.compile(r"[@!#][^\s:'\"]+:[A-Za-z0-9.\-]+(:\d+)?"), "<id>"),
    (re.compile(r"%40[^\s%]+%3A[A-Za-z0-9.\-]+", re.IGNORECASE), "<id>"),
    (re.compile(r"%21[^\s%]+%3A[A-Za-z0-9.\-]+", re.IGNORECASE), "<id>"),
    (re.compile(r"(?:!|%21)[A-Za-z0-9_\-+/]{20,}", re.IGNORECASE), "<id>"),
    (re.compile(r"\$[A-Za-z0-9_\-+/=]{8,}"), "$…"),
    (re.compile(r"(?i)(bearer\s+)\S+"), r"\1…"),
    (re.compile(r"(?i)(access_token=)[^&\s]+"), r"\1…"),
)

NOISY_LOGGERS = ("nio", "aiohttp", "peewee", "asyncio")

# Third-party messages whose details quote event content (nio logs the whole failing JSON
# instance of a schema error, message text included, at WARNING): only the prefix is kept.
_WITHHELD_DETAILS = ("Error validating event", "Error validating response")


def mask(text: str) -> str:
    """Replace every Matrix identifier and token in `text` with a placeholder."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class MaskingFilter(logging.Filter):
    """Masks identifiers in the fully formatted message of every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken third-party format string must not crash logging
            message = str(record.msg)
        for prefix in _WITHHELD_DETAILS:
            if message.startswith(prefix):
                message = f"{prefix} (details withheld: they can quote message content)"
        record.msg = mask(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks can quote identifiers in exception messages: keep the type only.
            exc_type = record.exc_info[0]
            record.msg += f" [{exc_type.__name__ if exc_type else 'Exception'}]"
            record.exc_info = None
            record.exc_text = None
        return True


def setup_logging(level: str = "INFO", file: str | None = None) -> None:
    """Configure the root logger with the masking filter on every handler."""
    if file:
        # The log holds no member data, but it is still the operator's business only.
        os.close(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    handler: logging.Handler = (
        logging.FileHandler(file, encoding="utf-8") if file else logging.StreamHandler()
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Third-party debug output is noisy and identifier-rich; keep it at WARNING or above.
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
