"""A chain that lost records a collector holds goes on under a new epoch, rather than reuse their places.

A probe's database can lose records it had already uploaded, with the collector's acknowledgements of
them: an old crash that lost the end of its journal, a restored backup. Its next records then take the
lost records' places (seq) in the same chain, and a collector holding the lost ones refuses them (409).
That refusal carries the newest head the probe signed for the chain as the collector stores it
(``probe.collector.ingest``). When the signature is this probe's own and the head is not on the chain
this database holds, the database lost records, and at the first record refused (``go_on_under_new_epoch``):

- the records before it (acknowledged: the collector holds them too) are archived: they keep their
  places and hashes under their epoch (``chain_epoch`` set, their signed heads with it);
- it and every later record are chained again from a new record 1, a new epoch, and delivered under
  it; the signed heads of their old places are dropped (no record is there any more);
- every collector's acknowledgements of the chain start again, and quarantine and verdict marks of the
  archived records are dropped (kept by seq, they would name the new chain's records);
- the event is kept in ``chain_epochs`` (migration 12) and said in one line.

Nothing is quarantined for it, and ``probe verify`` checks the archived chain and the new one each as a
chain of its own, on the probe and at the collector. Not done (the record is quarantined as before) when
the collector's head is on this database's chain (the refusal is about something else), the signature is
not this probe's (an older collector sends none), or a collector acknowledged the refused record or a
later one (it holds it under the old epoch, and would refuse it under a new one). The archived chain is
not sent anywhere again, nor bundled (``probe bundle`` writes the current chain).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from probe.errors import StorageError
from probe.identity import Identity
from probe.integrity.heads import SignedHead
from probe.integrity.signing import head_signature_ok
from probe.model import utc_now_iso
from probe.storage import Database
from probe.storage.busy import when_free
from probe.storage.chain import GENESIS, record_hash
from probe.storage.columns import CHAINED_COLUMNS
from probe.storage.own_chain import own_chain
from probe.upload.queue import MEASUREMENT, VERDICT, Pending


@dataclass(frozen=True)
class NewEpoch:
    """A chain archived under ``archived`` (records 1 to ``kept``), going on under ``epoch``."""

    collector: str
    archived: str
    kept: int
    epoch: str
    moved: int
    lost_from: int
    lost_to: int

    def describe(self) -> str:
        lost = self.lost_to - self.lost_from + 1
        return (
            f"this database lost {lost} record{'s' * (lost != 1)} the collector at {self.collector} had "
            f"(seq {self.lost_from}-{self.lost_to}); its chain goes on under a new epoch {self.epoch[:16]} "
            f"({self.moved} record{'s' * (self.moved != 1)} chained again; records 1-{self.kept} stay "
            f"under epoch {self.archived[:16]})"
        )


def collectors_head(answer: Mapping[str, Any] | None) -> tuple[str | None, SignedHead] | None:
    """The chain a refusal is about, as the collector stores it: its epoch and the newest head the probe
    signed for it (``chain``); None when the answer says nothing of it (an older collector, no head)."""
    chain = answer.get("chain") if answer is not None else None
    head = chain.get("head") if isinstance(chain, dict) else None
    if not isinstance(chain, dict) or not isinstance(head, dict):
        return None
    epoch = chain.get("epoch")
    try:
        signed = SignedHead(int(head["seq"]), str(head["hash"]), str(head["signed_at"]), str(head["signature"]))
    except (KeyError, TypeError, ValueError):
        return None
    return (epoch if isinstance(epoch, str) else None), signed


def go_on_under_new_epoch(
    db: Database, identity: Identity, collector: str, pending: Pending, answer: Mapping[str, Any] | None
) -> NewEpoch | None:
    """``collector`` refused ``pending`` (one record, alone) with ``answer`` (409): when the answer shows, by
    this probe's own signature, a chain this database no longer holds, archive the chain before the record
    and chain it and the rest again under a new epoch (one transaction); None when it does not, and
    nothing changed."""
    found = collectors_head(answer)
    if found is None or pending.resend or pending.items != 1 or not pending.measurements:
        return None
    epoch, head = found
    record = pending.measurements[0]
    seq = int(record["chain_seq"])
    if seq < 2 or head.seq < seq:
        return None
    if not head_signature_ok(
        identity.public_key_b64, identity.probe_id, head.seq, head.hash, head.signed_at, head.signature
    ):
        return None
    conn = db.db.conn
    if conn.in_transaction:
        return None

    def attempt() -> NewEpoch | None:
        conn.execute("begin immediate")
        try:
            new = _start_new_epoch(conn, identity, collector, record, epoch, head)
        except BaseException:
            conn.rollback()
            raise
        if new is None:
            conn.rollback()
        else:
            conn.commit()
        return new

    try:
        return when_free(attempt, what="a new chain epoch")
    except sqlite3.Error as exc:
        raise StorageError(f"cannot start a new chain epoch in {db.path or 'memory'}: {exc}") from None


def _hash_at(conn: sqlite3.Connection, seq: int) -> str | None:
    row = conn.execute(f"select chain_hash from measurements where {own_chain()} and chain_seq = ?", (seq,)).fetchone()
    return None if row is None else str(row[0])


def _start_new_epoch(
    conn: sqlite3.Connection,
    identity: Identity,
    collector: str,
    record: Mapping[str, Any],
    epoch: str | None,
    head: SignedHead,
) -> NewEpoch | None:
    """Inside the write lock: everything checked again (another writer may have moved first), then done."""
    seq = int(record["chain_seq"])
    archived = _hash_at(conn, 1)
    if archived is None or (epoch is not None and epoch != archived):
        return None  # about another chain of this probe
    if _hash_at(conn, seq) != record["chain_hash"] or _hash_at(conn, head.seq) == head.hash:
        return None  # the record changed since it was read, or the collector's chain is this one
    acks = {
        name: int(state)
        for name, state in conn.execute("select collector, state from upload_acks where kind = 'chain' and key = ''")
    }
    if acks.get(collector, 0) != seq - 1 or any(state >= seq for state in acks.values()):
        return None  # a collector holds the record (or a later one) under this epoch: it stays in it
    conn.execute(f"update measurements set chain_epoch = ? where {own_chain()} and chain_seq < ?", (archived, seq))
    moved = [
        int(row[0])
        for row in conn.execute(f"select rowid from measurements where {own_chain()} order by chain_seq").fetchall()
    ]
    columns = ", ".join(CHAINED_COLUMNS)
    prev, first = GENESIS, ""
    for new_seq, rowid in enumerate(moved, start=1):
        values = conn.execute(f"select {columns} from measurements where rowid = ?", (rowid,)).fetchone()
        hash_ = record_hash(new_seq, prev, dict(zip(CHAINED_COLUMNS, values, strict=True)))
        conn.execute(
            "update measurements set chain_seq = ?, chain_prev = ?, chain_hash = ? where rowid = ?",
            (new_seq, prev, hash_, rowid),
        )
        first, prev = first or hash_, hash_
    own_heads = "epoch = '' and (probe_id = ? or probe_id in (select id from probes where added_how = 'self'))"
    conn.execute(f"update chain_heads set epoch = ? where {own_heads} and seq < ?", (archived, identity.probe_id, seq))
    heads_dropped = conn.execute(f"delete from chain_heads where {own_heads}", (identity.probe_id,)).rowcount
    # Verdict changes are kept by seq in the current chain: the moved records' go with them, the archived ones'
    # go (through negative seqs, so no two rows share a seq on the way).
    conn.execute("delete from verdict_changes where chain_seq < ?", (seq,))
    conn.execute("update verdict_changes set chain_seq = ? - chain_seq - 1 where chain_seq >= ?", (seq, seq))
    conn.execute("update verdict_changes set chain_seq = -chain_seq where chain_seq < 0")
    conn.execute(f"delete from upload_acks where kind in ('chain', '{VERDICT}')")
    quarantine_dropped = conn.execute(
        f"delete from upload_quarantine where kind in ('{MEASUREMENT}', '{VERDICT}')"
    ).rowcount
    new = NewEpoch(collector, archived, seq - 1, first, len(moved), seq, head.seq)
    conn.execute(
        "insert into chain_epochs (epoch, records, next_epoch, moved, collector, lost_from, lost_to, heads_dropped, "
        "quarantine_dropped, started_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            archived,
            new.kept,
            new.epoch,
            new.moved,
            collector,
            seq,
            head.seq,
            heads_dropped,
            quarantine_dropped,
            utc_now_iso(),
        ),
    )
    return new
