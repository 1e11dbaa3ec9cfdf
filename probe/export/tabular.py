"""``csv`` and ``json``: the measurements' own columns, as analysts open them.

``csv`` keeps one row per measurement and leaves the test keys out (a web measurement's keys are
kilobytes of JSON: use ``json``, ``parquet`` or ``ooni-jsonl`` for them). ``json`` is one array,
written one measurement at a time, with ``test_keys`` and ``annotations`` as objects.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import Any, TextIO

from probe.export.format import ExportFormat
from probe.storage.columns import EXPORT_COLUMNS


def flat(row: dict[str, Any]) -> dict[str, Any]:
    return {column: row.get(column) for column in EXPORT_COLUMNS}


def write_csv(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(flat(row))
        count += 1
    return count


def _object(text: str | None) -> Any:
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return text


def write_json(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    out.write("[")
    count = 0
    for row in rows:
        item = {**flat(row), "annotations": _object(row.get("annotations")), "test_keys": _object(row.get("test_keys"))}
        out.write(",\n" if count else "\n")
        out.write(json.dumps(item, ensure_ascii=False, sort_keys=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


CSV = ExportFormat(
    "csv", "one measurement a row: the flat columns, verdicts included, no test keys", to_stream=write_csv
)
JSON = ExportFormat("json", "one JSON array: the flat columns, test keys and annotations", to_stream=write_json)
