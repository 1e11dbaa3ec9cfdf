"""When the collector was listening: each serving collector's session in ``collector_sessions``.

A ``Session`` is a thread with its own connection (never the writer's: a heartbeat waits for no batch, and no
batch for more than a heartbeat's one-row write). It records when the collector started serving, a heartbeat
every ``HEARTBEAT_SECONDS`` and when it stopped; after a crash or a power cut the row keeps its latest heartbeat,
so the collector's downtime is known to within a heartbeat. Regional detection reads them
(``probe.analysis.regional.sources.listening``): the probes' silence while the collector was down, and while they
may still be backing off after it, is no witness of a shutdown.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from probe.errors import ProbeError
from probe.model import utc_now_iso
from probe.storage import Database
from probe.storage.store import open_store

if TYPE_CHECKING:
    from probe.storage.store import AnyDatabase

HEARTBEAT_SECONDS = 60.0
"""Seconds between two heartbeats: a crash's downtime is known to within this (``Rules.listening_slack`` is 3 of
them)."""
START = "insert into collector_sessions (id, started_at, alive_at) values (?, ?, ?)"
BEAT = "update collector_sessions set alive_at = ? where id = ?"
STOP = "update collector_sessions set alive_at = ?, stopped_at = ? where id = ?"


class Session(threading.Thread):
    """This collector's session: started on ``start()``, a heartbeat until ``stop()``, which records its end."""

    def __init__(
        self,
        db_target: Path | str,
        *,
        every: float = HEARTBEAT_SECONDS,
        log: Callable[[str], None] = lambda line: None,
    ) -> None:
        super().__init__(name="collector-session", daemon=True)
        self.db_target = db_target
        self.every = every
        self.log = log
        self.id = uuid.uuid4().hex
        self.started = threading.Event()
        """Set once the session's start is recorded (or could not be)."""
        self._stopping = threading.Event()

    def run(self) -> None:
        try:
            db = open_store(self.db_target)
        except ProbeError as exc:
            self.log(f"collector: its session is not recorded: {exc}")
            self.started.set()
            return
        try:
            now = utc_now_iso()
            self._write(db, START, (self.id, now, now))
            self.started.set()
            while not self._stopping.wait(self.every):
                self._write(db, BEAT, (utc_now_iso(), self.id))
            now = utc_now_iso()
            self._write(db, STOP, (now, now, self.id))
        finally:
            self.started.set()
            db.close()

    def _write(self, db: AnyDatabase, sql: str, params: tuple[str, ...]) -> None:
        # PostgreSQL's transaction() connects again after the server dropped the connection (its restart).
        within: AbstractContextManager[object] = db.conn if isinstance(db, Database) else db.conn.transaction()
        try:
            with within:
                db.conn.execute(sql, params)
        except (ProbeError, sqlite3.Error) as exc:  # locked, or unreachable: the next heartbeat tries again
            self.log(f"collector: session not recorded: {type(exc).__name__}: {exc}")

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        self.join(timeout)
