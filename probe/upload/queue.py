"""The upload queue, in the probe's database: what a collector has not acknowledged yet.

Measurements go in chain order; the queue's position per collector is the last chain seq it
acknowledged (``upload_acks``, kind ``chain``). Runs and rounds (the heartbeats) change after
they are first sent (a run finishes, a round is closed), so each is re-sent until the collector
has acknowledged its latest state; they travel in their own batches, sent before any batch of
measurements. An acknowledgement is recorded only after the collector answered that it stored
the batch; a batch whose answer was lost is sent again and stored once. Records whose verdicts
changed after a collector acknowledged them are sent to it again (``probe.upload.rejudged``); a
batch acknowledges the verdict generation each of its records carried (kind ``verdict``).

What a collector refuses for good is quarantined (``probe.upload.quarantine``) and the queue
moves past it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import PurePath
from typing import Any

from probe.consent import accepted_places
from probe.errors import StorageError
from probe.identity import Identity
from probe.integrity.heads import SignedHead, head_at, local_epoch
from probe.integrity.signing import withheld_statement
from probe.limits import ENVELOPE_BYTES, MAX_ITEMS, SHORT_CHARS, TEXT_CHARS, clip
from probe.model import utc_now_iso
from probe.place import describe
from probe.storage import Database
from probe.storage.columns import CHAIN_RECORD_COLUMNS
from probe.storage.own_chain import own_chain
from probe.storage.tables import ROUND_FIELDS
from probe.upload.protocol import (
    BATCH_FORMAT,
    NETWORK_CONTEXT_FIELDS,
    RUN_FIELDS,
    VERDICT_FIELDS,
    measurement_problem,
    sign_batch,
)

LOCAL_ROWS = own_chain()
RUN_STATE = "coalesce(r.status, '') || '|' || coalesce(r.finished_at, '') || '|' || coalesce(r.measurements, '')"
ROUND_STATE = (
    "r.status || '|' || coalesce(r.finished_at, '') || '|' || coalesce(r.run_id, '') || '|' || r.measured "
    "|| '|' || r.failed || '|' || coalesce(r.quarantined, '')"
)
MEASUREMENT, RUN, ROUND, VERDICT = "measurement", "run", "round", "verdict"


@dataclass
class Pending:
    """What one batch carries, and what to mark acknowledged once the collector has stored it.

    Either measurements (consecutive records of the chain) or runs and rounds, never both, so
    heartbeats never wait behind measurements. ``halves`` splits it to find a refused record.
    """

    measurements: list[dict[str, Any]] = field(default_factory=list)
    runs: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    rounds: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    batch: dict[str, Any] = field(default_factory=dict)
    """The signed batch, once ``next_batch`` signed it."""
    generations: dict[int, int] = field(default_factory=dict)
    """The verdict generation (``verdict_changes``) each judged-again record carries, by chain seq, read with
    the records: acknowledged with them, so a verdict changed while they travel is sent again."""
    resend: bool = False
    """Records the collector acknowledged already, sent again for their changed verdicts (``probe.upload.rejudged``)."""

    @property
    def items(self) -> int:
        return len(self.measurements) + len(self.runs) + len(self.rounds)

    @property
    def last_seq(self) -> int | None:
        return int(self.measurements[-1]["chain_seq"]) if self.measurements else None

    def part(self, measurements: list[dict[str, Any]]) -> Pending:
        """A batch of some of these records, as this one would send them."""
        seqs = {int(record["chain_seq"]) for record in measurements}
        generations = {seq: generation for seq, generation in self.generations.items() if seq in seqs}
        return Pending(measurements, generations=generations, resend=self.resend)

    def halves(self) -> tuple[Pending, Pending]:
        if self.measurements:
            middle = len(self.measurements) // 2
            return self.part(self.measurements[:middle]), self.part(self.measurements[middle:])
        both = [(ROUND, item) for item in self.rounds] + [(RUN, item) for item in self.runs]
        first, second = both[: len(both) // 2], both[len(both) // 2 :]
        return _of(first), _of(second)

    def only(self) -> tuple[str, str, str]:
        """The kind, key and state of a one-item batch (what quarantine records). A record sent again for its
        verdict is quarantined as that verdict (kind ``verdict``, state its generation), not as the record."""
        if self.measurements:
            seq = int(self.measurements[0]["chain_seq"])
            if self.resend:
                return VERDICT, str(seq), str(self.generations.get(seq, 0))
            return MEASUREMENT, str(seq), str(self.measurements[0]["chain_hash"])
        kind, (item, state) = (ROUND, self.rounds[0]) if self.rounds else (RUN, self.runs[0])
        return kind, str(item["id"]), state


def _of(items: list[tuple[str, tuple[dict[str, Any], str]]]) -> Pending:
    return Pending(
        runs=[item for kind, item in items if kind == RUN], rounds=[item for kind, item in items if kind == ROUND]
    )


def _size(item: dict[str, Any]) -> int:
    return len(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode()) + 1


RECORD_FIELDS = (*CHAIN_RECORD_COLUMNS, *VERDICT_FIELDS)
"""What a measurement record of a batch carries, in this order."""


def records_within(rows: Iterable[Sequence[Any]], *, max_bytes: int) -> Pending:
    """Records (``RECORD_FIELDS``, then the verdict generation) while they fit in ``max_bytes``.

    The first record is always taken, even alone over ``max_bytes``: a collector with a
    smaller cap then refuses it, and it is quarantined, rather than the queue silently stalling.
    """
    pending = Pending()
    total = 0
    for *values, generation in rows:
        record = dict(zip(RECORD_FIELDS, values, strict=True))
        for name in VERDICT_FIELDS:  # not chained: cut to the limits here, rather than refuse the record
            if isinstance(record[name], str):
                record[name] = clip(record[name], TEXT_CHARS if name == "reason" else SHORT_CHARS)
        size = _size(record)
        if pending.measurements and total + size > max_bytes:
            break
        pending.measurements.append(record)
        if generation is not None:
            pending.generations[int(record["chain_seq"])] = int(generation)
        total += size
    return pending


RECORDS_SELECT = (
    f"select {', '.join('m.' + name for name in RECORD_FIELDS)}, v.generation from measurements m "
    "left join verdict_changes v on v.chain_seq = m.chain_seq"
)
"""A record and the generation of its verdict (NULL: never changed), read in one statement: one snapshot."""


def measurement_pending(db: Database, *, after_seq: int, limit: int, max_bytes: int) -> Pending:
    """This probe's chained records after ``after_seq``, in chain order, within ``limit`` and ``max_bytes``
    (see ``records_within``), with their verdicts' generations."""
    rows = db.db.conn.execute(
        f"{RECORDS_SELECT} where {own_chain('m')} and m.chain_seq > ? order by m.chain_seq limit ?",
        (after_seq, limit),
    )
    return records_within(rows, max_bytes=max_bytes)


