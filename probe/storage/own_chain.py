"""This database's own chain, as the program reads it: which rows are its own current chain, and its tail.

A database holds its own probe's records (``probe_id`` NULL) and, at a collector, other probes'; its own records
of a chain that went on under a new epoch are archived (``chain_epoch`` set, ``probe.upload.epochs``). The unique
index of migration 2 (``schema_unattended``) is on the expressions ``own_chain`` writes, so that it serves them.
"""

from __future__ import annotations

import sqlite3

from probe.storage.chain import GENESIS


def own_chain(alias: str = "") -> str:
    """The SQL condition for this database's own current chain: its own rows (``probe_id`` NULL) not of an
    archived epoch (``chain_epoch`` NULL; set on the records of a chain that goes on under a new epoch,
    ``probe.upload.epochs``). Written as the unique index's expressions, so the index serves it."""
    prefix = f"{alias}." if alias else ""
    return f"coalesce({prefix}probe_id, '') = '' and coalesce({prefix}chain_epoch, '') = ''"


_LOCAL_TAIL = (
    "select chain_seq, chain_hash from measurements where " + own_chain() + " and chain_seq is not null "
    "order by chain_seq desc limit 1"
)


def local_chain_tail(conn: sqlite3.Connection) -> tuple[int, str]:
    """The seq and hash of this database's own last chained record (of its current epoch): ``(0, GENESIS)``
    when there is none."""
    row = conn.execute(_LOCAL_TAIL).fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)
