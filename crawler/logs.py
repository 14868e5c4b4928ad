"""Log lines for a plant's IT: one event per line on stderr, local time with its offset, ``logger=<code>`` when relevant.

``2026-03-02T18:15:02+09:00 INFO logger=A-11 fetched /PW3360/26030200/03020000.CSV 48213 bytes sha256=ab12...``
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime, tzinfo

__all__ = ["event", "setup"]

LOGGER_NAME = "moira.crawler"
_log = logging.getLogger(LOGGER_NAME)


class _Formatter(logging.Formatter):
    def __init__(self, tz: tzinfo | None):
        super().__init__()
        self.tz = tz

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, self.tz).astimezone(self.tz).isoformat(timespec="seconds")
        code = getattr(record, "logger_code", None)
        prefix = f"{stamp} {record.levelname}"
        if code:
            prefix += f" logger={code}"
        return f"{prefix} {record.getMessage()}"


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (so that tests capturing stderr see the lines)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # a closed stderr must never stop the crawler
            self.handleError(record)


def setup(tz: tzinfo | None = None, *, verbose: bool = False) -> None:
    """(Re)configure the crawler's log: called at the start of each command."""
    for handler in list(_log.handlers):
        _log.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(_Formatter(tz))
    _log.addHandler(handler)
    _log.setLevel(logging.DEBUG if verbose else logging.INFO)
    _log.propagate = False


def event(level: int, message: str, logger: str | None = None) -> None:
    _log.log(level, message, extra={"logger_code": logger})