def measurement_records(db: Database, *, after_seq: int, limit: int, max_bytes: int) -> list[dict[str, Any]]:
    """The records of ``measurement_pending``."""
    return measurement_pending(db, after_seq=after_seq, limit=limit, max_bytes=max_bytes).measurements


RUN_PLACE = ("area", "district", "network_type")
"""A run's place as the probe declared it (``probe.runner.run_place``): sent only where consent covered it."""


def run_record(row: dict[str, Any], places: Collection[str]) -> dict[str, Any]:
    """A run as a batch carries it. Its place goes with it only if a recorded acceptance covered that place
    (``places``: ``consent.accepted_places``); otherwise none does (the volunteer never agreed to send it)."""
    record = {name: row.get(name) for name in RUN_FIELDS}
    if any(record[name] not in (None, "unknown") for name in RUN_PLACE):
        declared = describe(record["area"] or "", record["district"] or "", record["network_type"] or "unknown")
        if declared not in places:
            record.update(dict.fromkeys(RUN_PLACE))
    if record["test_list"]:
        record["test_list"] = PurePath(record["test_list"]).name
    # A run's problems (a long broken list) must not make every batch that carries it refused.
    record["problems"] = clip(record["problems"], TEXT_CHARS)
    return record


def round_record(row: dict[str, Any]) -> dict[str, Any]:
    record = {name: row.get(name) for name in ROUND_FIELDS}
    record["error"] = clip(record["error"], TEXT_CHARS)
    record["quarantined"] = record["quarantined"] or 0
    return record


def select_rows(db: Database, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    cursor = db.db.conn.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor]


def _changed(db: Database, table: str, kind: str, state: str, collector: str, limit: int) -> list[dict[str, Any]]:
    # Not acknowledged in this state, and not quarantined in this state either.
    return select_rows(
        db,
        f"select r.*, {state} as state_ from {table} r left join upload_acks a on a.collector = ? "
        f"and a.kind = '{kind}' and a.key = r.id where r.probe_id is null "
        f"and (a.state is null or a.state != {state}) and not exists (select 1 from upload_quarantine q "
        f"where q.collector = ? and q.kind = '{kind}' and q.key = r.id and q.state = {state}) "
        "order by r.started_at limit ?",
        (collector, collector, limit),
    )


