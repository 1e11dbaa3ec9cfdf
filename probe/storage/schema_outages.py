"""Migration 5, for outage windows: indexes the analysis reads by, and a table for saved windows.

    measurements     a covering index for the analysis: (input, started_at) and every column it reads
    rounds           index (started_at), index (run_id): the heartbeats of a period, and a run's round
    runs             index (started_at): runs outside the daemon, by period
    network_contexts index (measured_at): a period's network contexts
    outage_windows   windows saved by ``probe outages --save`` (for Datasette and other SQL readers)

The analysis reads measurements from the covering index alone, in (input, started_at) order: a
measurement's test keys (kilobytes of JSON, stored before the columns later migrations added)
are never read, so the size of a row does not slow it down. On a large collector the first open
after upgrading builds these indexes once (about a minute for 10 million measurements on a
2-core machine).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import sqlite_utils

from probe.storage.tables import OUTAGE_WINDOWS, apply_sqlite

if TYPE_CHECKING:
    from probe.storage.postgres.connection import PgConnection

_COVERING = """
create index if not exists measurements_outages on measurements (
    input, started_at, probe_id, probe_asn, probe_cc, experiment, run_id, verdict, blocking, blocking_detail,
    failure, failed_step, confirmed, network_state
)"""
WINDOW_COLUMNS = tuple(column.name for column in OUTAGE_WINDOWS.columns if column.name not in ("id", "saved_at"))
"""What a saved window holds (``Window.to_dict()``'s keys), besides its id and when it was saved."""


def outage_tables(db: sqlite_utils.Database) -> None:
    db.execute(_COVERING)
    apply_sqlite(db.conn, 5)  # runs, rounds and network contexts by time (rounds by run too); outage_windows


def _stored(value: object) -> object:
    return int(value) if isinstance(value, bool) else value


def save_windows(
    conn: sqlite3.Connection | PgConnection, windows: Iterable[Mapping[str, object]], saved_at: str
) -> int:
    """Replace the saved windows by ``windows`` (``Window.to_dict()``), in one transaction; how many.

    ``conn``: a SQLite connection, or a PostgreSQL collector's (``probe.storage.postgres``)."""
    # Flags as integers, as SQLite keeps them (PostgreSQL would not take a boolean into an integer column).
    rows = [[_stored(window[column]) for column in WINDOW_COLUMNS] for window in windows]
    columns = ", ".join(("saved_at", *WINDOW_COLUMNS))
    marks = ", ".join("?" for _ in range(len(WINDOW_COLUMNS) + 1))
    with conn:
        conn.execute("delete from outage_windows")
        conn.executemany(f"insert into outage_windows ({columns}) values ({marks})", [[saved_at, *r] for r in rows])
    return len(rows)
