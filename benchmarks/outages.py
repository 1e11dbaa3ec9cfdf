"""How fast are outage windows found in a collector's year of data?

Generates, inside SQLite (recursive CTEs, no Python loop per row), a collector's database: P probes
in P/10 networks (ASNs) of two regions, each measuring T targets every E seconds for D days (the
defaults: 100 probes × 365 days × 20 targets, every 6,307 s: 10 million measurements), with their
runs and heartbeat rounds, as a collector holds them after ``probe verdict`` judged the web
measurements (no network contexts: collectors do not receive them). In it:

- targeted blocks: two targets per network blocked by DNS for three days each, 5% of rounds
  flapping back to accessible;
- shutdowns: two six-hour shutdowns per network (every target fails, the control is unreachable:
  inconclusive);
- noise: 0.5% of measurements fail on their own (inconclusive), which must open nothing.

Then times ``find_outages`` for one target over a month, for all networks over a year (the
whole-network windows of every ASN) and, for scale, every window of a month and every window of
one network over the year. No ``ANALYZE``: the queries must not depend on SQLite statistics. The database is
kept (``--db``) and reused when it holds the same parameters.

With ``--store sqlite,postgres`` (the default) the same rows are copied into PostgreSQL (a private cluster on a
unix socket, made and removed, or ``--pg URI``): runs, rounds and measurements into the collector schema and its
month partitions (chain columns filled with placeholders, the chain ledger left empty: only the outage queries
are timed), then ``VACUUM ANALYZE`` as autovacuum would do, and every query is timed on both, side by side, with
a check that both found the same windows. Each query runs ``--repeat`` times on each store, in turn, and the best
time is printed (the machine may be shared). Not a test: run it by hand.

    .venv/bin/python benchmarks/outages.py [--probes 100] [--days 365] [--targets 20] [--every 6307]
                                           [--db /tmp/outages-bench.db] [--fresh] [--store sqlite,postgres] [--pg URI]
                                           [--repeat 3]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from probe.analysis import OutageQuery, find_outages
from probe.analysis.times import iso
from probe.storage import open_database
from probe.storage.connection import Connection
from probe.storage.postgres.database import PgDatabase, month_of, open_postgres

BASE = 1_767_225_600  # 2026-01-01T00:00:00Z
SHUTDOWN_SECONDS = 6 * 3600
BLOCK_DAYS = 3


def _statuses(every: int, targets: int) -> dict[str, str]:
    """SQL expressions over (p, t, n): probe, target, round number; a = the probe's network."""
    since = f"(n * {every})"
    shutdown = " or ".join(
        f"({since} - ((a * 37 + {k * 150 + 20}) % 360) * 86400 - 36000) between 0 and {SHUTDOWN_SECONDS}"
        for k in (0, 1)
    )
    blocked = " or ".join(
        f"(t = (a + {shift}) % {targets} and {since} / 86400 - ((a * 31 + {start}) % 350) "
        f"between 0 and {BLOCK_DAYS - 1} and (n * 7 + p * 13 + t) % 20 != 0)"
        for shift, start in ((0, 5), (7, 100))
    )
    noise = "((n * 2654435761 + p * 40503 + t * 977) % 1000) < 5"
    return {"shutdown": f"({shutdown})", "blocked": f"({blocked})", "noise": f"({noise})"}