def changed_runs(db: Database, collector: str, limit: int) -> list[dict[str, Any]]:
    return _changed(db, "runs", RUN, RUN_STATE, collector, limit)


def changed_rounds(db: Database, collector: str, limit: int) -> list[dict[str, Any]]:
    return _changed(db, "rounds", ROUND, ROUND_STATE, collector, limit)


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
    epoch: str | None = None,
    withheld: list[dict[str, Any]] | None = None,
    network_contexts: list[dict[str, Any]] | None = None,
    upload_every: float | None = None,
) -> dict[str, Any]:
    """A signed batch; ``upload_every``: the probe's upload interval (``[upload] every``) when it uploads on a
    schedule, which a collector keeps to know when the probe's silence is unusual (None in a bundle)."""
    batch: dict[str, Any] = {
        "format": BATCH_FORMAT,
        "probe_id": identity.probe_id,
        "public_key": identity.public_key_b64,
        "created_at": utc_now_iso(),
        "upload_every": upload_every,
        "measurements": measurements,
        "runs": runs,
        "rounds": rounds,
        "head": asdict(head) if head is not None else None,
    }
    if measurements or withheld:
        batch["epoch"] = epoch
    if withheld:
        batch["withheld"] = withheld
    if network_contexts:
        batch["network_contexts"] = network_contexts
    batch["signature"] = sign_batch(identity, batch)
    return batch


def sign(db: Database, identity: Identity, pending: Pending, *, upload_every: float | None = None) -> dict[str, Any]:
    """The signed batch for ``pending``: its records with their chain's epoch and a head at the last."""
    last = pending.last_seq
    return make_batch(
        identity,
        measurements=pending.measurements,
        runs=[item for item, _ in pending.runs],
        rounds=[item for item, _ in pending.rounds],
        head=head_at(db, identity, last) if last is not None else None,
        epoch=local_epoch(db) if last is not None else None,
        network_contexts=network_context_records(db, [item["id"] for item, _ in pending.runs]),
        upload_every=upload_every,
    )


