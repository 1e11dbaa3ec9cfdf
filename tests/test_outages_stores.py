# ruff: noqa: F811  (pytest fixtures imported from other test modules are parameters here)
"""Both stores hold the same measurement columns and find the same outage windows in the same rows.

The rows are a small year of ``benchmarks/outages.py``'s generator (its DNS blocks, shutdowns and random
failures), copied into PostgreSQL as the benchmark copies them; every query the benchmark times, and the
groupings it does not, must give the same windows on both. PostgreSQL streams the rows the analysis reads: a
stream stopped early leaves its connection usable.
"""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from support.pgcluster import pg_cluster, pg_url  # noqa: F401  (fixtures)

from probe.analysis import OutageQuery, find_outages
from probe.analysis.sources import Span, input_query
from probe.analysis.times import iso
from probe.errors import StorageError
from probe.storage import open_database
from probe.storage.columns import MEASUREMENT_COLUMNS
from probe.storage.connection import rows
from probe.storage.postgres.database import open_postgres

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "outages.py"


def benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("outages_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_sqlite_and_postgres_measurements_have_the_same_columns(tmp_path: Path, pg_url) -> None:  # type: ignore[no-untyped-def]
    open_database(tmp_path / "collector.db").close()
    lite = [row[1] for row in sqlite3.connect(tmp_path / "collector.db").execute("pragma table_info(measurements)")]
    pg = open_postgres(pg_url)
    names = pg.conn.execute(
        "select column_name from information_schema.columns where table_schema = current_schema() "
        "and table_name = 'measurements'"
    ).fetchall()
    pg.close()
    assert lite == list(MEASUREMENT_COLUMNS)
    assert sorted(name for (name,) in names) == sorted(lite)


def test_every_outage_query_finds_the_same_windows_on_sqlite_and_postgres(tmp_path: Path, pg_url) -> None:  # type: ignore[no-untyped-def]
    bench = benchmark()
    path = tmp_path / "year.db"
    # 20 probes in 2 networks, 4 targets, hourly for 40 days: in AS9198 a DNS block of site0 on days 5 to 7
    # and a shutdown on day 20, in AS9199 a block of site1 on days 36 to 38; 0.5% random failures.
    count = bench.generate(path, 20, 40, 4, 3600)
    assert count == 20 * 40 * 24 * 4
    pg = bench.load_postgres(path, pg_url)
    lite = open_database(path)
    month = (iso(bench.BASE + 2 * 86400), iso(bench.BASE + 32 * 86400))
    whole = (iso(bench.BASE), iso(bench.BASE + 40 * 86400))
    queries = [
        OutageQuery(*month, target="https://site0.kz/"),
        OutageQuery(*whole, target="network"),
        OutageQuery(*month),
        OutageQuery(*whole, network="AS9199"),
        OutageQuery(*whole, by="probe"),
        OutageQuery(*whole, by="region"),
        OutageQuery(None, None, target="site1.kz"),
    ]
    kinds = set()
    try:
        for query in queries:
            on_sqlite = [window.to_dict() for window in find_outages(lite.conn, query)]
            on_postgres = [window.to_dict() for window in find_outages(pg.conn, query)]
            assert on_postgres == on_sqlite, query
            assert on_sqlite, query  # every query finds something: equality of two empty lists proves nothing
            kinds |= {window["kind"] for window in on_sqlite}
    finally:
        pg.close()
        lite.close()
    assert kinds == {"targeted_block", "network_shutdown"}


def _scans(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "Relation Name" in plan:
        yield plan
    for child in plan.get("Plans", []):
        yield from _scans(child)


def test_one_network_targets_are_read_on_postgres_from_the_network_index_alone(tmp_path: Path, pg_url) -> None:  # type: ignore[no-untyped-def]
    bench = benchmark()
    path = tmp_path / "year.db"
    bench.generate(path, 20, 70, 4, 3600)  # two networks, three month partitions
    pg = bench.load_postgres(path, pg_url)
    try:
        network_index = {
            name
            for (name,) in pg.conn.execute(
                "select inhrelid::regclass::text from pg_inherits where inhparent = 'measurements_network'::regclass"
            ).fetchall()
        }
        sql, params = input_query(Span(iso(bench.BASE), iso(bench.BASE + 70 * 86400)), network="AS9199")
        ((plan,),) = pg.conn.execute(f"explain (format json) {sql}", ["https://site1.kz/", *params]).fetchall()
        scans = [scan for scan in _scans(plan[0]["Plan"]) if scan["Relation Name"] != "measurements_other"]
    finally:
        pg.close()
    assert len(scans) == 3, scans  # January to March
    for scan in scans:
        assert scan["Node Type"] == "Index Only Scan", scan
        assert scan["Index Name"] in network_index, scan
        assert "Filter" not in scan, scan  # one range of the index: no entry read only to be dropped


def test_a_stream_left_half_read_leaves_the_connection_usable_and_errors_are_storage_errors(pg_url) -> None:  # type: ignore[no-untyped-def]
    pg = open_postgres(pg_url)
    try:
        numbers = pg.conn.stream("select generate_series(1, 20000)")
        assert next(numbers) == (1,)
        numbers.close()  # as when the reader stops early (an error in the analysis)
        assert pg.conn.one("select 41 + 1") == (42,)
        assert sum(1 for _ in rows(pg.conn, "select generate_series(1, ?)", [12345])) == 12345
        with pytest.raises(StorageError, match="division by zero"):
            list(pg.conn.stream("select 1 / (3 - n) from generate_series(1, 5) n"))
        assert pg.conn.one("select 1") == (1,)
    finally:
        pg.close()
