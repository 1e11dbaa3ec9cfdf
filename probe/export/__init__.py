"""Exports of stored measurements, for OONI's tools, spreadsheets, and databases that outgrow SQLite.

    ooni-jsonl   one OONI data-format 0.2.0 measurement a line (``ooni``)
    csv          one measurement a row: the flat columns, verdicts included, without test keys (``tabular``)
    json         one JSON array of measurements: the flat columns, test keys and annotations (``tabular``)
    parquet      a directory partitioned by day, ``day=YYYY-MM-DD/part-0.parquet``, with every column
                 (test keys as JSON text), for DuckDB, ClickHouse or Spark (``parquet``; needs pyarrow)

``export`` writes the text formats to a stream; ``export_directory`` writes parquet to a directory.
SMS nonces and message references (``sms_messages``, ``sms_events``) are never exported.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from probe.errors import ProbeError
from probe.export.ooni import write_ooni_jsonl
from probe.export.tabular import write_csv, write_json

if TYPE_CHECKING:
    from probe.storage.store import AnyDatabase

TEXT_FORMATS = {"ooni-jsonl": write_ooni_jsonl, "csv": write_csv, "json": write_json}
DIRECTORY_FORMATS = ("parquet",)
FORMATS = (*TEXT_FORMATS, *DIRECTORY_FORMATS)


def export(db: AnyDatabase, out: TextIO, *, fmt: str = "ooni-jsonl", run_id: str | None = None) -> int:
    """Write the measurements (of one run, or all) to ``out`` in a text format; return how many."""
    if fmt in DIRECTORY_FORMATS:
        raise ProbeError(f"{fmt} is written to a directory: give --out DIR")
    writer = TEXT_FORMATS.get(fmt)
    if writer is None:
        raise ProbeError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")
    return writer(db.measurement_rows(run_id), out)


def export_directory(db: AnyDatabase, path: Path, *, fmt: str = "parquet", run_id: str | None = None) -> int:
    """Write the measurements (of one run, or all) as a dataset under ``path``; return how many."""
    if fmt not in DIRECTORY_FORMATS:
        raise ProbeError(f"{fmt} is not written to a directory; known: {', '.join(DIRECTORY_FORMATS)}")
    from probe.export.parquet import write_parquet

    return write_parquet(db.measurement_rows(run_id), path)


__all__ = ["DIRECTORY_FORMATS", "FORMATS", "export", "export_directory"]
