"""Migration 9: who runs a run (``runs.owner``), so that runs left ``running`` by a dead process are closed.

A ``probe run`` or a daemon round killed mid-way (SIGKILL, a power cut, the OOM killer) cannot
mark its run finished. Each run records its owner, the process that measures it: its pid, the
process's start time and the boot it belongs to (``probe.processes``: pids are reused, start times
and boot ids tell the reuse apart). Whoever opens the database for writing next marks every ``running``
run whose owner is gone ``interrupted``, with the measurements it had committed. A run of a live
process, such as a daemon's round during a manual ``probe results``, is left alone.

The owner stays in this database: it is not uploaded, exported or bundled.
"""

from __future__ import annotations

import sqlite3

import sqlite_utils

from probe.processes import alive
from probe.storage.tables import apply_sqlite

RUNNING = "running"
INTERRUPTED = "interrupted"


def run_owners(db: sqlite_utils.Database) -> None:
    """Migration 9."""
    apply_sqlite(db.conn, 9)  # runs + owner


def close_dead_runs(conn: sqlite3.Connection) -> int:
    """Mark this database's own runs left running by processes that are gone as interrupted; how many.

    A collector's runs of other probes (``probe_id`` set) are theirs to close, by upload.

    The caller holds the write lock (a ``BEGIN IMMEDIATE`` transaction)."""
    dead = [
        (run_id, started_at)
        for run_id, started_at, owner in conn.execute(
            "select id, started_at, owner from runs where status = ? and probe_id is null", (RUNNING,)
        ).fetchall()
        if not alive(owner)
    ]
    for run_id, started_at in dead:
        count, last = conn.execute(
            "select count(*), max(started_at) from measurements where run_id = ?", (run_id,)
        ).fetchone()
        conn.execute(
            "update runs set status = ?, finished_at = ?, measurements = ? where id = ? and status = ?",
            (INTERRUPTED, last or started_at, count, run_id, RUNNING),
        )
    return len(dead)
