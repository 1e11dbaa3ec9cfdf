"""The PostgreSQL collector schema: numbered migrations, each applied once, in one transaction.

    probes            the probes a collector accepts (as in SQLite)
    measurement_chain the ledger: one row per (probe, epoch, chain seq), primary key (probe_id, epoch, chain_seq),
                      unique (probe_id, id); a batch's records are inserted here first with
                      ``on conflict do nothing``, so a record is stored once whoever sends it when
    measurements      every column SQLite has (named in ``probe.storage.columns``), partitioned by month of
                      ``started_at`` (one table per month, made when its first row comes; odd times go to
                      ``measurements_other``);
                      covering indexes for the outage queries, (input, started_at) and, for one network's
                      targets, (probe_asn, input, started_at); and (probe, seq)
    runs, rounds      primary key (probe_id, id): a probe's runs and heartbeats
    chain_heads       signed heads, primary key (probe_id, epoch, seq)
    withheld_records  records a probe holds in quarantine, named by place and hash (``collector.withheld``)
    network_contexts  a round's network controls (when probes send them)
    outage_windows    windows saved by ``probe outages --save``

The tables both engines hold (probes, runs, rounds, chain_heads, withheld_records, network_contexts,
outage_windows) are declared once, in ``probe.storage.tables``: a step here makes what the declarations say
of its number (``postgres_script``), and the same columns' SQLite steps are numbered there too.

No constraint spans probes: every key starts with ``probe_id``, so the tables can later be
distributed by probe (Citus: ``create_distributed_table(..., 'probe_id')``) with each probe's rows
together. Times are ISO 8601 text in the "C" collation, compared as SQLite compares them; the
function ``julianday`` is SQLite's, so the analysis's SQL runs unchanged.

A new migration is appended with a new number; applied ones are never edited. Migrations run
under an advisory lock, so two collectors starting at once do not both apply one.
"""

from __future__ import annotations

from probe.storage.columns import (
    CHAIN_COLUMNS,
    CHAIN_EPOCH_COLUMNS,
    INITIAL_SCHEMA,
    VERDICT_DETAIL_COLUMNS,
    VERDICT_RULE_COLUMNS,
)
from probe.storage.postgres.connection import PgConnection
from probe.storage.tables import postgres_script

_TYPES = {str: "text", int: "integer", float: "double precision"}
_MEASUREMENT_TYPES = {
    "id": "text not null",
    "probe_id": "text not null",
    "input": 'text collate "C"',
    "started_at": 'text collate "C" not null',
    "chain_seq": "bigint not null",
    "chain_prev": "text not null",
    "chain_hash": "text not null",
}
"""Where a collector's measurement columns differ from SQLite's types: what every collector row has, inputs and
times compared byte by byte (as SQLite compares them), 64-bit chain seqs."""


def _measurement_columns(columns: dict[str, type]) -> str:
    """The column list of ``create table measurements``: the columns SQLite's migrations made (``columns``), the
    probe's id second as in every collector table."""
    names = ["id", "probe_id", *(name for name in columns if name not in ("id", "probe_id"))]
    return ",\n".join(f"    {name} {_MEASUREMENT_TYPES.get(name) or _TYPES[columns[name]]}" for name in names)


_MIGRATION_1_COLUMNS = {
    **INITIAL_SCHEMA,
    **CHAIN_COLUMNS,
    **CHAIN_EPOCH_COLUMNS,
    **VERDICT_DETAIL_COLUMNS,
    **VERDICT_RULE_COLUMNS,
}
"""The measurement columns of SQLite's migrations 1 to 8, which migration 1 here made at once. A column SQLite
adds later is added here by a migration of its own (the two stores' columns are compared by a test)."""

