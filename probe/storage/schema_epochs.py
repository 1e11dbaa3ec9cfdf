"""Migration 12, for a chain that goes on under a new epoch after the database lost records a collector holds.

chain_epochs  one row per chain of this probe's own that was archived (``probe.upload.epochs``):
              epoch (the archived chain's, which its records keep in ``chain_epoch`` and its heads in
              ``epoch``), records (it holds seq 1 to this), next_epoch (the chain its later records
              went on under), moved (those records, chained again from a new record 1), collector
              (the one that showed the loss), lost_from and lost_to (the seqs it holds that this
              database had lost), heads_dropped (signed heads of the moved records' old places),
              quarantine_dropped (quarantine marks of archived records), started_at (when)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


CHAIN_EPOCHS = """
create table if not exists chain_epochs (
    epoch text primary key,
    records integer not null,
    next_epoch text not null,
    moved integer not null,
    collector text not null,
    lost_from integer not null,
    lost_to integer not null,
    heads_dropped integer not null,
    quarantine_dropped integer not null,
    started_at text not null
)
"""


def chain_epochs(db: sqlite_utils.Database) -> None:
    """Migration 12. Idempotent."""
    db.execute(CHAIN_EPOCHS)
