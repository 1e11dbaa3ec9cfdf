"""Outage alerts: which windows opened or closed since the last look, each transition recorded once.

A look runs the outage analysis (``find_outages``) over the last ``lookback`` seconds and keeps the
windows worth waking someone for: a network shutdown, an international cut, or a targeted block of
at least ``min_confidence``. On a collector whose probes declared places, a whole-network window says how far it
reached (``extent`` in its body: ``probe.analysis.extent``), and one that the regional windows explain as narrower
than the country (a district cut off, a mobile-only cut) is left to the regional alerts when they are on: the
webhooks hear of a district cut as a ``regional_shutdown`` of that district, never as the network's shutdown.
A window is followed by its group (scope, kind, target, network, region, probe), so bounds that move as late
data arrives do not make it a new window:

    opened   a group with an ongoing window that was not open at the last look
    closed   a group open at the last look with no ongoing window now (the closed window's bounds
             are sent; a window that opened and closed between two looks is sent as both)

Every transition is a row of ``alerts`` (unique by window and transition: it is made at most once,
whatever happens later) with one delivery per webhook, sent by ``webhooks``. The state is a small
SQLite file of its own (``AlertState``), so alerts need no change to either store's schema. The regional
windows' alerts (``regional_alerts``) share it: their episodes are its ``regional_episodes``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from probe.analysis import OutageQuery, Window, find_outages, times
from probe.analysis.regional import RegionalWindow, Rules
from probe.analysis.scoring import label
from probe.errors import StorageError
from probe.storage.connection import Connection
from probe.storage.private import create_private

ALERTED_KINDS = ("network_shutdown", "international_cut")
"""Kinds alerted whatever their confidence; targeted blocks need ``min_confidence``."""
RANK = {"low": 0, "medium": 1, "high": 2}
_SCHEMA = """
create table if not exists meta (name text primary key, value text not null);
create table if not exists alerts (
    id integer primary key,
    window_key text not null,
    transition text not null,
    made_at text not null,
    body text not null,
    unique (window_key, transition)
);
create table if not exists open_windows (grp text primary key, window_key text not null, window text not null);
create table if not exists regional_episodes (
    window_key text primary key,
    grp text not null,
    window text not null,
    provisional integer not null,
    closed integer not null default 0,
    finished integer not null default 0,
    seen_at text not null
);
create table if not exists deliveries (
    id integer primary key,
    alert_id integer not null references alerts (id),
    webhook text not null,
    attempts integer not null default 0,
    next_at text not null,
    delivered_at text,
    given_up_at text,
    last_error text,
    unique (alert_id, webhook)
);
"""


def qualifies(window: Window, min_confidence: str = "medium") -> bool:
    """Whether ``window`` is worth an alert."""
    if window.kind in ALERTED_KINDS:
        return True
    return window.kind == "targeted_block" and RANK[label(window.confidence)] >= RANK[min_confidence]


def group_of(window: Window) -> str:
    return "|".join((window.scope, window.kind, window.target, window.network, window.region, window.probe))


def key_of(window: Window) -> str:
    return f"{group_of(window)}|{window.start_max}"


@dataclass(frozen=True)
class Delivery:
    id: int
    alert_id: int
    webhook: str
    attempts: int
    body: bytes


class AlertState:
    """Sent alerts and pending deliveries, in a SQLite file of their own (one thread's)."""

    def __init__(self, path: Path) -> None:
        try:
            create_private(path)  # 0600 before SQLite makes it: its -wal and -shm take the file's mode
            self.conn = sqlite3.connect(path, isolation_level=None)
            self.conn.execute("pragma journal_mode = wal")
            self.conn.execute("pragma synchronous = full")  # a sent alert stays recorded through a power cut
            self.conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open the alert state {path}: {exc}") from None
        self.path = path

    def started_at(self, now: str) -> str:
        """When alerting began here (windows closed before it are history, not news)."""
        self.conn.execute("insert or ignore into meta (name, value) values ('started_at', ?)", (now,))
        return str(self.conn.execute("select value from meta where name = 'started_at'").fetchone()[0])

    def open_groups(self) -> dict[str, tuple[str, dict[str, Any]]]:
        rows = self.conn.execute("select grp, window_key, window from open_windows")
        return {group: (key, json.loads(window)) for group, key, window in rows}

    def has(self, key: str, transition: str) -> bool:
        found = self.conn.execute("select 1 from alerts where window_key = ? and transition = ?", (key, transition))
        return found.fetchone() is not None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction: alerts made in it, and what they change of the followed windows, are kept together."""
        self.conn.execute("begin immediate")
        try:
            yield
        except BaseException:
            self.conn.execute("rollback")
            raise
        self.conn.execute("commit")

    def make(
        self,
        key: str,
        transition: str,
        window: dict[str, Any],
        webhooks: Iterable[str],
        now: str,
        collector: str,
        extra: dict[str, Any] | None = None,
    ) -> bool:
        """The alert (once: False when it exists) and its deliveries, inside ``transaction``. ``extra``: more of
        the body (its ``type`` by default ``outage_window``)."""
        made = self.conn.execute(
            "insert or ignore into alerts (window_key, transition, made_at, body) values (?, ?, ?, '')",
            (key, transition, now),
        )
        if not made.rowcount:
            return False
        alert_id = made.lastrowid
        body = {
            "type": "outage_window",
            "transition": transition,
            "alert_id": f"{collector[:16]}-{alert_id}",
            "collector": collector,
            "made_at": now,
            "window": window,
            **(extra or {}),
        }
        text = json.dumps(body, sort_keys=True, ensure_ascii=False)
        self.conn.execute("update alerts set body = ? where id = ?", (text, alert_id))
        self.conn.executemany(
            "insert into deliveries (alert_id, webhook, next_at) values (?, ?, ?)",
            [(alert_id, webhook, now) for webhook in webhooks],
        )
        return True

    def record(
        self, key: str, transition: str, window: dict[str, Any], webhooks: Iterable[str], now: str, collector: str
    ) -> bool:
        """Make the alert (once: False when it exists) and its deliveries, and follow the group's state."""
        with self.transaction():
            made = self.make(key, transition, window, webhooks, now, collector)
            group = key.rsplit("|", 1)[0]
            if transition == "opened":
                self.conn.execute(
                    "insert or replace into open_windows (grp, window_key, window) values (?, ?, ?)",
                    (group, key, json.dumps(window)),
                )
            else:
                self.conn.execute("delete from open_windows where grp = ?", (group,))
        return made

    def due(self, now: str) -> list[Delivery]:
        rows = self.conn.execute(
            "select d.id, d.alert_id, d.webhook, d.attempts, a.body from deliveries d "
            "join alerts a on a.id = d.alert_id "
            "where d.delivered_at is null and d.given_up_at is null and d.next_at <= ? order by d.id",
            (now,),
        )
        return [Delivery(id_, alert, hook, attempts, body.encode()) for id_, alert, hook, attempts, body in rows]

    def next_due(self) -> str | None:
        row = self.conn.execute(
            "select min(next_at) from deliveries where delivered_at is null and given_up_at is null"
        ).fetchone()
        return None if row[0] is None else str(row[0])

    def delivered(self, delivery: Delivery, now: str) -> None:
        self.conn.execute(
            "update deliveries set attempts = attempts + 1, delivered_at = ?, last_error = null where id = ?",
            (now, delivery.id),
        )

    def failed(self, delivery: Delivery, error: str, next_at: str | None, now: str) -> None:
        """A failed try: tried again at ``next_at``, or given up (None)."""
        self.conn.execute(
            "update deliveries set attempts = attempts + 1, last_error = ?, next_at = coalesce(?, next_at), "
            "given_up_at = case when ? is null then ? end where id = ?",
            (error[:300], next_at, next_at, now, delivery.id),
        )

    def deliveries(self) -> list[dict[str, Any]]:
        cursor = self.conn.execute(
            "select a.transition, a.window_key, d.webhook, d.attempts, d.delivered_at, d.given_up_at, d.last_error "
            "from deliveries d join alerts a on a.id = d.alert_id order by d.id"
        )
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    def close(self) -> None:
        self.conn.close()


def look(
    conn: Connection,
    state: AlertState,
    *,
    now: str,
    lookback: float,
    min_confidence: str,
    webhooks: Iterable[str],
    collector: str,
    regional: Sequence[RegionalWindow] | None = None,
    rules: Rules | None = None,
    leave_to_regional: bool = False,
) -> list[tuple[str, Window | dict[str, Any]]]:
    """One look: the transitions found (and recorded, each once) as (transition, window).

    On a collector whose probes declared places, each whole-network window carries its extent (from ``regional``,
    the regional windows of the lookback when the caller has them, found with ``rules``); with
    ``leave_to_regional`` (the regional alerts are sent too), one narrower than the country whose every probe a
    regional window holds is theirs to send (a district cut off, a mobile-only cut): not alerted here."""
    hooks = list(webhooks)
    began = state.started_at(now)
    found = find_outages(conn, OutageQuery(since=times.shifted(now, -lookback), rules=rules), regional)
    windows = [
        window
        for window in found
        if qualifies(window, min_confidence)
        and not (leave_to_regional and window.extent is not None and window.extent.leaves_to_regional)
    ]
    ongoing = {group_of(window): window for window in windows if window.ongoing}
    was_open = state.open_groups()
    made: list[tuple[str, Window | dict[str, Any]]] = []

    def record(key: str, transition: str, window: Window | dict[str, Any]) -> None:
        data = window.to_dict() if isinstance(window, Window) else window
        if state.record(key, transition, data, hooks, now, collector):
            made.append((transition, window))

    for group, window in ongoing.items():
        if group not in was_open:
            record(key_of(window), "opened", window)
    closed = sorted((window for window in windows if not window.ongoing), key=lambda window: window.start_max)
    for group, (key, last_seen) in was_open.items():
        if group in ongoing:
            continue
        ended = [window for window in closed if group_of(window) == group]
        record(key, "closed", ended[-1] if ended else {**last_seen, "no_longer_seen": True})
    for window in closed:
        key = key_of(window)
        if group_of(window) in was_open or window.end_max is None or window.end_max < began:
            continue
        if not state.has(key, "closed"):
            record(key, "opened", window)
            record(key, "closed", window)
    return made
