"""One batch into the collector's database: checked, then stored exactly once, or refused whole.

Checks, in order, each refusal with the HTTP status it is answered with:

    400  not JSON, or not an object
    422  not a valid batch (pydantic), or a record whose hash does not match its content, records
         that do not link to each other, a head that is not the last record's, a measurement that
         does not load as a ``Measurement``
    403  the probe is not registered or allowed here
    401  the batch is not signed by the probe's key (or the key is not the registered one)
    409  it contradicts what is stored: the same measurement id with other content or from another
         probe, another record at the same place of the probe's chain, a link to a stored
         neighbour that does not match (a rewritten chain), a run or round of another probe

A 409 about the chain also says what is stored of it (``chain``: the epoch, the seq at fault, and
the newest head the probe signed for that epoch, as it signed it): a probe whose database lost
records this collector holds (an old crash, a restored backup) sees its own signature on a chain
it no longer has, and goes on under a new epoch (``probe.upload.epochs``) instead of quarantining.

A record the probe holds in quarantine may be named instead of sent (``withheld``): its place,
link and hash, signed; the record itself, when it comes, must match.

A probe's chain is named by its epoch, the hash of its record 1 (``Batch.epoch``): a probe whose
database was made again with the same key starts a new chain, kept beside the old one, and each
record is stored once per probe, epoch and place in the chain. A batch without an epoch (an old
bundle) belongs to the chain its records link to.

A measurement already stored with the same hash is a duplicate: counted, not stored again. The
whole batch is one transaction. Batches of one probe may arrive in any order (a bundle can fill
a gap later): links are checked against whichever neighbours are already stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from probe.collector import withheld
from probe.collector.registry import learn_key, lookup
from probe.collector.store import BatchStore, Stored, StoredMeanwhile, UnstorableValue
from probe.collector.stores import batch_store
from probe.errors import ProbeError
from probe.identity import IdentityError, decode_public_key, fingerprint, verify
from probe.integrity.signing import head_signature_ok
from probe.model import utc_now_iso
from probe.storage.chain import GENESIS, record_hash_matches
from probe.storage.columns import VERDICT_ROW_COLUMNS, verdict_update
from probe.storage.db import row_to_measurement
from probe.storage.tables import ROUND_FIELDS
from probe.upload.protocol import (
    NETWORK_CONTEXT_FIELDS,
    RUN_FIELDS,
    WHOLE_SIGNED_FORMATS,
    Batch,
    MeasurementRecord,
    first_error,
    signed_statement,
)

if TYPE_CHECKING:
    from probe.storage.store import AnyDatabase


class IngestError(ProbeError):
    """A batch refused; ``status`` is the HTTP status the service answers with."""

    def __init__(self, status: int, message: str, *, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail or {}
        """More of the answer, beside ``error`` (``chain`` on a conflict with the stored chain)."""

    def answer(self) -> dict[str, Any]:
        return {"error": str(self), **self.detail}


@dataclass(frozen=True)
class Received:
    batch: Batch
    raw: dict[str, Any] | None
    """The batch as plain JSON, for a version whose signature covers that (/1, /2); None for /3."""


@dataclass
class IngestResult:
    stored: int = 0
    duplicates: int = 0
    runs: int = 0
    rounds: int = 0
    head: int | None = None
    withheld: int = 0

    def answer(self) -> dict[str, Any]:
        return {
            "stored": self.stored,
            "duplicates": self.duplicates,
            "runs": self.runs,
            "rounds": self.rounds,
            "head": self.head,
            "withheld": self.withheld,
        }


def parse_batch(body: bytes) -> Received:
    """Parse and validate one batch (400, 422); signatures are checked by ``ingest``.

    The model is validated from the body's bytes (one pass, in pydantic's parser); only a /1 or /2 batch,
    whose signature covers its plain JSON, is parsed a second time for that."""
    try:
        batch = Batch.model_validate_json(body)
    except ValidationError as exc:
        kinds = {error["type"] for error in exc.errors()}
        if "json_invalid" in kinds or "json_type" in kinds:
            raise IngestError(400, "the body is not JSON") from None
        if exc.errors()[0]["loc"] == () and "model_type" in kinds:
            raise IngestError(400, "a batch is a JSON object") from None
        raise IngestError(422, f"not a valid batch: {first_error(exc)}") from None
    except (ValueError, RecursionError):
        raise IngestError(400, "the body is not JSON") from None
    if batch.format not in WHOLE_SIGNED_FORMATS:
        return Received(batch, None)
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError):
        raise IngestError(400, "the body is not JSON") from None
    return Received(batch, raw)


def ingest(db: AnyDatabase, received: Received) -> IngestResult:
    """Check and store one batch in one transaction; ``IngestError`` when it is refused."""
    store = batch_store(db)
    try:
        with store.transaction():
            return _ingest(db, store, received)
    except UnstorableValue as exc:
        raise IngestError(422, str(exc)) from None
    except StoredMeanwhile as exc:
        raise IngestError(503, str(exc)) from None


def _ingest(db: AnyDatabase, store: BatchStore, received: Received) -> IngestResult:
    batch = received.batch
    public_key = _authenticate(db, received)
    # Batches of one probe are checked one at a time (another probe's go on): every look below then
    # sees what a concurrent writer committed for this probe, before or after, never half of it.
    store.claim(f"probe {batch.probe_id}")
    by_id = store.by_id([record.id for record in batch.measurements])
    rows = _check_chain(batch, public_key, by_id)
    epoch = _epoch(db, batch)
    result = IngestResult(head=batch.head.seq if batch.head else None)
    fresh = _check_against_stored(db, store, batch, epoch, result, by_id)
    try:
        withheld.arrived(db, batch.probe_id, epoch, [batch.measurements[index] for index in fresh])
        result.withheld = withheld.store_withheld(db, batch, public_key)
    except withheld.WithheldError as exc:
        if exc.seq is None:
            raise IngestError(exc.status, str(exc)) from None
        raise _conflict(db, batch.probe_id, epoch or batch.epoch, exc.seq, str(exc), status=exc.status) from None
    store.insert_records(batch.probe_id, epoch, [rows[index] for index in fresh])
    result.stored = len(fresh)
    result.runs = _upsert(store, "runs", RUN_FIELDS, [run.model_dump() for run in batch.runs], batch.probe_id)
    result.rounds = _upsert(store, "rounds", ROUND_FIELDS, [one.model_dump() for one in batch.rounds], batch.probe_id)
    _store_network_contexts(db, store, batch)
    if batch.head is not None:
        head = batch.head
        store.add_head(batch.probe_id, epoch or "", head.seq, head.hash, head.signed_at, head.signature)
    now = utc_now_iso()
    store.touch_probe(batch.probe_id, now, result.stored, batch.upload_every)
    store.add_arrival(_arrival(batch, now))
    return result


def _arrival(batch: Batch, received_at: str) -> tuple[Any, ...]:
    """The batch's arrival as ``ADD_ARRIVAL`` stores it: when, and the span of the rounds and measurements it
    carried (their start times), read by regional detection as what the collector knew when."""
    starts = [str(one.model_dump(include={"started_at"})["started_at"]) for one in batch.rounds]
    starts += [record.started_at for record in batch.measurements]
    return (
        batch.probe_id,
        received_at,
        batch.created_at,
        min(starts, default=None),
        max(starts, default=None),
        len(batch.rounds),
        len(batch.measurements),
        batch.upload_every,
    )


def _authenticate(db: AnyDatabase, received: Received) -> str:
    batch = received.batch
    entry = lookup(db, batch.probe_id)
    if entry is None:
        raise IngestError(403, f"probe {batch.probe_id} is not registered with this collector")
    if entry.public_key is None:
        try:
            matches = fingerprint(decode_public_key(batch.public_key)) == batch.probe_id
        except IdentityError:
            matches = False
        if not matches:
            raise IngestError(401, "the batch's key is not the one the probe id was made from")
    elif entry.public_key != batch.public_key:
        raise IngestError(401, "the batch is signed with a key other than the probe's registered key")
    try:
        statement = signed_statement(batch, received.raw)
    except ValueError:
        raise IngestError(400, "the batch holds text that is not valid Unicode") from None
    if not verify(batch.public_key, batch.signature, statement):
        raise IngestError(401, "bad signature: the batch was altered, or not signed by this probe's key")
    if entry.public_key is None:
        learn_key(db, batch.probe_id, batch.public_key)
    return batch.public_key


def _check_chain(batch: Batch, public_key: str, stored: dict[str, Stored]) -> list[dict[str, Any]]:
    """Each record's link, hash and measurement checked; their rows (each made once, then stored).

    A record already ``stored`` by this probe with the hash it is sent with (a duplicate: a retry, a
    bundle sent again) is not loaded as a measurement again: its hash, recomputed here, shows its
    content to be the very content that was checked when it was stored."""
    rows = []
    previous: MeasurementRecord | None = None
    for record in batch.measurements:
        seq = record.chain_seq
        if previous is not None and seq != previous.chain_seq + 1:
            raise IngestError(422, f"record {seq} follows record {previous.chain_seq}: records must be consecutive")
        if previous is not None and record.chain_prev != previous.chain_hash:
            raise IngestError(422, f"record {seq} does not link to record {previous.chain_seq}")
        if seq == 1 and record.chain_prev != GENESIS:
            raise IngestError(422, "record 1 does not start the chain")
        row = record.model_dump()
        if not record_hash_matches(seq, record.chain_prev, row, record.chain_hash):
            raise IngestError(422, f"record {seq} (id {record.id}): its hash does not match its content")
        try:
            if stored.get(record.id) != (batch.probe_id, record.chain_hash):
                row_to_measurement(row)
        except (ValidationError, ValueError) as exc:
            detail = first_error(exc) if isinstance(exc, ValidationError) else str(exc)
            raise IngestError(422, f"record {seq} (id {record.id}) is not a valid measurement: {detail}") from None
        rows.append(row)
        previous = record
    head = batch.head
    if previous is None:
        if head is not None:
            raise IngestError(422, "a batch without measurements carries no head")
        return rows
    if head is None or (head.seq, head.hash) != (previous.chain_seq, previous.chain_hash):
        raise IngestError(422, "the batch's head is not its last record")
    if not head_signature_ok(public_key, batch.probe_id, head.seq, head.hash, head.signed_at, head.signature):
        raise IngestError(401, "bad signature on the chain head")
    return rows


def _epoch(db: AnyDatabase, batch: Batch) -> str | None:
    """The epoch of the batch's chain: as it says (checked against its record 1 when it holds it),
    or, for a batch that names none, record 1's hash or the epoch of the stored record it links to."""
    if not batch.measurements:
        return None
    first = batch.measurements[0]
    if first.chain_seq == 1:
        if batch.epoch is not None and batch.epoch != first.chain_hash:
            raise IngestError(422, "the batch's epoch is not the hash of its chain's record 1")
        return first.chain_hash
    if batch.epoch is not None:
        return batch.epoch
    linked = db.conn.execute(
        "select chain_epoch from measurements where probe_id = ? and chain_seq = ? and chain_hash = ?",
        (batch.probe_id, first.chain_seq - 1, first.chain_prev),
    ).fetchone()
    if linked is None:
        raise IngestError(422, "a batch of records that does not start the chain names its epoch")
    return None if linked[0] is None else str(linked[0])