def generate(path: Path, probes: int, days: int, targets: int, every: int) -> int:
    rounds = days * 86400 // every
    db = open_database(path)  # the schema and every migration, indexes included
    db.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript("pragma journal_mode = off; pragma synchronous = off; pragma cache_size = -1000000;")
    indexes = conn.execute(
        "select name, sql from sqlite_master where type = 'index' and tbl_name in ('measurements', 'runs', 'rounds') "
        "and sql is not null"
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f"drop index {name}")
    status = _statuses(every, targets)
    conn.executescript(
        f"""
        begin;
        create temp table g_probe as
            with recursive c(p) as (select 0 union all select p + 1 from c where p < {probes - 1})
            select p, p / 10 as a, printf('%032x', p + 1) as probe_id, 'AS' || (9198 + p / 10) as asn,
                   case when p / 10 % 3 = 2 then 'KG' else 'KZ' end as cc from c;
        create temp table g_target as
            with recursive c(t) as (select 0 union all select t + 1 from c where t < {targets - 1})
            select t, 'https://site' || t || '.kz/' as input from c;
        create temp table g_round as
            with recursive c(n) as (select 0 union all select n + 1 from c where n < {rounds - 1}) select n from c;
        create temp table g_pn as
            select p, a, n, probe_id, asn, cc, printf('r%03d-%06d', p, n) as run_id,
                   {BASE} + n * {every} + p * 37 as ts, {status["shutdown"]} as down
            from g_round, g_probe;
        insert into measurements (id, run_id, experiment, input, started_at, test_start_time, runtime, failure,
            failed_step, verdict, blocking, blocking_detail, confirmed, probe_asn, probe_cc, probe_id, test_name,
            test_version, report_id, software_name, software_version, annotations, test_keys)
        select printf('m%010d', (n * {probes} + p) * {targets} + t), run_id, 'web', input,
               strftime('%Y-%m-%dT%H:%M:%S', ts + t * 3, 'unixepoch') || '.000000Z',
               strftime('%Y-%m-%dT%H:%M:%S', ts, 'unixepoch') || '.000000Z', 1.5,
               case when down then 'generic_timeout_error' when {status["blocked"]} then 'dns_nxdomain_error'
                    when {status["noise"]} then 'generic_timeout_error' end,
               case when down then 'dns' when {status["blocked"]} then 'dns' when {status["noise"]} then 'tcp' end,
               case when down then 'inconclusive' when {status["blocked"]} then 'blocked'
                    when {status["noise"]} then 'inconclusive' else 'accessible' end,
               case when not down and {status["blocked"]} then 'dns' end,
               case when not down and {status["blocked"]} then 'dns_nxdomain' end,
               0, asn, cc, probe_id, 'web_connectivity', '0.1.0', run_id, 'zhanaozen-probe', '0.1.0', '{{}}', '{{}}'
        from g_pn, g_target;
        insert into runs (id, started_at, finished_at, status, experiment, test_list, probe_asn, probe_cc,
            software_version, measurements, probe_id)
        select run_id, strftime('%Y-%m-%dT%H:%M:%S', ts, 'unixepoch') || '.000000Z',
               strftime('%Y-%m-%dT%H:%M:%S', ts + 90, 'unixepoch') || '.000000Z', 'finished', 'web', 'list.csv',
               asn, cc, '0.1.0', {targets}, probe_id
        from g_pn;
        insert into rounds (id, probe_id, group_name, experiment, run_id, started_at, finished_at, status, targets,
            measured, failed, reached, probe_errors)
        select 'h' || run_id, probe_id, 'web', 'web', run_id,
               strftime('%Y-%m-%dT%H:%M:%S', ts, 'unixepoch') || '.000000Z',
               strftime('%Y-%m-%dT%H:%M:%S', ts + 90, 'unixepoch') || '.000000Z', 'finished', {targets}, {targets},
               {targets} - ok, ok, 0
        from (select g_pn.*, case when down then 0 else
                (select count(*) from g_target where not {status["blocked"]} and not {status["noise"]}) end as ok
              from g_pn);
        commit;
        """
    )
    for _, sql in indexes:
        conn.execute(sql)
    # No ANALYZE: a collector's database has no statistics either, and the queries must not need them.
    conn.execute("create table bench_parameters (key text primary key, value text)")
    params = {"probes": probes, "days": days, "targets": targets, "every": every}
    conn.executemany("insert into bench_parameters values (?, ?)", [(k, str(v)) for k, v in params.items()])
    count = int(conn.execute("select count(*) from measurements").fetchone()[0])
    conn.close()
    return count


def reusable(path: Path, probes: int, days: int, targets: int, every: int) -> bool:
    if not path.exists():
        return False
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        stored = dict(conn.execute("select key, value from bench_parameters").fetchall())
        conn.close()
    except sqlite3.Error:
        return False
    return stored == {"probes": str(probes), "days": str(days), "targets": str(targets), "every": str(every)}


def load_postgres(path: Path, url: str) -> PgDatabase:
    """The SQLite dataset's runs, rounds and measurements copied into a PostgreSQL collector schema."""
    db = open_postgres(url)
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn = db.conn
    started = time.perf_counter()
    months = {month_of(row[0]) for row in source.execute("select distinct substr(started_at, 1, 7) from runs")}
    with conn.transaction():
        db.ensure_partitions({month for month in months if month})
    for table, extra in (("runs", {}), ("rounds", {}), ("measurements", {"chain_prev": "", "chain_hash": ""})):
        pg_columns = [row[0] for row in conn.execute(
            "select column_name from information_schema.columns where table_schema = current_schema() "
            "and table_name = ? order by ordinal_position", (table,))]  # fmt: skip
        present = {row[1] for row in source.execute(f"pragma table_info({table})")}
        columns = [name for name in pg_columns if name in present or name in extra or name == "chain_seq"]
        select = ", ".join(
            "rowid"
            if name == "chain_seq" and table == "measurements"
            else f"'{extra[name]}'"
            if name in extra
            else name
            for name in columns
        )
        with conn.transaction(), conn.raw.cursor() as cursor:
            with cursor.copy(f"copy {table} ({', '.join(columns)}) from stdin") as copy:
                for row in source.execute(f"select {select} from {table}"):
                    copy.write_row(row)
    source.close()
    conn.execute("vacuum analyze")
    print(f"copied into PostgreSQL in {time.perf_counter() - started:.0f} s")
    return db


