"""Migration 9: who runs a run (``runs.owner``), so that runs left ``running`` by a dead process are closed.

A ``probe run`` or a daemon round killed mid-way (SIGKILL, a power cut, the OOM killer) cannot mark its run
finished. Each run records its owner, the process that measures it (``probe.processes``: its pid, start time and
boot); whoever opens the database for writing next closes the runs whose owner is gone (``dead_runs``).

The owner stays in this database: it is not uploaded, exported or bundled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from probe.storage.tables import apply_sqlite

if TYPE_CHECKING:
    import sqlite_utils


def run_owners(db: sqlite_utils.Database) -> None:
    """Migration 9."""
    apply_sqlite(db.conn, 9)  # runs + owner
