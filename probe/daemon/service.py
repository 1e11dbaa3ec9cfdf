"""The daemon's loop: wait for the next due group, run its round, sign the chain head, wake the uploader.

Stopping: ``stop`` is set (the CLI sets it on SIGTERM or SIGINT). A round in flight drops the
targets it has not started, records those in flight as they finish (within their timeouts),
and is marked interrupted; then the uploader stops and the lock is released.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from probe import consent
from probe.config import Config
from probe.daemon import heartbeat
from probe.daemon.lock import DaemonLock, lock_path_for
from probe.daemon.memory import limit_arenas, return_freed_memory
from probe.daemon.rounds import RoundResult, groups_from, run_round
from probe.daemon.schedule import Group, Schedule
from probe.identity import Identity, key_path_for, load_or_create
from probe.integrity.heads import register_self, sign_local_head
from probe.processes import BOOT_ID, boot_id
from probe.storage import Database, open_database

if TYPE_CHECKING:
    from probe.upload.worker import UploadWorker

POLL_SECONDS = 1.0
"""How often a waiting daemon reads the wall clock again (so a resumed laptop notices at once)."""
RESULTS_KEPT = 100
"""Rounds remembered in memory (the heartbeat table keeps them all)."""


@dataclass
class Daemon:
    """One daemon for one database; ``run`` holds its lock until the daemon stops."""

    config: Config
    db_path: Path
    stop: threading.Event = field(default_factory=threading.Event)
    log: Callable[[str], None] = lambda line: None
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)
    max_rounds: int | None = None
    poll: float = POLL_SECONDS
    boot_id_source: Path = BOOT_ID
    """Where the kernel's boot id is read (a test gives a file of its own)."""
    rounds_run: int = 0
    results: deque[RoundResult] = field(default_factory=lambda: deque(maxlen=RESULTS_KEPT))

    def run(self) -> list[RoundResult]:
        """Run rounds until ``stop`` is set (or ``max_rounds`` ran); the last rounds run."""
        groups = groups_from(self.config)
        limit_arenas()  # before the first round starts its threads
        with DaemonLock(lock_path_for(self.db_path)):
            db = open_database(self.db_path)
            try:
                self._serve(db, groups)
            finally:
                db.close()
        return list(self.results)

    def _serve(self, db: Database, groups: list[Group]) -> None:
        identity = load_or_create(key_path_for(self.db_path))
        register_self(db, identity)
        abandoned = heartbeat.close_abandoned(db)
        if abandoned:
            self.log(f"{abandoned} round(s) left unfinished by the last daemon are marked interrupted")
        schedule = Schedule(
            groups,
            heartbeat.last_completed_starts(db),
            now=self.clock(),
            first_delay=self.config.schedule.first_delay,
            rng=self.rng,
        )
        uploader = self._uploader(db, identity)
        self.log(f"probe {identity.probe_id}: daemon started, groups: {', '.join(schedule.groups)}")
        # Read once: a process never outlives its boot. Kept in the rounds' rows, never sent (``heartbeat``).
        boot = boot_id(self.boot_id_source)
        first = True
        try:
            while not self.stop.is_set() and (self.max_rounds is None or self.rounds_run < self.max_rounds):
                group, due = schedule.next()
                self.log(f"next round: {group.name} at {heartbeat.iso(due)[:19]}Z")
                if not self._wait_for(schedule, group.name):
                    break
                result = run_round(
                    db,
                    group,
                    self.config,
                    stop=self.stop,
                    clock=self.clock,
                    log=self.log,
                    boot=boot,
                    first_of_daemon=first,
                )
                first = False
                self.results.append(result)
                self.rounds_run += 1
                schedule.completed(group.name, started=result.started, now=self.clock())
                sign_local_head(db, identity)
                db.release_memory()  # SQLite's page cache of the round, then what the round's threads freed:
                return_freed_memory()  # not kept until the next round
                self.log(result.describe())
                if uploader is not None:
                    uploader.wake()
        finally:
            if uploader is not None:
                self.stop.set()
                uploader.join()
        self.log("daemon stopped")

    def _wait_for(self, schedule: Schedule, name: str) -> bool:
        """Sleep until ``name`` is due by the wall clock; False if stopped first."""
        while not self.stop.is_set():
            now = self.clock()
            due = schedule.limit(name, now)
            if now >= due:
                return True
            self.stop.wait(min(due - now, self.poll))
        return False

    def _uploader(self, db: Database, identity: Identity) -> UploadWorker | None:
        settings = self.config.upload
        if not settings.enabled:
            return None
        if not consent.covers_upload(consent.accepted(db), self.config):
            self.log(
                f"upload: off: the recorded consent does not cover sending to {settings.public_url}; "
                "run `probe consent --accept` with this configuration to allow it"
            )
            return None
        # Imported only now: requests and the uploader are 8 MB that a probe with upload off would hold for nothing.
        from probe.upload.worker import UploadWorker

        worker = UploadWorker(self.db_path, identity, settings, stop=self.stop, log=self.log)
        worker.start()
        return worker
