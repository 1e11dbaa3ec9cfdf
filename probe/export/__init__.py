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
from probe.export import ooni, parquet, tabular
from probe.export.format import ExportFormat

if TYPE_CHECKING:
    from probe.storage.store import AnyDatabase

FORMATS: dict[str, ExportFormat] = {
    fmt.name: fmt
    for fmt in (
        ooni.FORMAT,
        tabular.CSV,
        tabular.JSON,
        parquet.FORMAT,
    )
}
"""Every export format, by name: adding one is its module (with its ``ExportFormat``) and one line here."""


def writes_directory(fmt: str) -> bool:
    """Whether format ``fmt`` writes a directory (a dataset) rather than a stream."""
    found = FORMATS.get(fmt)
    return found is not None and found.to_directory is not None


def _format(fmt: str) -> ExportFormat:
    found = FORMATS.get(fmt)
    if found is None:
        raise ProbeError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")
    return found


def export(db: AnyDatabase, out: TextIO, *, fmt: str = "ooni-jsonl", run_id: str | None = None) -> int:
    """Write the measurements (of one run, or all) to ``out`` in a text format; return how many."""
    writer = _format(fmt).to_stream
    if writer is None:
        raise ProbeError(f"{fmt} is written to a directory: give --out DIR")
    return writer(db.measurement_rows(run_id), out)


def export_directory(db: AnyDatabase, path: Path, *, fmt: str = "parquet", run_id: str | None = None) -> int:
    """Write the measurements (of one run, or all) as a dataset under ``path``; return how many."""
    found = FORMATS.get(fmt)
    writer = found.to_directory if found is not None else None
    if writer is None:
        known = ", ".join(name for name in FORMATS if writes_directory(name))
        raise ProbeError(f"{fmt} is not written to a directory; known: {known}")
    return writer(db.measurement_rows(run_id), path)


__all__ = ["FORMATS", "ExportFormat", "export", "export_directory", "writes_directory"]
