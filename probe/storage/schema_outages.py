"""Migration 5, for outage windows: indexes the analysis reads by, and a table for saved windows.

    measurements     a covering index for the analysis: (input, started_at) and every column it reads
    rounds           index (started_at), index (run_id): the heartbeats of a period, and a run's round
    runs             index (started_at): runs outside the daemon, by period
    network_contexts index (measured_at): a period's network contexts
    outage_windows   windows saved by ``probe outages --save`` (``outage_windows``), for Datasette and other SQL readers

The analysis reads measurements from the covering index alone, in (input, started_at) order: a
measurement's test keys (kilobytes of JSON, stored before the columns later migrations added)
are never read, so the size of a row does not slow it down. On a large collector the first open
after upgrading builds these indexes once (about a minute for 10 million measurements on a
2-core machine).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from probe.storage.tables import apply_sqlite

if TYPE_CHECKING:
    import sqlite_utils

_COVERING = """
create index if not exists measurements_outages on measurements (
    input, started_at, probe_id, probe_asn, probe_cc, experiment, run_id, verdict, blocking, blocking_detail,
    failure, failed_step, confirmed, network_state
)"""


def outage_tables(db: sqlite_utils.Database) -> None:
    db.execute(_COVERING)
    apply_sqlite(db.conn, 5)  # runs, rounds and network contexts by time (rounds by run too); outage_windows
