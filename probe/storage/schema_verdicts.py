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

import sqlite_utils

from probe.storage.columns import VERDICT_DETAIL_COLUMNS, add_missing_columns

NETWORK_CONTEXTS = """
create table if not exists network_contexts (
    id integer primary key,
    run_id text,
    phase text,
    measured_at text,
    network_state text,
    gateway text,
    gateway_answers integer,
    controls text
);
create index if not exists network_contexts_run on network_contexts (run_id);
create index if not exists measurements_verdict on measurements (verdict);
"""


def verdict_tables(db: sqlite_utils.Database) -> None:
    add_missing_columns(db.table("measurements"), VERDICT_DETAIL_COLUMNS)
    for statement in NETWORK_CONTEXTS.split(";"):
        if statement.strip():
            db.execute(statement)