@contextmanager
def postgres(url: str | None) -> Iterator[str]:
    """``url``, or a fresh database on a private, durable cluster (tests/support/pgcluster.py)."""
    if url is not None:
        yield url
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from support.pgcluster import private_cluster

    with private_cluster({"shared_buffers": "512MB", "work_mem": "64MB"}) as cluster:
        yield cluster.new_database()


def timed(conn: Connection, query: OutageQuery) -> tuple[float, list[Any]]:
    started = time.perf_counter()
    windows = find_outages(conn, query)
    return time.perf_counter() - started, windows


def describe(windows: list[Any]) -> str:
    kinds = Counter(window.kind for window in windows)
    return ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items())) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--every", type=int, default=6307, help="seconds between a probe's rounds")
    parser.add_argument("--db", type=Path, default=Path("/tmp/outages-bench.db"))
    parser.add_argument("--fresh", action="store_true", help="generate the database again even if reusable")
    parser.add_argument("--store", default="sqlite,postgres", help="stores to compare: sqlite, postgres or both")
    parser.add_argument("--pg", help="an empty PostgreSQL database to load (default: a private cluster)")
    parser.add_argument("--repeat", type=int, default=3, help="times each query is run on each store (the best)")
    args = parser.parse_args()
    if args.fresh or not reusable(args.db, args.probes, args.days, args.targets, args.every):
        for suffix in ("", "-wal", "-shm", ".lock"):
            Path(f"{args.db}{suffix}").unlink(missing_ok=True)
        started = time.perf_counter()
        count = generate(args.db, args.probes, args.days, args.targets, args.every)
        print(f"generated {count:,} measurements in {time.perf_counter() - started:.0f} s ({args.db})")
    sqlite_db = open_database(args.db)
    count = int(sqlite_db.conn.execute("select count(*) from rounds").fetchone()[0])
    print(f"{count:,} rounds of {args.probes} probes; {args.db.stat().st_size / 1e9:.1f} GB")
    stores = args.store.split(",")
    start = min(120, max(0, args.days - 30))
    month = (iso(BASE + start * 86400), iso(BASE + (start + 30) * 86400))
    year = (iso(BASE), iso(BASE + args.days * 86400))
    # site4 is blocked in AS9202 on days 129-131 (with 100 probes), inside the month.
    network = "AS9202" if args.probes > 40 else "AS9198"
    queries = [
        ("one target, one month (goal < 1 s)", OutageQuery(*month, target="https://site4.kz/")),
        ("all networks, one year (goal < 10 s)", OutageQuery(*year, target="network")),
        ("every target and network, one month", OutageQuery(*month)),
        (f"every target of one network ({network}), one year", OutageQuery(*year, network=network)),
    ]
    with postgres(args.pg) if "postgres" in stores else nullcontext(None) as url:
        pg_db = load_postgres(args.db, url) if url is not None else None
        rows = []
        for label, query in queries:
            row = [label]
            found = []
            best: dict[int, float] = {}
            for _ in range(args.repeat):  # the stores in turn, so that a busy moment of the machine hits both
                for index, db in enumerate((sqlite_db if "sqlite" in stores else None, pg_db)):
                    if db is not None:
                        seconds, windows = timed(db.conn, query)
                        best[index] = min(best.get(index, seconds), seconds)
                        if len(found) < len(best):
                            found.append([window.to_dict() for window in windows])
            row.extend(f"{best[index]:.2f}" if index in best else "-" for index in (0, 1))

            row.append(describe(windows))
            row.append("yes" if len(found) < 2 or found[0] == found[1] else "NO")
            rows.append(row)
            print(" | ".join(row), flush=True)
        if pg_db is not None:
            pg_db.close()
    sqlite_db.close()
    headers = ["query", "SQLite s", "PostgreSQL s", "windows", "same windows"]
    print()
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("---" for _ in headers) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
