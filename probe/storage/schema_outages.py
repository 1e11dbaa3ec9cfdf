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

if TYPE_CHECKING:
    from probe.storage.postgres.connection import PgConnection

_STATEMENTS = """
create index if not exists measurements_outages on measurements (
    input, started_at, probe_id, probe_asn, probe_cc, experiment, run_id, verdict, blocking, blocking_detail,
    failure, failed_step, confirmed, network_state
);
create index if not exists rounds_started on rounds (started_at);
create index if not exists rounds_run on rounds (run_id);
create index if not exists runs_started on runs (started_at);
create index if not exists network_contexts_measured on network_contexts (measured_at);
create table if not exists outage_windows (
    id integer primary key,
    saved_at text not null,
    scope text not null,
    target text not null,
    kind text not null,
    blocking text,
    blocking_detail text,
    start_min text,
    start_max text not null,
    end_min text,
    end_max text,
    ongoing integer not null,
    last_bad text not null,
    measurements integer not null,
    failing integer not null,
    probes integer not null,
    probes_total integer not null,
    network text,
    region text,
    probe text,
    confidence real not null,
    confidence_label text not null,
    severity real not null,
    basis text not null
);
create index if not exists outage_windows_start on outage_windows (start_max);
"""
WINDOW_COLUMNS = (
    "scope",
    "target",
    "kind",
    "blocking",
    "blocking_detail",
    "start_min",
    "start_max",
    "end_min",
    "end_max",
    "ongoing",
    "last_bad",
    "measurements",
    "failing",
    "probes",
    "probes_total",
    "network",
    "region",
    "probe",
    "confidence",
    "confidence_label",
    "severity",
    "basis",
)


def outage_tables(db: sqlite_utils.Database) -> None:
    for statement in _STATEMENTS.split(";"):
        if statement.strip():
            db.execute(statement)


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
