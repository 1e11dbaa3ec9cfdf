"""``probe export --format csv|json|ooni-jsonl|parquet``: every format read back.

Parquet is read back with pyarrow, as DuckDB or ClickHouse would read it: one directory a day
(``day=YYYY-MM-DD``), Hive-style, with typed columns.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_outages import GULJAN, TWITTER, Series

from probe.cli.main import cli
from probe.errors import ProbeError
from probe.export import FORMATS, export, export_directory
from probe.storage import open_database
from probe.storage.columns import EXPORT_COLUMNS as COLUMNS


def two_days(path: Path | None = None) -> Series:
    """Rounds 140-147 (ten minutes apart) cross midnight: 23:20 on the 21st to 00:30 on the 22nd."""
    series = Series(open_database(path or ":memory:"))
    series.rounds({TWITTER: "oo dd oooo", GULJAN: "oooooooo"}, first=140)
    return series


def test_formats_are_the_four_of_the_issue_and_the_stop_rows() -> None:
    assert set(FORMATS) == {"ooni-jsonl", "csv", "json", "parquet", "stop", "stop-json"}


def test_csv_has_the_flat_columns_and_the_verdicts() -> None:
    series = two_days()
    out = io.StringIO()
    assert export(series.db, out, fmt="csv") == 16
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == COLUMNS
    blocked = [row for row in rows if row["verdict"] == "blocked"]
    assert [(row["input"], row["blocking"], row["failure"]) for row in blocked] == [
        (TWITTER, "dns", "dns_nxdomain_error")
    ] * 2
    assert "test_keys" not in rows[0]


def test_json_is_one_array_with_test_keys_as_objects() -> None:
    series = two_days()
    out = io.StringIO()
    assert export(series.db, out, fmt="json") == 16
    data = json.loads(out.getvalue())
    assert len(data) == 16 and data[0]["test_keys"] == {} and data[0]["annotations"] == {}
    assert data[0]["started_at"] <= data[-1]["started_at"]
    empty = io.StringIO()
    assert export(open_database(":memory:"), empty, fmt="json") == 0 and json.loads(empty.getvalue()) == []


def test_parquet_is_partitioned_by_day_and_reads_back(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is not installed (the parquet extra)")
    series = two_days()
    out = tmp_path / "out"
    assert export_directory(series.db, out) == 16
    assert sorted(path.relative_to(out).as_posix() for path in out.rglob("*.parquet")) == [
        "day=2026-11-21/part-0.parquet",
        "day=2026-11-22/part-0.parquet",
    ]
    first = pq.read_table(out / "day=2026-11-21" / "part-0.parquet")
    assert first.num_rows == 8  # rounds 140-143 before midnight, two targets each
    table = pq.read_table(out)  # the directory as one dataset, the day as a partition column
    assert table.num_rows == 16
    assert set(COLUMNS) | {"annotations", "test_keys", "day"} == set(table.column_names)
    assert str(table.schema.field("started_at").type) == "timestamp[us, tz=UTC]"
    rows = sorted(table.to_pylist(), key=lambda row: (row["started_at"], row["input"]))
    assert rows[0]["started_at"] == datetime(2026, 11, 21, 23, 20, 1, tzinfo=UTC)
    assert str(rows[0]["day"]) == "2026-11-21"
    blocked = [row for row in rows if row["verdict"] == "blocked"]
    assert [(row["input"], row["blocking_detail"], row["confirmed"]) for row in blocked] == [
        (TWITTER, "dns_nxdomain", False)
    ] * 2
    assert rows[0]["runtime"] == 1.0 and rows[0]["test_keys"] == "{}"


def test_parquet_refuses_a_directory_that_holds_something(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow", reason="pyarrow is not installed (the parquet extra)")
    (tmp_path / "old.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ProbeError, match="new or empty directory"):
        export_directory(two_days().db, tmp_path)


def test_export_command_writes_every_format(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow", reason="pyarrow is not installed (the parquet extra)")
    path = tmp_path / "probe.db"
    two_days(path).db.close()
    runner = CliRunner()
    for fmt, out in (("csv", "m.csv"), ("json", "m.json"), ("parquet", "parquet")):
        result = runner.invoke(cli, ["export", "--db", str(path), "--format", fmt, "--out", str(tmp_path / out)])
        assert result.exit_code == 0, result.output
        assert "16 measurements written" in result.output
    assert len(list(csv.DictReader((tmp_path / "m.csv").open(encoding="utf-8")))) == 16
    assert len(json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))) == 16
    assert len(list((tmp_path / "parquet").iterdir())) == 2
    stdout = runner.invoke(cli, ["export", "--db", str(path), "--format", "csv"])
    assert stdout.exit_code == 0 and stdout.output.startswith("id,probe_id,run_id,")
    missing = runner.invoke(cli, ["export", "--db", str(path), "--format", "parquet"])
    assert isinstance(missing.exception, ProbeError) and "--out DIR" in str(missing.exception)
