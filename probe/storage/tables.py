"""The tables both engines hold, declared once: a probe's SQLite and a collector's SQLite or PostgreSQL.

Each ``Column`` names the migration that made it in each engine (``sqlite=``: ``probe.storage.migrations``,
``postgres=``: ``probe.storage.postgres.schema``; ``probe.storage.ddl`` says how). The measurements table's
columns are in ``probe.storage.columns``; tables of one engine only (the upload queue, consent, SMS) are
written in their own migration steps. ``tests/test_storage_tables.py`` holds both engines' live schemas,
migrated from empty, to these declarations.

To add a column to a table here: one ``Column`` line with the numbers of the two new migration steps, and
those steps (``docs/development.md``, "Adding a column").
"""

from __future__ import annotations

import sqlite3

from probe.storage.ddl import (
    BIGINT,
    INTEGER,
    REAL,
    SERIAL,
    TEXT,
    TIME,
    Column,
    Index,
    Table,
    postgres_indexes_on,
    postgres_step,
    sqlite_indexes_on,
    sqlite_step,
)

PROBES = Table(
    "probes",
    (
        Column("id", TEXT, sqlite=2),
        Column("public_key", TEXT, sqlite=2),
        Column("name", TEXT, sqlite=2),
        Column("is_self", INTEGER, not_null=True, default="0", sqlite=2),
        Column("added_at", TEXT, sqlite=2),
        Column("added_how", TEXT, sqlite=2),
        Column("first_seen", TEXT, sqlite=2),
        Column("last_seen", TEXT, sqlite=2),
        Column("batches", BIGINT, not_null=True, default="0", sqlite=2),
        Column("measurements", BIGINT, not_null=True, default="0", sqlite=2),
        Column("upload_every", REAL, sqlite=15, postgres=5),
    ),
    key=("id",),
)
"""Probe ids and public keys: a probe's own (``is_self`` 1), or those a collector accepts; at a collector, the
upload interval the probe last declared (``upload_every``, seconds: how long its silence is usual)."""

RUNS = Table(
    "runs",
    (
        Column("id", TEXT, sqlite=1),
        Column("probe_id", TEXT, sqlite=2),
        Column("started_at", TIME, sqlite=1),
        Column("finished_at", TIME, sqlite=1),
        Column("status", TEXT, sqlite=1),
        Column("experiment", TEXT, sqlite=1),
        Column("test_list", TEXT, sqlite=1),
        Column("probe_asn", TEXT, sqlite=1),
        Column("probe_cc", TEXT, sqlite=1),
        Column("software_version", TEXT, sqlite=1),
        Column("config", TEXT, sqlite=1),
        Column("measurements", BIGINT, sqlite=1),
        Column("problems", TEXT, sqlite=1),
        Column("probe_network_name", TEXT, sqlite=7),
        Column("network_source", TEXT, sqlite=7),
        Column("owner", TEXT, sqlite=9, postgres=None),  # the local process measuring it: never uploaded
        Column("area", TEXT, sqlite=14, postgres=4),
        Column("district", TEXT, sqlite=14, postgres=4),
        Column("network_type", TEXT, sqlite=14, postgres=4),
    ),
    key=("id",),
    postgres_key=("probe_id", "id"),
    indexes=(
        Index("runs_id", ("id",), postgres=1),
        Index("runs_started", ("started_at",), sqlite=5, postgres=1),
    ),
)
"""One row per run (``probe run`` or a daemon's round): its network, its list, how many it measured, and the place
the probe declared when it started (``[probe] area``, ``district``, ``network_type``: a probe can move)."""

ROUND_COUNTS = ("targets", "measured", "failed", "reached", "probe_errors")
"""What a round counts: its targets, those measured, failed and reached, and the probe's own errors. The
heartbeat writes them, the daemon's rounds keep them, the upload protocol sends them (as ``rounds`` columns)."""

ROUNDS = Table(
    "rounds",
    (
        Column("id", TEXT, sqlite=2),
        Column("probe_id", TEXT, sqlite=2),
        Column("group_name", TEXT, sqlite=2),
        Column("experiment", TEXT, sqlite=2),
        Column("run_id", TEXT, sqlite=2),
        Column("started_at", TIME, sqlite=2),
        Column("finished_at", TIME, sqlite=2),
        Column("status", TEXT, sqlite=2),
        *(Column(name, INTEGER, sqlite=2) for name in ROUND_COUNTS),
        Column("quarantined", INTEGER, sqlite=6),
        Column("error", TEXT, sqlite=2),
        Column("every", REAL, sqlite=15, postgres=5),
        Column("rebooted", INTEGER, sqlite=15, postgres=5),
        Column("resumed", INTEGER, sqlite=15, postgres=5),
        Column("boot_id", TEXT, sqlite=15, postgres=None),  # the kernel's boot it ran in: never uploaded
    ),
    key=("id",),
    postgres_key=("probe_id", "id"),
    indexes=(
        Index("rounds_group_started", ("group_name", "started_at"), sqlite=2),
        Index("rounds_id", ("id",), postgres=1),
        Index("rounds_started", ("started_at",), sqlite=5, postgres=1),
        Index("rounds_run", ("run_id",), sqlite=5, postgres=1),
    ),
)
"""One heartbeat row per scheduled round, written even when every target fails (``probe.daemon.heartbeat``): its
group's interval (``every``), and whether the machine was off since the round before (``rebooted``: another boot;
``resumed``: the first round of a daemon started after it), told from the boot's id, which stays on the probe."""