def _check_against_stored(
    db: AnyDatabase, store: BatchStore, batch: Batch, epoch: str | None, result: IngestResult, by_id: dict[str, Stored]
) -> list[int]:
    """The records not stored yet (their places in the batch); duplicates counted into ``result``; 409 on
    any contradiction."""
    probe_id = batch.probe_id
    records = batch.measurements
    seqs = [record.chain_seq for record in records]
    if records:
        seqs += [records[0].chain_seq - 1, records[-1].chain_seq + 1]
    by_seq = store.at_seq(probe_id, epoch or "", seqs)
    fresh, rejudged = [], []
    for index, record in enumerate(records):
        stored = by_id.get(record.id)
        if stored is not None:
            if stored != (probe_id, record.chain_hash):
                raise IngestError(409, f"measurement {record.id} is already stored with other content or probe")
            result.duplicates += 1
            if record.verdict is not None:
                rejudged.append(record)
            continue
        if record.chain_seq in by_seq:
            message = f"another record is stored at seq {record.chain_seq} of this probe's chain"
            raise _conflict(db, probe_id, epoch, record.chain_seq, message)
        fresh.append(index)
    _update_verdicts(db, rejudged)
    if records:
        first, last = records[0], records[-1]
        before = by_seq.get(first.chain_seq - 1)
        if before is not None and before[2] != first.chain_prev:
            message = f"record {first.chain_seq} does not continue the chain stored for this probe"
            raise _conflict(db, probe_id, epoch, first.chain_seq, message)
        after = by_seq.get(last.chain_seq + 1)
        if after is not None and after[1] != last.chain_hash:
            message = f"the stored record {last.chain_seq + 1} does not follow this batch's last"
            raise _conflict(db, probe_id, epoch, last.chain_seq, message)
    return fresh


