"""Runs left ``running`` by a process that is gone (SIGKILL, a power cut, the OOM killer), closed as ``interrupted``.

Each run records its owner (``runs.owner``, migration 9, ``schema_runs``): the process that measures it, by pid,
start time and boot (``probe.processes``). Whoever opens the database for writing next closes the runs whose owner
is gone, with the measurements they had committed; a run of a live process (a daemon's round during a manual
``probe results``) is left alone.
"""

from __future__ import annotations

import sqlite3

from probe.processes import alive

RUNNING = "running"
INTERRUPTED = "interrupted"


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
