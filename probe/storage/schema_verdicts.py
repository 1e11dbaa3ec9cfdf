"""Migration 4, for verdicts: why a measurement got its verdict, and the network it was taken in.

    measurements      + confirmed (1: a blockpage fingerprint matched), reason (one human sentence),
                        network_state (the round's: ok, international_cut, shutdown, local_fault,
                        degraded; NULL without network controls); index on verdict
    network_contexts  the round's network controls, measured at its start and end (phase): state,
                        gateway, and each control's outcome as JSON

(``verdict``, ``blocking`` and ``blocking_detail`` exist since migration 1.) Like them, these
columns are not part of the hash chain: a verdict can be judged again later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from probe.storage.columns import VERDICT_DETAIL_COLUMNS, add_missing_columns
from probe.storage.tables import apply_sqlite

if TYPE_CHECKING:
    import sqlite_utils


def verdict_tables(db: sqlite_utils.Database) -> None:
    add_missing_columns(db.table("measurements"), VERDICT_DETAIL_COLUMNS)
    apply_sqlite(db.conn, 4)  # network_contexts, indexed by run
    db.execute("create index if not exists measurements_verdict on measurements (verdict)")
