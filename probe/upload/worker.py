"""The daemon's uploader: a thread with its own database connection, so a slow or unreachable
collector never delays a round. It uploads after each round and every ``[upload] every``
seconds, and after a failure waits as ``Backoff`` says, whatever new rounds bring."""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import requests

from probe.config import UploadSection
from probe.errors import ProbeError
from probe.identity import Identity
from probe.storage import Database, open_database
from probe.upload.uploader import Backoff, UploadReport, make_session, upload_pending

POLL_SECONDS = 0.5
JOIN_SECONDS = 10.0


class UploadWorker:
    def __init__(
        self,
        db_path: Path,
        identity: Identity,
        settings: UploadSection,
        *,
        stop: threading.Event,
        log: Callable[[str], None],
        session_factory: Callable[[UploadSection], requests.Session] = make_session,
    ) -> None:
        self.db_path, self.identity, self.settings = db_path, identity, settings
        self.stop, self.log = stop, log
        self.session_factory = session_factory
        self.backoff = Backoff(settings.backoff_min, settings.backoff_max)
        self.last: UploadReport | None = None
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="upload", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """New measurements: upload now, unless a failure's backoff is still running."""
        self._wake.set()

    def join(self) -> None:
        self._wake.set()
        self._thread.join(JOIN_SECONDS)

    def _run(self) -> None:
        try:
            db = open_database(self.db_path)
        except ProbeError as exc:
            self.log(f"upload: stopped: {exc}")
            return
        session = self.session_factory(self.settings)
        next_attempt = time.monotonic()
        try:
            while not self.stop.is_set():
                now = time.monotonic()
                if now >= next_attempt or (self._wake.is_set() and not self.backoff.failures):
                    self._wake.clear()
                    next_attempt = time.monotonic() + self._attempt(db, session)
                    continue
                self._wake.wait(min(next_attempt - now, POLL_SECONDS))
        finally:
            session.close()
            db.close()

    def _attempt(self, db: Database, session: requests.Session) -> float:
        """One pass over the queue; the seconds until the next one."""
        try:
            report = upload_pending(db, self.identity, self.settings, session, stop=self.stop)
        except ProbeError as exc:
            report = UploadReport(error=str(exc))
        except Exception as exc:  # a bug: keep the daemon measuring; the traceback goes to the log
            self.log(traceback.format_exc())
            report = UploadReport(error=f"probe error: {type(exc).__name__}: {exc}")
        self.last = report
        if report.batches or report.error or report.quarantined or report.new_epochs:
            self.log(report.describe())
        if report.error:
            delay = self.backoff.failed()
            self.log(f"upload: next attempt in {delay:.0f} s")
            return delay
        self.backoff.succeeded()
        return self.settings.every