def _conflict(
    db: AnyDatabase, probe_id: str, epoch: str | None, seq: int | None, message: str, *, status: int = 409
) -> IngestError:
    """A refusal that says what is stored of the chain: ``chain`` = its epoch, the seq at fault and the
    newest head the probe signed for it (None when none is held), so the probe can tell a database
    that lost records from a record at fault."""
    row = db.conn.execute(
        "select seq, hash, signed_at, signature from chain_heads where probe_id = ? and epoch = ? "
        "order by seq desc limit 1",
        (probe_id, epoch or ""),
    ).fetchone()
    head = dict(zip(("seq", "hash", "signed_at", "signature"), row, strict=True)) if row else None
    return IngestError(status, message, detail={"chain": {"epoch": epoch, "seq": seq, "head": head}})


def _update_verdicts(db: AnyDatabase, records: list[MeasurementRecord]) -> None:
    """Measurements sent again with a verdict (judged again on the probe): the verdict is not chained.
    One statement for all of them (a re-sent batch is mostly these)."""
    updates = [verdict_update(record.id, record.model_dump(include=set(VERDICT_ROW_COLUMNS))) for record in records]
    if updates:
        db.conn.executemany(updates[0][0], [values for _, values in updates])


def _store_network_contexts(db: AnyDatabase, store: BatchStore, batch: Batch) -> None:
    """Each run's contexts once (by run and phase); only for runs of the batch's probe."""
    conn = db.conn
    columns = ", ".join(NETWORK_CONTEXT_FIELDS)
    for context in batch.network_contexts:
        owner = conn.execute("select probe_id from runs where id = ?", (context.run_id,)).fetchone()
        if owner is None or owner[0] != batch.probe_id:
            raise IngestError(409, f"network context of run {context.run_id}, which is not this probe's")
        store.claim(f"network context {context.run_id} {context.phase}")  # no unique key: one writer looks
        known = "select 1 from network_contexts where run_id = ? and phase = ?"
        if conn.execute(known, (context.run_id, context.phase)).fetchone() is None:
            values = [getattr(context, name) for name in NETWORK_CONTEXT_FIELDS]
            placeholders = ", ".join("?" for _ in NETWORK_CONTEXT_FIELDS)
            conn.execute(f"insert into network_contexts ({columns}) values ({placeholders})", values)


def _upsert(store: BatchStore, table: str, fields: tuple[str, ...], rows: list[dict[str, Any]], probe_id: str) -> int:
    """Insert or update runs/rounds of ``probe_id``; 409 for one that belongs to another probe."""
    owners = store.owners(table, [row["id"] for row in rows])
    for row in rows:
        owner = owners.get(row["id"])
        if owner is not None and owner != probe_id:
            raise IngestError(409, f"{table[:-1]} {row['id']} belongs to another probe")
    store.upsert(table, fields, rows, probe_id)
    return len(rows)
