"""Migration 2, for unattended operation: the hash chain, heartbeats, signed heads, probes, upload marks, consent.

    measurements  + probe_id (NULL: this database's own probe; set by a collector), chain_seq,
                    chain_prev, chain_hash; unique (probe, chain_seq)
    runs          + probe_id
    rounds        one heartbeat row per scheduled round, written even when every target fails
    chain_heads   signed chain heads (probe_id, seq, hash, signed_at, signature)
    probes        probe ids and public keys: this probe's own (is_self = 1), or those a collector accepts
    upload_acks   what a collector has acknowledged: the chain up to a seq, runs and rounds by state
    consent       when the volunteer accepted which version of the consent text

Existing measurements are chained in insertion (rowid) order when the migration runs.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from probe.storage.chain import GENESIS, record_hash
from probe.storage.columns import CHAIN_COLUMNS, CHAINED_COLUMNS, add_missing_columns
from probe.storage.tables import apply_sqlite

if TYPE_CHECKING:
    import sqlite_utils

_TABLES = """
create table if not exists upload_acks (
    collector text not null,
    kind text not null,
    key text not null,
    state text not null,
    acked_at text not null,
    primary key (collector, kind, key)
);
create table if not exists consent (
    id integer primary key,
    text_version text not null,
    text_sha256 text not null,
    accepted_at text not null,
    how text not null,
    upload_url text
);
"""
_CHAIN_INDEX = (
    "create unique index if not exists measurements_chain on measurements (coalesce(probe_id, ''), chain_seq)"
)


_TAIL_BEFORE_EPOCHS = (
    "select chain_seq, chain_hash from measurements where coalesce(probe_id, '') = '' and chain_seq is not null "
    "order by chain_seq desc limit 1"
)
"""The tail as this migration found it: ``chain_epoch`` comes later (migration 6)."""


def _chain_existing(conn: sqlite3.Connection) -> None:
    row = conn.execute(_TAIL_BEFORE_EPOCHS).fetchone()
    seq, prev = (int(row[0]), str(row[1])) if row else (0, GENESIS)
    columns = ", ".join(CHAINED_COLUMNS)
    unchained = conn.execute(
        f"select rowid, {columns} from measurements where chain_seq is null and probe_id is null order by rowid"
    ).fetchall()
    for values in unchained:
        row = dict(zip(("rowid", *CHAINED_COLUMNS), values, strict=True))
        seq += 1
        hash_ = record_hash(seq, prev, row)
        conn.execute(
            "update measurements set chain_seq = ?, chain_prev = ?, chain_hash = ? where rowid = ?",
            (seq, prev, hash_, row["rowid"]),
        )
        prev = hash_


def unattended(db: sqlite_utils.Database) -> None:
    """Migration 2. Idempotent, and one transaction (committed by ``migrate``), so a crash leaves no half."""
    conn = db.conn
    if not conn.in_transaction:
        conn.execute("begin")
    add_missing_columns(db.table("measurements"), CHAIN_COLUMNS)
    apply_sqlite(conn, 2)  # runs + probe_id; rounds, chain_heads (keyed by probe and seq), probes
    for statement in _TABLES.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute(_CHAIN_INDEX)
    _chain_existing(conn)
