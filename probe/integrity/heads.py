"""Signed chain heads in a database, and the probe's own entry in its ``probes`` table.

A signed head says "this probe's chain, up to record N, hashes to H", signed with its key. The
daemon signs after every round, and every upload batch and bundle carries one, so the heads
kept here and by a collector pin the chain at many points in time.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from probe.errors import StorageError
from probe.identity import Identity
from probe.integrity.signing import sign_head
from probe.model import utc_now_iso
from probe.storage import Database
from probe.storage.own_chain import local_chain_tail, own_chain


@dataclass(frozen=True)
class SignedHead:
    seq: int
    hash: str
    signed_at: str
    signature: str


def register_self(db: Database, identity: Identity) -> None:
    """Record this probe's id and public key, so the database carries what verifies its heads."""
    try:
        with db.db.conn:
            db.db.conn.execute(
                "insert into probes (id, public_key, name, is_self, added_at, added_how) "
                "values (?, ?, ?, 1, ?, 'self') "
                "on conflict(id) do update set is_self = 1, public_key = excluded.public_key",
                (identity.probe_id, identity.public_key_b64, "this probe", utc_now_iso()),
            )
    except sqlite3.Error as exc:
        raise StorageError(f"cannot record the probe's key in {db.path or 'memory'}: {exc}") from None


def head_at(db: Database, identity: Identity, seq: int) -> SignedHead:
    """The signed head of this probe's own chain at ``seq``: the one already stored, or a new one."""
    conn = db.db.conn
    row = conn.execute(
        "select seq, hash, signed_at, signature from chain_heads where probe_id = ? and epoch = '' and seq = ?",
        (identity.probe_id, seq),
    ).fetchone()
    if row:
        return SignedHead(*row)
    found = conn.execute(
        f"select chain_hash from measurements where {own_chain()} and chain_seq = ?", (seq,)
    ).fetchone()
    if found is None:
        raise StorageError(f"no record {seq} in this database's chain")
    signed_at = utc_now_iso()
    head = SignedHead(seq, str(found[0]), signed_at, sign_head(identity, seq, str(found[0]), signed_at))
    try:
        with conn:
            conn.execute(
                "insert or ignore into chain_heads (probe_id, seq, hash, signed_at, signature) values (?, ?, ?, ?, ?)",
                (identity.probe_id, head.seq, head.hash, head.signed_at, head.signature),
            )
    except sqlite3.Error as exc:
        raise StorageError(f"cannot store a signed head in {db.path or 'memory'}: {exc}") from None
    return head


def local_epoch(db: Database) -> str:
    """This database's chain's epoch: the hash of its record 1. A database made again with the
    same key starts a new chain, hence a new epoch, which a collector keeps apart from the old; so does
    one that lost records a collector holds (``probe.upload.epochs``), keeping its old chain archived."""
    row = db.db.conn.execute(f"select chain_hash from measurements where {own_chain()} and chain_seq = 1").fetchone()
    if row is None:
        raise StorageError(f"record 1 of the chain is missing from {db.path or 'memory'}: run `probe verify`")
    return str(row[0])


def sign_local_head(db: Database, identity: Identity) -> SignedHead | None:
    """Sign the current head of this database's own chain (None while the chain is empty)."""
    seq, _ = local_chain_tail(db.db.conn)
    return head_at(db, identity, seq) if seq else None