_INITIAL = (
    postgres_script(1)
    + f"""
create table measurement_chain (
    probe_id text not null,
    epoch text not null,
    chain_seq bigint not null,
    id text not null,
    chain_prev text not null,
    chain_hash text not null,
    primary key (probe_id, epoch, chain_seq),
    unique (probe_id, id)
);
create index measurement_chain_id on measurement_chain (id);
create table measurements (
{_measurement_columns(_MIGRATION_1_COLUMNS)}
) partition by range (started_at);
create table measurements_other partition of measurements default;
create index measurements_outages on measurements (input, started_at) include (
    probe_id, probe_asn, probe_cc, experiment, run_id, verdict, blocking, blocking_detail, failure, failed_step,
    confirmed, network_state
);
create index measurements_probe_seq on measurements (probe_id, chain_seq);
create index measurements_id on measurements (id);
create index measurements_run on measurements (run_id);
create index measurements_started on measurements (started_at);
create function julianday(moment text) returns double precision language sql stable strict parallel safe
    as $$ select extract(epoch from moment::timestamptz)::double precision / 86400.0 + 2440587.5 $$;
"""
)

_CHAIN_ORDER = """
create index measurements_chain_walk on measurements ((coalesce(probe_id, '')), (coalesce(chain_epoch, '')), chain_seq);
"""
# ``probe verify`` and the report's chain table read each chain with the SQL they share with SQLite, by
# ``coalesce(probe_id, '')`` and ``coalesce(chain_epoch, '')``: without this index, one full scan per chain.

_NETWORK_OUTAGES = """
create index measurements_network on measurements (probe_asn, input, started_at) include (
    probe_id, probe_cc, experiment, run_id, verdict, blocking, blocking_detail, failure, failed_step,
    confirmed, network_state
);
"""
# One network's targets (``input = ? and probe_asn = ?`` over a period) read from ``measurements_outages`` every
# entry of each input to keep the network's (a tenth of them, with ten networks): slower than SQLite doing the same
# in-process. Led by the network, these are one range each, read from the index alone (a quarter of the server's
# time per input). Without the included columns it costs a visit to the table per row, twice as long, and the
# planner keeps the filtered scan of the old index. Its price: about 5 µs of the server's time per measurement
# written, and 30% more WAL for the benchmark's small rows (docs/performance.md, "Collector ingest").

MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "collector tables; measurements partitioned by month; the chain ledger", _INITIAL),
    (2, "an index to walk each chain in order, as verify reads it", _CHAIN_ORDER),
    (3, "an index for one network's outage series", _NETWORK_OUTAGES),
    (4, "runs: the place the probe declared when each started", postgres_script(4)),
    (
        5,
        "rounds: the group's interval, rebooted or resumed since the round before; probes: the upload interval",
        postgres_script(5),
    ),
    (6, "batch arrivals: when each batch was received, and the span it carried", postgres_script(6)),
    (7, "measurements judged blocked by period, for each round's blocked targets", postgres_script(7)),
    (8, "saved outage windows: regional windows with their place, probes and provisional", postgres_script(8)),
    (
        9,
        "collector sessions: when a collector started serving, its latest heartbeat, when it stopped",
        postgres_script(9),
    ),
]
_LOCK = 0x7A68616E  # any constant: the advisory lock migrations hold


def applied(conn: PgConnection) -> set[int]:
    if not conn.one("select to_regclass('schema_migrations') is not null")[0]:
        return set()
    return {int(row[0]) for row in conn.execute("select version from schema_migrations")}


def migrate(conn: PgConnection) -> int:
    """Apply every pending migration, each in its own transaction; return the schema version."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(?)", (_LOCK,))
        conn.execute(
            "create table if not exists schema_migrations (version integer primary key, name text, applied_at text)"
        )
    for number, name, script in sorted(MIGRATIONS):
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(?)", (_LOCK,))
            if number in applied(conn):
                continue
            conn.raw.execute(script.encode())
            conn.execute(
                "insert into schema_migrations (version, name, applied_at) "
                "values (?, ?, to_char(now() at time zone 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))",
                (number, name),
            )
    return max(applied(conn), default=0)