def network_context_records(db: Database, run_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The network contexts of these runs (the analyst's "was the network up" for each round)."""
    return [
        {name: row.get(name) for name in NETWORK_CONTEXT_FIELDS}
        for run_id in run_ids
        for row in db.network_contexts(run_id)
    ]


def withheld_batch(db: Database, identity: Identity, record: dict[str, Any], reason: str) -> dict[str, Any]:
    """A signed batch that names ``record`` as withheld (quarantined), so the collector's chain links
    through it and ``probe verify`` there says so instead of calling it missing."""
    epoch = local_epoch(db)
    seq, prev, hash_ = int(record["chain_seq"]), str(record["chain_prev"]), str(record["chain_hash"])
    reason = clip(reason, TEXT_CHARS) or ""
    stub = {"seq": seq, "prev": prev, "hash": hash_, "reason": reason}
    stub["signature"] = identity.sign(withheld_statement(identity.probe_id, epoch, seq, prev, hash_, reason))
    return make_batch(identity, measurements=[], runs=[], rounds=[], head=None, epoch=epoch, withheld=[stub])


def next_heartbeats(db: Database, collector: str, *, max_bytes: int) -> Pending | None:
    """The next batch of changed rounds (heartbeats), then runs; None when all are acknowledged."""
    pending = Pending()
    room = max_bytes - ENVELOPE_BYTES
    places = accepted_places(db)
    for kind, rows in (
        (ROUND, changed_rounds(db, collector, MAX_ITEMS)),
        (RUN, changed_runs(db, collector, MAX_ITEMS)),
    ):
        for row in rows:
            item = round_record(row) if kind == ROUND else run_record(row, places)
            room -= _size(item)
            if room < 0 and pending.items:
                return pending
            (pending.rounds if kind == ROUND else pending.runs).append((item, str(row["state_"])))
    return pending if pending.items else None


def next_records(db: Database, collector: str, *, batch_size: int, max_bytes: int) -> Pending | None:
    """The next batch of measurements for ``collector``; None when it has acknowledged them all."""
    after = acked_seq(db, collector)
    pending = measurement_pending(db, after_seq=after, limit=batch_size, max_bytes=max_bytes - ENVELOPE_BYTES)
    return pending if pending.measurements else None


def next_batch(db: Database, identity: Identity, collector: str, *, batch_size: int, max_bytes: int) -> Pending | None:
    """The next batch for ``collector``, heartbeats first, signed into ``batch``; None when all is acknowledged
    (records to send again for their changed verdicts aside: ``probe.upload.rejudged``, which the uploader
    interleaves with these)."""
    pending = next_heartbeats(db, collector, max_bytes=max_bytes) or next_records(
        db, collector, batch_size=batch_size, max_bytes=max_bytes
    )
    if pending is not None:
        pending.batch = sign(db, identity, pending)
    return pending


def write_rows(db: Database, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    try:
        with db.db.conn:
            db.db.conn.executemany(sql, rows)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot update the upload queue in {db.path or 'memory'}: {exc}") from None


_ACK = (
    "insert into upload_acks (collector, kind, key, state, acked_at) values (?, ?, ?, ?, ?) "
    "on conflict(collector, kind, key) do update set acked_at = excluded.acked_at, state = case "
    "when upload_acks.kind not in ('chain', 'verdict') then excluded.state "
    "when cast(excluded.state as integer) > cast(upload_acks.state as integer) then excluded.state "
    "else upload_acks.state end"
)


def mark_acked(db: Database, collector: str, pending: Pending) -> None:
    """The collector stored ``pending`` (or it was quarantined): the queue moves past it."""
    now = utc_now_iso()
    marks = [(RUN, str(item["id"]), state) for item, state in pending.runs]
    marks += [(ROUND, str(item["id"]), state) for item, state in pending.rounds]
    if pending.last_seq is not None and not pending.resend:
        marks.append(("chain", "", str(pending.last_seq)))
    # The verdicts the collector now has: a chain seq and a generation only ever grow (``_ACK``).
    seqs = {int(record["chain_seq"]) for record in pending.measurements}
    marks += [(VERDICT, str(seq), str(generation)) for seq, generation in pending.generations.items() if seq in seqs]
    write_rows(db, _ACK, [(collector, kind, key, state, now) for kind, key, state in marks])


def queued(db: Database, collector: str) -> int:
    """How many measurements ``collector`` has not acknowledged (quarantined ones not included)."""
    row = db.db.conn.execute(
        f"select count(*) from measurements where {LOCAL_ROWS} and chain_seq > ?", (acked_seq(db, collector),)
    ).fetchone()
    return int(row[0])


def bundle_batches(
    db: Database, identity: Identity, *, since: str | None, batch_size: int, max_bytes: int
) -> Iterator[dict[str, Any]]:
    """Signed batches of this probe's chain, from the first record started at or after ``since``
    (all of it when None) to its head; then batches of their runs and of the rounds since.

    Each record carries its verdict as it is now. A record judged again at or after ``since``
    (``verdict_changes``) but started before it moves the start back to it: the bundle carries
    its new verdict, and stays one contiguous part of the chain (``probe verify`` checks it so)."""
    conn = db.db.conn
    start = 1
    if since is not None:
        row = conn.execute(f"select min(chain_seq) from measurements where {LOCAL_ROWS} and started_at >= ?", (since,))
        start = row.fetchone()[0] or 0
        changed = conn.execute("select min(chain_seq) from verdict_changes where changed_at >= ?", (since,))
        first_changed = changed.fetchone()[0]
        if first_changed is not None:
            start = min(start, int(first_changed)) if start else int(first_changed)
    run_ids: set[str] = set()
    after = start - 1
    while start:
        records = measurement_records(db, after_seq=after, limit=batch_size, max_bytes=max_bytes - ENVELOPE_BYTES)
        if not records:
            break
        # A record a collector would refuse travels alone: its refusal then costs no other record.
        refused = next((index for index, record in enumerate(records) if measurement_problem(record)), None)
        if refused is not None:
            records = records[: refused or 1]
        run_ids.update(str(record["run_id"]) for record in records)
        after = int(records[-1]["chain_seq"])
        yield sign(db, identity, Pending(records))
    ordered = sorted(run_ids)
    places = accepted_places(db)
    runs = [
        run_record(row, places)
        for index in range(0, len(ordered), 500)
        for row in select_rows(
            db,
            f"select * from runs where id in ({', '.join('?' for _ in ordered[index : index + 500])})",
            ordered[index : index + 500],
        )
    ]
    where = "probe_id is null" + ("" if since is None else " and started_at >= ?")
    rounds = [
        round_record(row)
        for row in select_rows(
            db, f"select * from rounds where {where} order by started_at", [] if since is None else [since]
        )
    ]
    room = max_bytes - ENVELOPE_BYTES
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
