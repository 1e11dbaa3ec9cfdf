"""Migration 6, for an upload queue that never stalls: quarantine, chain epochs, quarantine in heartbeats.

    upload_quarantine  what a collector refused for good (a record it will never take as it is):
                       kept here, out of the queue's way, until ``probe upload --retry-quarantined``
    rounds             + quarantined: how many records were quarantined when the round ended
    measurements       + chain_epoch (a collector's rows: which chain of the probe, named by the
                         hash of its record 1); unique (probe, epoch, chain_seq)
    chain_heads        + epoch; primary key (probe_id, epoch, seq)
    withheld_records   at a collector: the place, hash and signed reason of each record a probe
                       holds in quarantine, until the record itself arrives

A probe's own rows keep ``chain_epoch`` NULL and its own heads epoch '': a database holds one
chain of its own. A collector's rows stored before this migration get the epoch of the chain
whose record 1 it holds; without it they keep NULL (a chain known from a later record only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from probe.storage.ddl import sqlite_create
from probe.storage.tables import CHAIN_HEADS, apply_sqlite

if TYPE_CHECKING:
    import sqlite_utils

_QUARANTINE = """
create table if not exists upload_quarantine (
    collector text not null,
    kind text not null,
    key text not null,
    state text not null,
    status integer,
    error text not null,
    quarantined_at text not null,
    attempts integer not null default 1,
    last_attempt_at text not null,
    primary key (collector, kind, key)
)
"""
_EPOCH_OF_ROW = (
    "select first.chain_hash from measurements first where first.probe_id = {table}.probe_id "
    "and first.chain_seq = 1 and first.chain_prev = '" + "0" * 64 + "'"
)
_HEADS = sqlite_create(CHAIN_HEADS, 6, name="chain_heads_epochs")


def queue_tables(db: sqlite_utils.Database) -> None:
    """Migration 6. Idempotent, inside the transaction ``migrate`` commits."""
    conn = db.conn
    if not conn.in_transaction:
        conn.execute("begin")
    conn.execute(_QUARANTINE)
    if "chain_epoch" not in db.table("measurements").columns_dict:
        conn.execute("alter table measurements add column chain_epoch text")
        conn.execute(
            f"update measurements set chain_epoch = ({_EPOCH_OF_ROW.format(table='measurements')}) "
            "where probe_id is not null"
        )
    conn.execute("drop index if exists measurements_chain")
    conn.execute(
        "create unique index if not exists measurements_chain_epoch on measurements "
        "(coalesce(probe_id, ''), coalesce(chain_epoch, ''), chain_seq)"
    )
    if "epoch" not in db.table("chain_heads").columns_dict:
        conn.execute(_HEADS)
        epoch = _EPOCH_OF_ROW.replace("{table}.probe_id", "h.probe_id")
        conn.execute(
            "insert into chain_heads_epochs (probe_id, epoch, seq, hash, signed_at, signature) "
            f"select h.probe_id, coalesce(({epoch}), ''), h.seq, h.hash, h.signed_at, h.signature from chain_heads h"
        )
        conn.execute("drop table chain_heads")
        conn.execute("alter table chain_heads_epochs rename to chain_heads")
    apply_sqlite(conn, 6)  # withheld_records; rounds + quarantined (chain_heads has its epoch by now)