ROUND_FLAGS = ("rebooted", "resumed")
"""What a round says of the time since the round before: 1, 0, or NULL where it cannot tell (an older round)."""

ROUND_FIELDS = tuple(
    column.name for column in ROUNDS.columns if column.name != "probe_id" and column.postgres is not None
)
"""A round's fields as a probe sends them (a collector adds the probe's id): every column both engines hold, so
none of a probe's own (the boot's id, ``postgres=None``) ever leaves it."""

CHAIN_HEADS = Table(
    "chain_heads",
    (
        Column("probe_id", TEXT, not_null=True, sqlite=2),
        Column("epoch", TEXT, not_null=True, default="''", sqlite=6),
        Column("seq", BIGINT, not_null=True, sqlite=2),
        Column("hash", TEXT, not_null=True, sqlite=2),
        Column("signed_at", TEXT, not_null=True, sqlite=2),
        Column("signature", TEXT, not_null=True, sqlite=2),
    ),
    key=("probe_id", "epoch", "seq"),
    sqlite_rebuilt=6,
)
"""Signed chain heads. A probe's own have epoch ''; migration 6 rebuilt the table with ``epoch`` in its key."""

WITHHELD_RECORDS = Table(
    "withheld_records",
    (
        Column("probe_id", TEXT, not_null=True, sqlite=6),
        Column("epoch", TEXT, not_null=True, sqlite=6),
        Column("seq", BIGINT, not_null=True, sqlite=6),
        Column("prev", TEXT, not_null=True, sqlite=6),
        Column("hash", TEXT, not_null=True, sqlite=6),
        Column("reason", TEXT, not_null=True, sqlite=6),
        Column("signature", TEXT, not_null=True, sqlite=6),
        Column("received_at", TEXT, not_null=True, sqlite=6),
    ),
    key=("probe_id", "epoch", "seq"),
)
"""At a collector: the place, hash and signed reason of each record a probe holds in quarantine."""

NETWORK_CONTEXTS = Table(
    "network_contexts",
    (
        Column("id", SERIAL, sqlite=4),
        Column("probe_id", TEXT),  # a collector's PostgreSQL only; SQLite finds it through the run
        Column("run_id", TEXT, sqlite=4),
        Column("phase", TEXT, sqlite=4),
        Column("measured_at", TIME, sqlite=4),
        Column("network_state", TEXT, sqlite=4),
        Column("gateway", TEXT, sqlite=4),
        Column("gateway_answers", INTEGER, sqlite=4),
        Column("controls", TEXT, sqlite=4),
    ),
    key=("id",),
    indexes=(
        Index("network_contexts_run", ("run_id",), sqlite=4, postgres=1),
        Index("network_contexts_measured", ("measured_at",), sqlite=5, postgres=1),
    ),
)
"""A round's network controls, measured at its start and end (phase): state, gateway, each control as JSON."""

OUTAGE_WINDOWS = Table(
    "outage_windows",
    (
        Column("id", SERIAL, sqlite=5),
        Column("saved_at", TEXT, not_null=True, sqlite=5),
        Column("scope", TEXT, not_null=True, sqlite=5),
        Column("target", TEXT, not_null=True, sqlite=5),
        Column("kind", TEXT, not_null=True, sqlite=5),
        Column("blocking", TEXT, sqlite=5),
        Column("blocking_detail", TEXT, sqlite=5),
        Column("start_min", TEXT, sqlite=5),
        Column("start_max", TEXT, not_null=True, sqlite=5),
        Column("end_min", TEXT, sqlite=5),
        Column("end_max", TEXT, sqlite=5),
        Column("ongoing", INTEGER, not_null=True, sqlite=5),
        Column("last_bad", TEXT, not_null=True, sqlite=5),
        Column("measurements", INTEGER, not_null=True, sqlite=5),
        Column("failing", INTEGER, not_null=True, sqlite=5),
        Column("probes", INTEGER, not_null=True, sqlite=5),
        Column("probes_total", INTEGER, not_null=True, sqlite=5),
        Column("network", TEXT, sqlite=5),
        Column("region", TEXT, sqlite=5),
        Column("probe", TEXT, sqlite=5),
        Column("confidence", REAL, not_null=True, sqlite=5),
        Column("confidence_label", TEXT, not_null=True, sqlite=5),
        Column("severity", REAL, not_null=True, sqlite=5),
        Column("basis", TEXT, not_null=True, sqlite=5),
        Column("regional", INTEGER, sqlite=18, postgres=8),
        Column("area", TEXT, sqlite=18, postgres=8),
        Column("district", TEXT, sqlite=18, postgres=8),
        Column("network_type", TEXT, sqlite=18, postgres=8),
        Column("probe_ids", TEXT, sqlite=18, postgres=8),
        Column("provisional", INTEGER, sqlite=18, postgres=8),
    ),
    key=("id",),
    indexes=(Index("outage_windows_start", ("start_max",), sqlite=5, postgres=1),),
)
"""Windows saved by ``probe outages --save`` (for Datasette and other SQL readers). A collector's regional windows
(``--by district|area``, ``regional`` 1) keep their place (``region``: the country, ``area``, ``district``,
``network_type``: mobile, fixed, or "" for every type), the probes that saw them (``probe_ids``, a JSON list;
``probes`` their number) and whether they rest on silence (``provisional``); they count probes, not measurements
(``measurements`` and ``failing`` 0). ``probe.storage.outage_windows`` says how each kind is saved again."""

