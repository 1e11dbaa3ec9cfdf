"""Exports of stored measurements. ``ooni-jsonl``: one OONI data-format measurement a line."""

from __future__ import annotations

import json
from typing import TextIO

from probe.errors import ProbeError
from probe.storage import Database
from probe.storage.db import row_to_measurement

FORMATS = ("ooni-jsonl",)


def export(db: Database, out: TextIO, *, fmt: str = "ooni-jsonl", run_id: str | None = None) -> int:
    """Write the measurements (of one run, or all) to ``out``; return how many."""
    if fmt not in FORMATS:
        raise ProbeError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")
    count = 0
    for row in db.measurement_rows(run_id):
        out.write(json.dumps(row_to_measurement(row).to_ooni(), ensure_ascii=False, sort_keys=True))
        out.write("\n")
        count += 1
    return count
