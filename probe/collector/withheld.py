"""Withheld records at a collector: what stands for a record a probe holds in quarantine.

A probe that quarantines a record (this collector refused it for good) names it: its place in
the chain, its link, its hash and the reason, signed with the probe's key. The collector keeps
that (``withheld_records``) so the chain links through the gap and ``probe verify`` says
"withheld" rather than "missing"; when the record itself arrives (after a fix), it must hash to
what was named, and takes the stand-in's place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from probe.errors import ProbeError
from probe.integrity.signing import withheld_signature_ok
from probe.model import utc_now_iso
from probe.upload.protocol import Batch, MeasurementRecord

if TYPE_CHECKING:
    from probe.storage.store import AnyDatabase

_AT = "probe_id = ? and coalesce(chain_epoch, '') = ? and chain_seq = ?"


class WithheldError(ProbeError):
    """A withheld record refused; ``status`` is the HTTP status (the ingest turns it into its own error)."""

    def __init__(self, status: int, message: str, *, seq: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.seq = seq
        """The place in the chain a 409 is about."""


def store_withheld(db: AnyDatabase, batch: Batch, public_key: str) -> int:
    """Check and keep the batch's withheld records (inside the caller's transaction); how many are new."""
    if not batch.withheld:
        return 0
    if batch.epoch is None:
        raise WithheldError(422, "a batch of withheld records names its chain's epoch")
    conn = db.conn
    probe_id, epoch = batch.probe_id, batch.epoch
    new = 0
    for stub in batch.withheld:
        if not withheld_signature_ok(public_key, probe_id, stub.model_dump(), epoch):
            raise WithheldError(401, f"bad signature on withheld record {stub.seq}")
        stored = conn.execute(f"select chain_hash from measurements where {_AT}", (probe_id, epoch, stub.seq))
        row = stored.fetchone()
        if row is not None:
            if row[0] != stub.hash:
                message = f"another record is stored at seq {stub.seq} of this probe's chain"
                raise WithheldError(409, message, seq=stub.seq)
            continue  # the record itself is here already
        before = conn.execute(f"select chain_hash from measurements where {_AT}", (probe_id, epoch, stub.seq - 1))
        after = conn.execute(f"select chain_prev from measurements where {_AT}", (probe_id, epoch, stub.seq + 1))
        if (found := before.fetchone()) is not None and found[0] != stub.prev:
            message = f"withheld record {stub.seq} does not continue the chain stored for this probe"
            raise WithheldError(409, message, seq=stub.seq)
        if (found := after.fetchone()) is not None and found[0] != stub.hash:
            message = f"the stored record {stub.seq + 1} does not follow withheld record {stub.seq}"
            raise WithheldError(409, message, seq=stub.seq)
        existing = conn.execute(
            "select hash from withheld_records where probe_id = ? and epoch = ? and seq = ?",
            (probe_id, epoch, stub.seq),
        ).fetchone()
        if existing is not None:
            if existing[0] != stub.hash:
                raise WithheldError(409, f"another record was named as withheld at seq {stub.seq}", seq=stub.seq)
            continue
        conn.execute(
            "insert into withheld_records (probe_id, epoch, seq, prev, hash, reason, signature, received_at) "
            "values (?, ?, ?, ?, ?, ?, ?, ?)",
            (probe_id, epoch, stub.seq, stub.prev, stub.hash, stub.reason, stub.signature, utc_now_iso()),
        )
        new += 1
    return new


def arrived(db: AnyDatabase, probe_id: str, epoch: str | None, records: list[MeasurementRecord]) -> None:
    """Records that were withheld and have now arrived take their stand-ins' place (same hash only)."""
    conn = db.conn
    if not records:
        return
    # One query for the batch's span, not one per record: a round trip each is what a server store pays.
    named = dict(
        conn.execute(
            "select seq, hash from withheld_records where probe_id = ? and epoch = ? and seq between ? and ?",
            (probe_id, epoch or "", min(r.chain_seq for r in records), max(r.chain_seq for r in records)),
        ).fetchall()
    )
    for record in records:
        where = (probe_id, epoch or "", record.chain_seq)
        found = named.get(record.chain_seq)
        if found is None:
            continue
        if found != record.chain_hash:
            message = f"record {record.chain_seq} is not the one this probe named as withheld"
            raise WithheldError(409, message, seq=record.chain_seq)
        conn.execute("delete from withheld_records where probe_id = ? and epoch = ? and seq = ?", where)
