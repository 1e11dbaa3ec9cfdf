"""Exports of stored measurements, for OONI's tools, spreadsheets, and databases that outgrow SQLite.

    ooni-jsonl   one OONI data-format 0.2.0 measurement a line (``ooni``)
    csv          one measurement a row: the flat columns, verdicts included, without test keys (``tabular``)
    json         one JSON array of measurements: the flat columns, test keys and annotations (``tabular``)
    parquet      a directory partitioned by day, ``day=YYYY-MM-DD/part-0.parquet``, with every column
                 (test keys as JSON text), for DuckDB, ClickHouse or Spark (``parquet``; needs pyarrow)
    stop         not measurements: a collector's shutdown windows, one row per event in Access Now's STOP
                 dataset's columns, then the evidence, CSV (``stop``) or JSON (``stop-json``)

``export`` writes the text formats to a stream; ``export_directory`` writes parquet to a directory. What each
reads is the format's (``ExportFormat.reads``), narrowed by a ``Selection`` of the filters it takes.
SMS nonces and message references (``sms_messages``, ``sms_events``) are never exported.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from probe.errors import ProbeError
from probe.export import ooni, parquet, stop, tabular
from probe.export.format import ExportFormat, Rows, Selection

if TYPE_CHECKING:
    from probe.storage.store import AnyDatabase

FORMATS: dict[str, ExportFormat] = {
    fmt.name: fmt
    for fmt in (
        ooni.FORMAT,
        tabular.CSV,
        tabular.JSON,
        parquet.FORMAT,
        stop.CSV,
        stop.JSON,
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


def check(fmt: str, selection: Selection) -> ExportFormat:
    """Format ``fmt``, if it takes every filter ``selection`` gives; ``ProbeError`` naming those it does not."""
    found = _format(fmt)
    refused = [name for name in selection.given() if name not in found.filters]
    if refused:
        takes = ", ".join(found.filters) or "no filter"
        raise ProbeError(f"--format {found.name} does not take {', '.join(refused)} (it takes {takes})")
    return found


def _rows(db: AnyDatabase, found: ExportFormat, run_id: str | None, selection: Selection | None) -> Rows:
    chosen = Selection(run_id=run_id) if selection is None else selection
    if selection is not None and run_id is not None:
        chosen = replace(selection, run_id=run_id)
    check(found.name, chosen)
    return found.reads(db, chosen)


def export(
    db: AnyDatabase,
    out: TextIO,
    *,
    fmt: str = "ooni-jsonl",
    run_id: str | None = None,
    selection: Selection | None = None,
) -> int:
    """Write what the format reads (measurements of one run or all, by default) to ``out``; return how many."""
    found = _format(fmt)
    if found.to_stream is None:
        raise ProbeError(f"{fmt} is written to a directory: give --out DIR")
    return found.to_stream(_rows(db, found, run_id, selection), out)


def export_directory(
    db: AnyDatabase,
    path: Path,
    *,
    fmt: str = "parquet",
    run_id: str | None = None,
    selection: Selection | None = None,
) -> int:
    """Write what the format reads (measurements of one run or all) as a dataset under ``path``; return how many."""
    found = FORMATS.get(fmt)
    if found is None or found.to_directory is None:
        known = ", ".join(name for name in FORMATS if writes_directory(name))
        raise ProbeError(f"{fmt} is not written to a directory; known: {known}")
    return found.to_directory(_rows(db, found, run_id, selection), path)


__all__ = ["FORMATS", "ExportFormat", "Selection", "check", "export", "export_directory", "writes_directory"]
