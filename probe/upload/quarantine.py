"""Quarantine: what a collector refused for good, kept out of the upload queue's way.

A record a collector will never take as it is (too large, invalid, contradicting what it holds)
must not stay at the head of the queue, where it would stop every later batch and heartbeat.
The uploader finds it by splitting the refused batch, then records it here (``upload_quarantine``):
it stays in the database, is counted in every heartbeat and in ``probe upload --status``, and is
sent again only on request (``probe upload --retry-quarantined``), after a fix. A record sent again
for its changed verdict and refused is quarantined as that verdict (kind ``verdict``, its generation
as state): the record stays acknowledged, and a later change of its verdict is tried again.
"""

from __future__ import annotations

from dataclasses import dataclass

from probe.consent import accepted_places
from probe.model import utc_now_iso
from probe.storage import Database
from probe.storage.own_chain import own_chain
from probe.upload.queue import (
    MEASUREMENT,
    ROUND,
    ROUND_STATE,
    RUN_STATE,
    VERDICT,
    Pending,
    mark_acked,
    measurement_pending,
    round_record,
    run_record,
    select_rows,
    write_rows,
)


def quarantine(db: Database, collector: str, pending: Pending, *, status: int | None, error: str) -> None:
    """Keep a one-item batch the collector refused for good out of the queue's way (and count it)."""
    if pending.items != 1:
        raise ValueError(f"quarantine takes one item at a time, not {pending.items}")
    kind, key, state = pending.only()
    now = utc_now_iso()
    write_rows(
        db,
        "insert into upload_quarantine (collector, kind, key, state, status, error, quarantined_at, attempts, "
        "last_attempt_at) values (?, ?, ?, ?, ?, ?, ?, 1, ?) on conflict(collector, kind, key) do update set "
        "state = excluded.state, status = excluded.status, error = excluded.error, "
        "attempts = upload_quarantine.attempts + 1, last_attempt_at = excluded.last_attempt_at",
        [(collector, kind, key, state, status, error[:2000], now, now)],
    )
    if kind == MEASUREMENT:
        mark_acked(db, collector, pending)


def release(db: Database, collector: str, pending: Pending) -> None:
    """A quarantined item the collector has now stored: out of quarantine, acknowledged."""
    kind, key, _ = pending.only()
    write_rows(
        db, "delete from upload_quarantine where collector = ? and kind = ? and key = ?", [(collector, kind, key)]
    )
    mark_acked(db, collector, pending)


@dataclass(frozen=True)
class Quarantined:
    kind: str
    key: str
    status: int | None
    error: str
    quarantined_at: str
    attempts: int
    measurement_id: str | None = None

    def describe(self) -> str:
        if self.kind in (MEASUREMENT, VERDICT):
            record = f"record {self.key} (id {self.measurement_id})"
            what = f"the changed verdict of {record}" if self.kind == VERDICT else record
        else:
            what = f"{self.kind} {self.key}"
        status = f"{self.status}: " if self.status is not None else ""
        tries = f", {self.attempts} attempts" if self.attempts > 1 else ""
        return f"{what}, since {self.quarantined_at}{tries}: {status}{self.error}"


def quarantined(db: Database, collector: str) -> list[Quarantined]:
    """What ``collector`` refused for good, measurements in chain order first."""
    rows = db.db.conn.execute(
        "select q.kind, q.key, q.status, q.error, q.quarantined_at, q.attempts, m.id from upload_quarantine q "
        f"left join measurements m on q.kind in ('{MEASUREMENT}', '{VERDICT}') "
        f"and {own_chain('m')} "
        "and m.chain_seq = cast(q.key as integer) where q.collector = ? "
        "order by q.kind not in ('measurement', 'verdict'), cast(q.key as integer), q.kind, q.key",
        (collector,),
    )
    return [Quarantined(*row) for row in rows]


def quarantined_pending(db: Database, collector: str, item: Quarantined) -> Pending | None:
    """A one-item batch of a quarantined item as it is stored now; None when it is gone."""
    if item.kind in (MEASUREMENT, VERDICT):
        pending = measurement_pending(db, after_seq=int(item.key) - 1, limit=1, max_bytes=0)
        pending.resend = item.kind == VERDICT
        found = pending.measurements and pending.measurements[0]["chain_seq"] == int(item.key)
        return pending if found else None
    table, state = ("rounds", ROUND_STATE) if item.kind == ROUND else ("runs", RUN_STATE)
    rows = select_rows(db, f"select r.*, {state} as state_ from {table} r where r.id = ?", (item.key,))
    if not rows:
        return None
    record = round_record(rows[0]) if item.kind == ROUND else run_record(rows[0], accepted_places(db))
    entry = (record, str(rows[0]["state_"]))
    return Pending(rounds=[entry]) if item.kind == ROUND else Pending(runs=[entry])


def quarantine_count(db: Database, collector: str | None = None) -> int:
    where, params = ("where collector = ?", (collector,)) if collector is not None else ("", ())
    return int(db.db.conn.execute(f"select count(*) from upload_quarantine {where}", params).fetchone()[0])
