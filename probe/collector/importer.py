"""Importing a bundle file into the collector's database, batch by batch, through ``ingest``.

Each line is checked and stored like an uploaded batch, so importing a bundle twice, or one
that overlaps what probes uploaded, stores every measurement once. A refused line is reported
with its number and reason; the other lines are still imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from probe.collector.ingest import IngestError, ingest, parse_batch
from probe.upload.bundle import MAX_LINE_BYTES, is_end_line, read_bundle

if TYPE_CHECKING:
    from probe.storage.store import AnyDatabase


@dataclass
class ImportReport:
    batches: int = 0
    stored: int = 0
    duplicates: int = 0
    refused: list[str] = field(default_factory=list)

    def describe(self) -> str:
        text = f"{self.batches} batches imported: {self.stored} measurements stored, {self.duplicates} already there"
        if self.refused:
            text += f"; {len(self.refused)} refused:\n" + "\n".join(f"  {line}" for line in self.refused)
        return text


def import_bundle(db: AnyDatabase, path: Path) -> ImportReport:
    report = ImportReport()
    for number, line in read_bundle(path):
        if line is None:
            report.refused.append(f"line {number}: longer than {MAX_LINE_BYTES} bytes")
            continue
        if is_end_line(line):
            continue  # the bundle's signed end, for `probe verify`: no batch
        try:
            result = ingest(db, parse_batch(line))
        except IngestError as exc:
            report.refused.append(f"line {number}: {exc}")
            continue
        report.batches += 1
        report.stored += result.stored
        report.duplicates += result.duplicates
    return report
