"""The upload queue, in the probe's database: what a collector has not acknowledged yet.

Measurements go in chain order; the queue's position per collector is the last chain seq it
acknowledged (``upload_acks``, kind ``chain``). Runs and rounds change after they are first
sent (a run finishes, a round is closed), so each is re-sent until the collector has
acknowledged its latest state. An acknowledgement is recorded only after the collector
answered that it stored the batch; a batch whose answer was lost is sent again and stored once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import PurePath
from typing import Any

from probe.errors import StorageError
from probe.identity import Identity
from probe.integrity.heads import SignedHead, head_at
from probe.integrity.signing import batch_statement
from probe.model import utc_now_iso
from probe.storage import Database
from probe.storage.columns import CHAIN_RECORD_COLUMNS
from probe.upload.protocol import BATCH_FORMAT, MAX_ITEMS, ROUND_FIELDS, RUN_FIELDS, TEXT_MAX

_LOCAL = "coalesce(probe_id, '') = ''"
_RUN_STATE = "coalesce(r.status, '') || '|' || coalesce(r.finished_at, '') || '|' || coalesce(r.measurements, '')"
_ROUND_STATE = (
    "r.status || '|' || coalesce(r.finished_at, '') || '|' || coalesce(r.run_id, '') || '|' || r.measured "
    "|| '|' || r.failed"
)
_ENVELOPE_BYTES = 2048
"""Room kept in a batch for everything but its items (keys, head, signature)."""


@dataclass
class Pending:
    """A signed batch, and what to mark acknowledged once the collector has stored it."""

    batch: dict[str, Any]
    last_seq: int | None = None
    run_states: dict[str, str] = field(default_factory=dict)
    round_states: dict[str, str] = field(default_factory=dict)

    @property
    def measurements(self) -> int:
        return len(self.batch["measurements"])


def _size(item: dict[str, Any]) -> int:
    return len(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode()) + 1


def measurement_records(db: Database, *, after_seq: int, limit: int, max_bytes: int) -> list[dict[str, Any]]:
    """This probe's chained records after ``after_seq``, in chain order, within ``limit`` and ``max_bytes``.

    The first record is always returned, even alone over ``max_bytes``: a collector with a
    smaller cap then refuses it, which is reported, rather than the queue silently stalling.
    """
    rows = db.db.conn.execute(
        f"select {', '.join(CHAIN_RECORD_COLUMNS)} from measurements where {_LOCAL} and chain_seq > ? "
        "order by chain_seq limit ?",
        (after_seq, limit),
    )
    records: list[dict[str, Any]] = []
    total = 0
    for values in rows:
        record = dict(zip(CHAIN_RECORD_COLUMNS, values, strict=True))
        size = _size(record)
        if records and total + size > max_bytes:
            break
        records.append(record)
        total += size
    return records


def _clip(text: str | None) -> str | None:
    # A run's problems (a long broken list) must not make every batch that carries it refused.
    if text is None or len(text) <= TEXT_MAX:
        return text
    return text[: TEXT_MAX - 20] + " ... (cut at upload)"


def run_record(row: dict[str, Any]) -> dict[str, Any]:
    record = {name: row.get(name) for name in RUN_FIELDS}
    if record["test_list"]:
        record["test_list"] = PurePath(record["test_list"]).name
    record["problems"] = _clip(record["problems"])
    return record


def round_record(row: dict[str, Any]) -> dict[str, Any]:
    record = {name: row.get(name) for name in ROUND_FIELDS}
    record["error"] = _clip(record["error"])
    return record


def _select(db: Database, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    cursor = db.db.conn.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor]


def changed_runs(db: Database, collector: str, limit: int) -> list[dict[str, Any]]:
    return _select(
        db,
        f"select r.*, {_RUN_STATE} as state_ from runs r left join upload_acks a on a.collector = ? "
        f"and a.kind = 'run' and a.key = r.id where r.probe_id is null "
        f"and (a.state is null or a.state != {_RUN_STATE}) "
        "order by r.started_at limit ?",
        (collector, limit),
    )


def changed_rounds(db: Database, collector: str, limit: int) -> list[dict[str, Any]]:
    return _select(
        db,
        f"select r.*, {_ROUND_STATE} as state_ from rounds r left join upload_acks a on a.collector = ? "
        f"and a.kind = 'round' and a.key = r.id where r.probe_id is null "
        f"and (a.state is null or a.state != {_ROUND_STATE}) order by r.started_at limit ?",
        (collector, limit),
    )


def acked_seq(db: Database, collector: str) -> int:
    row = db.db.conn.execute(
        "select state from upload_acks where collector = ? and kind = 'chain' and key = ''", (collector,)
    ).fetchone()
    return int(row[0]) if row else 0


def make_batch(
    identity: Identity,
    *,
    measurements: list[dict[str, Any]],
    runs: list[dict[str, Any]],
    rounds: list[dict[str, Any]],
    head: SignedHead | None,
) -> dict[str, Any]:
    batch: dict[str, Any] = {
        "format": BATCH_FORMAT,
        "probe_id": identity.probe_id,
        "public_key": identity.public_key_b64,
        "created_at": utc_now_iso(),
        "measurements": measurements,
        "runs": runs,
        "rounds": rounds,
        "head": asdict(head) if head is not None else None,
    }
    batch["signature"] = identity.sign(batch_statement(batch))
    return batch


def next_batch(db: Database, identity: Identity, collector: str, *, batch_size: int, max_bytes: int) -> Pending | None:
    """The next batch for ``collector``, signed; None when it has acknowledged everything."""
    after = acked_seq(db, collector)
    records = measurement_records(db, after_seq=after, limit=batch_size, max_bytes=max_bytes - _ENVELOPE_BYTES)
    room = max_bytes - _ENVELOPE_BYTES - sum(_size(record) for record in records)
    runs, run_states = _fit(changed_runs(db, collector, MAX_ITEMS), run_record, room)
    room -= sum(_size(run) for run in runs)
    rounds, round_states = _fit(changed_rounds(db, collector, MAX_ITEMS), round_record, room)
    if not records and not runs and not rounds:
        return None
    last_seq = int(records[-1]["chain_seq"]) if records else None
    head = head_at(db, identity, last_seq) if last_seq is not None else None
    batch = make_batch(identity, measurements=records, runs=runs, rounds=rounds, head=head)
    return Pending(batch, last_seq, run_states, round_states)


def _fit(rows: list[dict[str, Any]], convert: Any, room: int) -> tuple[list[dict[str, Any]], dict[str, str]]:
    items: list[dict[str, Any]] = []
    states: dict[str, str] = {}
    for row in rows:
        item = convert(row)
        room -= _size(item)
        if room < 0:
            break
        items.append(item)
        states[str(row["id"])] = str(row["state_"])
    return items, states


def mark_acked(db: Database, collector: str, pending: Pending) -> None:
    now = utc_now_iso()
    marks = [("run", key, state) for key, state in pending.run_states.items()]
    marks += [("round", key, state) for key, state in pending.round_states.items()]
    if pending.last_seq is not None:
        marks.append(("chain", "", str(pending.last_seq)))
    try:
        with db.db.conn:
            db.db.conn.executemany(
                "insert into upload_acks (collector, kind, key, state, acked_at) values (?, ?, ?, ?, ?) "
                "on conflict(collector, kind, key) do update set state = excluded.state, acked_at = excluded.acked_at",
                [(collector, kind, key, state, now) for kind, key, state in marks],
            )
    except sqlite3.Error as exc:
        raise StorageError(f"cannot record the collector's acknowledgement: {exc}") from None


def queued(db: Database, collector: str) -> int:
    """How many measurements ``collector`` has not acknowledged."""
    row = db.db.conn.execute(
        f"select count(*) from measurements where {_LOCAL} and chain_seq > ?", (acked_seq(db, collector),)
    ).fetchone()
    return int(row[0])


def bundle_batches(
    db: Database, identity: Identity, *, since: str | None, batch_size: int, max_bytes: int
) -> Iterator[dict[str, Any]]:
    """Signed batches of this probe's chain, from the first record started at or after ``since``
    (all of it when None) to its head; then batches of their runs and of the rounds since."""
    conn = db.db.conn
    start = 1
    if since is not None:
        row = conn.execute(f"select min(chain_seq) from measurements where {_LOCAL} and started_at >= ?", (since,))
        start = row.fetchone()[0] or 0
    run_ids: set[str] = set()
    after = start - 1
    while start:
        records = measurement_records(db, after_seq=after, limit=batch_size, max_bytes=max_bytes - _ENVELOPE_BYTES)
        if not records:
            break
        run_ids.update(str(record["run_id"]) for record in records)
        after = int(records[-1]["chain_seq"])
        yield make_batch(identity, measurements=records, runs=[], rounds=[], head=head_at(db, identity, after))
    ordered = sorted(run_ids)
    runs = [
        run_record(row)
        for index in range(0, len(ordered), 500)
        for row in _select(
            db,
            f"select * from runs where id in ({', '.join('?' for _ in ordered[index : index + 500])})",
            ordered[index : index + 500],
        )
    ]
    where = "probe_id is null" + ("" if since is None else " and started_at >= ?")
    rounds = [
        round_record(row)
        for row in _select(
            db, f"select * from rounds where {where} order by started_at", [] if since is None else [since]
        )
    ]
    room = max_bytes - _ENVELOPE_BYTES
    items = [("runs", run) for run in runs] + [("rounds", one) for one in rounds]
    chunk: dict[str, list[dict[str, Any]]] = {"runs": [], "rounds": []}
    used = 0
    for kind, item in items:
        size = _size(item)
        if (used + size > room or len(chunk[kind]) == MAX_ITEMS) and (chunk["runs"] or chunk["rounds"]):
            yield make_batch(identity, measurements=[], runs=chunk["runs"], rounds=chunk["rounds"], head=None)
            chunk, used = {"runs": [], "rounds": []}, 0
        chunk[kind].append(item)
        used += size
    if chunk["runs"] or chunk["rounds"]:
        yield make_batch(identity, measurements=[], runs=chunk["runs"], rounds=chunk["rounds"], head=None)
