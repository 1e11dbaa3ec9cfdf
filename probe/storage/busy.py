"""Waiting for another writer: a write that finds the database locked is tried again, never dropped.

SQLite lets one writer at a time in. Another process (a daemon and a manual run, an analyst's tool
with a write transaction open) may hold the lock for longer than the connection's busy timeout;
the write is then tried again, with a warning now and then, until the lock is free. A finished
measurement is worth more than a run that ends on time.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
BUSY_TIMEOUT_MS = 5000
"""How long SQLite itself waits for a lock before a write is tried again (``pragma busy_timeout``)."""
WARN_EVERY_SECONDS = 30.0
RETRY_PAUSE_SECONDS = 0.05
_BUSY_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
log = logging.getLogger("probe.storage")


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` says another connection holds the lock (the write may succeed later)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _BUSY_CODES
    return "database is locked" in str(exc) or "database is busy" in str(exc)


def when_free(write: Callable[[], T], *, what: str, patience: float | None = None) -> T:
    """Run ``write`` (one whole transaction, rolled back on error) until no other writer is in the way.

    ``patience``: seconds after which the lock error is raised after all; None waits as long as it takes.
    """
    began = time.monotonic()
    warned = began
    while True:
        try:
            return write()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            now = time.monotonic()
            if patience is not None and now - began >= patience:
                raise
            if now - warned >= WARN_EVERY_SECONDS:
                log.warning("waiting %.0f s for another writer to release the database to write %s", now - began, what)
                warned = now
            time.sleep(RETRY_PAUSE_SECONDS)