BATCH_ARRIVALS = Table(
    "batch_arrivals",
    (
        Column("id", SERIAL, sqlite=16, postgres=6),
        Column("probe_id", TEXT, not_null=True, sqlite=16, postgres=6),
        Column("received_at", TIME, not_null=True, sqlite=16, postgres=6),
        Column("created_at", TIME, sqlite=16, postgres=6),
        Column("first_at", TIME, sqlite=16, postgres=6),
        Column("last_at", TIME, sqlite=16, postgres=6),
        Column("rounds", INTEGER, not_null=True, sqlite=16, postgres=6),
        Column("measurements", INTEGER, not_null=True, sqlite=16, postgres=6),
        Column("upload_every", REAL, sqlite=16, postgres=6),
    ),
    key=("id",),
    indexes=(Index("batch_arrivals_probe", ("probe_id", "received_at"), sqlite=16, postgres=6),),
)
"""At a collector: one row per batch stored, written in the batch's transaction: when it was received, when the
probe made it (``created_at``), the span of the rounds and measurements it carried (``first_at`` .. ``last_at``,
their start times; NULL when it carried none), how many, and the upload interval it declared. Regional detection
(``probe.analysis.regional.sources``) reads what the collector knew at a moment, and a probe's silence, from it."""

COLLECTOR_SESSIONS = Table(
    "collector_sessions",
    (
        Column("id", TEXT, not_null=True, sqlite=19, postgres=9),
        Column("started_at", TIME, not_null=True, sqlite=19, postgres=9),
        Column("alive_at", TIME, not_null=True, sqlite=19, postgres=9),
        Column("stopped_at", TIME, sqlite=19, postgres=9),
    ),
    key=("id",),
)
"""At a collector: one row per time it served (``probe collector serve``; each worker of ``--workers``): when it
started listening, its latest heartbeat (every minute, ``probe.collector.sessions``) and when it stopped (NULL
after a crash: it listened until about its latest heartbeat). Regional detection (``probe.analysis.regional``,
``listening``) counts no probe's silence while it was not listening, nor while a probe may still back off after."""

MEASUREMENT_INDEXES = (
    Index(
        "measurements_blocked",
        ("verdict", "started_at", "probe_id", "run_id", "input"),
        sqlite=17,
        postgres=7,
        where="verdict = 'blocked'",
    ),
)
"""Indexes on ``measurements`` (its columns are declared in ``probe.storage.columns``; its older indexes in the
steps that made them). ``measurements_blocked``: the measurements judged ``blocked`` by period, with their
probe, run and input, read from the index alone; partial, so it holds the blocked ones only, costs nothing to
a measurement that is not, and is read by a query saying ``verdict = 'blocked'`` in those words (led by the
verdict, one value in it, so that SQLite's planner, without statistics, prefers it to ``measurements_verdict``).
Regional detection (``probe.analysis.regional.sources``) names each round's blocked targets from it."""

TABLES = (
    PROBES,
    RUNS,
    ROUNDS,
    CHAIN_HEADS,
    WITHHELD_RECORDS,
    NETWORK_CONTEXTS,
    OUTAGE_WINDOWS,
    BATCH_ARRIVALS,
    COLLECTOR_SESSIONS,
)
"""Every table declared here, in the order PostgreSQL's migrations made them."""


def apply_sqlite(conn: sqlite3.Connection, version: int) -> None:
    """What SQLite's migration ``version`` does to the tables declared here (inside the step's transaction)."""
    for table in TABLES:
        existing = [str(row[1]) for row in conn.execute(f"pragma table_info({table.name})")]
        for statement in sqlite_step(table, version, existing):
            conn.execute(statement)
    for statement in sqlite_indexes_on("measurements", MEASUREMENT_INDEXES, version):
        conn.execute(statement)


def postgres_script(version: int) -> str:
    """What PostgreSQL's migration ``version`` does to the tables declared here, as one script."""
    statements = [statement for table in TABLES for statement in postgres_step(table, version)]
    statements += postgres_indexes_on("measurements", MEASUREMENT_INDEXES, version)
    return "".join(f"{statement};\n" for statement in statements)
