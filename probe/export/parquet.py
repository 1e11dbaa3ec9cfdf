"""``parquet``: a dataset partitioned by day, for collectors that outgrow SQLite.

    OUT/day=2026-11-21/part-0.parquet
    OUT/day=2026-11-22/part-0.parquet

Hive-style partitions, one file a day, written as the rows stream by (ordered by time, a row
group every ``ROW_GROUP`` rows), so a year of a collector never sits in memory. Every column of
``probe.storage.columns.EXPORT_COLUMNS``, plus ``annotations`` and ``test_keys`` as JSON text; ``started_at`` is a UTC
timestamp in microseconds. Read it with DuckDB (``read_parquet('OUT/*/*.parquet',
hive_partitioning = true)``), ClickHouse (``file('OUT/*/*.parquet', Parquet)``) or pyarrow.
The directory must be new or empty: a second export never mixes with the first.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from probe.errors import ProbeError
from probe.export.format import ExportFormat
from probe.storage.columns import EXPORT_COLUMNS
from probe.storage.private import DIR_MODE, FILE_MODE, private_dir

ROW_GROUP = 50_000
PART = "part-0.parquet"
_INTEGERS = {"chain_seq"}
_FLOATS = {"runtime"}
_BOOLEANS = {"confirmed"}


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ProbeError(
            "parquet export needs pyarrow: pip install 'zhanaozen-probe[parquet]' (or pip install pyarrow)"
        ) from None
    return pyarrow


def _schema(pa: Any) -> Any:
    fields = []
    for column in (*EXPORT_COLUMNS, "annotations", "test_keys"):
        if column == "started_at":
            kind = pa.timestamp("us", tz="UTC")
        elif column in _INTEGERS:
            kind = pa.int64()
        elif column in _FLOATS:
            kind = pa.float64()
        elif column in _BOOLEANS:
            kind = pa.bool_()
        else:
            kind = pa.string()
        fields.append(pa.field(column, kind))
    return pa.schema(fields)


def _value(column: str, value: Any) -> Any:
    if value is None:
        return None
    if column == "started_at":
        return datetime.fromisoformat(value).astimezone(UTC)
    if column in _BOOLEANS:
        return bool(value)
    return value


def _prepare(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ProbeError(f"{path}: parquet export needs a new or empty directory")
    try:
        private_dir(path)
    except OSError as exc:
        raise ProbeError(f"cannot create {path}: {exc.strerror or exc}") from None


class _Days:
    """One writer at a time: rows arrive in time order, so a day is complete when the next begins."""

    def __init__(self, pa: Any, root: Path) -> None:
        self.pa = pa
        self.schema = _schema(pa)
        self.root = root
        self.day: str | None = None
        self.writer: Any = None
        self.columns: dict[str, list[Any]] = {name: [] for name in self.schema.names}
        self.rows = 0

    def add(self, row: dict[str, Any]) -> None:
        day = str(row["started_at"])[:10]
        if day != self.day:
            self.close()
            self.day = day
            directory = self.root / f"day={day}"
            directory.mkdir(mode=DIR_MODE)
            os.chmod(directory, DIR_MODE)
            self.writer = self.pa.parquet.ParquetWriter(str(directory / PART), self.schema, compression="zstd")
        for name, values in self.columns.items():
            values.append(_value(name, row.get(name)))
        self.rows += 1
        if self.rows >= ROW_GROUP:
            self.flush()

    def flush(self) -> None:
        if self.rows and self.writer is not None:
            table = self.pa.table(self.columns, schema=self.schema)
            self.writer.write_table(table, row_group_size=ROW_GROUP)
            for values in self.columns.values():
                values.clear()
            self.rows = 0

    def close(self) -> None:
        self.flush()
        if self.writer is not None:
            self.writer.close()
            self.writer = None
            os.chmod(self.root / f"day={self.day}" / PART, FILE_MODE)


def write_parquet(rows: Iterable[dict[str, Any]], path: Path) -> int:
    pa = _pyarrow()
    _prepare(path)
    days = _Days(pa, path)
    count = 0
    try:
        for row in rows:
            days.add(row)
            count += 1
    except OSError as exc:
        raise ProbeError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        days.close()
    return count


FORMAT = ExportFormat(
    "parquet", "a directory, one Parquet file a day (needs pyarrow: the parquet extra)", to_directory=write_parquet
)
