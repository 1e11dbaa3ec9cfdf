"""The thread that looks for outage windows and sends alerts, beside a serving collector.

It has its own connection to the database (SQLite's WAL or PostgreSQL's MVCC: its reads never
block the writer) and its own state file, and it only reads what ingest committed: a slow or dead
webhook delays alerts, never a batch. It looks every ``check_every`` seconds, and sooner when a
delivery is due again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from probe.analysis import times
from probe.analysis.regional.query import has_places
from probe.analysis.regional.rules import Rules
from probe.collector.alerts import AlertState, look
from probe.collector.regional_alerts import look_regional, looked_at
from probe.collector.webhooks import Sender
from probe.config import AlertsSection
from probe.errors import ProbeError
from probe.identity import Identity
from probe.storage.store import open_store


class AlertWorker(threading.Thread):
    def __init__(
        self,
        db_target: Path | str,
        settings: AlertsSection,
        identity: Identity,
        state_path: Path,
        *,
        log: Callable[[str], None] = lambda line: None,
        rules: Rules | None = None,
    ) -> None:
        super().__init__(name="collector-alerts", daemon=True)
        self.db_target = db_target
        self.settings = settings
        self.identity = identity
        self.state_path = state_path
        self.log = log
        self.rules = rules
        """Regional detection's rules (``[collector.regional]``); None: the shipped probe's schedules."""
        self.stopping = threading.Event()
        self.looked = threading.Event()
        """Set after every look (tests wait on it)."""

    def once(self, state: AlertState, sender: Sender) -> None:
        """One look for transitions (the regional windows' too, unless turned off), then every delivery due."""
        settings, now, collector = self.settings, times.now_iso(), self.identity.probe_id
        db = open_store(self.db_target, read_only_ok=True)
        try:
            places = has_places(db.conn)  # the regional windows, read once: both looks need them
            found = looked_at(db.conn, settings, now=now, rules=self.rules) if places or settings.regional else None
            made = look(
                db.conn,
                state,
                now=now,
                lookback=settings.lookback,
                min_confidence=settings.min_confidence,
                webhooks=settings.webhooks,
                collector=collector,
                regional=found if places else None,
                rules=self.rules,
                leave_to_regional=settings.regional,
            )
            regional = (
                look_regional(db.conn, state, settings, now=now, collector=collector, rules=self.rules, found=found)
                if settings.regional
                else []
            )
        finally:
            db.close()
        for transition, window in made:
            target = window.target if not isinstance(window, dict) else window.get("target")
            self.log(f"collector: alert: window {transition}: {target}")
        for transition, described in regional:
            self.log(f"collector: alert: regional window {transition}: {described['kind']} {described['place']}")
        for delivery, error in sender.send_due(state, times.now_iso()):
            if error is not None:
                self.log(f"collector: alert to {delivery.webhook} not delivered (try {delivery.attempts + 1}): {error}")

    def _wait(self, state: AlertState) -> float:
        wait = self.settings.check_every
        due = state.next_due()
        if due is not None:
            wait = min(wait, max(0.0, times.seconds(due) - times.seconds(times.now_iso())))
        return wait

    def run(self) -> None:
        settings = self.settings
        sender = Sender(
            self.identity,
            timeout=settings.timeout,
            backoff_min=settings.backoff_min,
            backoff_max=settings.backoff_max,
            max_attempts=settings.max_attempts,
        )
        try:
            state = AlertState(self.state_path)
        except ProbeError as exc:
            self.log(f"collector: alerts are off: {exc}")
            return
        try:
            while not self.stopping.is_set():
                try:
                    self.once(state, sender)
                except Exception as exc:  # a broken look must not end the alerts for good
                    self.log(f"collector: alerts: {type(exc).__name__}: {exc}")
                self.looked.set()
                self.stopping.wait(self._wait(state))
        finally:
            state.close()
            sender.close()

    def stop(self, timeout: float = 15.0) -> None:
        self.stopping.set()
        self.join(timeout)
