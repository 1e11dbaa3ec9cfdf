"""How ``probe outages --by district|area`` prints regional windows (``probe.analysis.regional``): a table to
read, or json and csv rows carrying the place (``area``, ``district``, ``network_type``), the probes that saw it
(``probes``, ``probes_total``), whether it rests on silence (``provisional``), and the confidence with its basis."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from typing import Any

from probe.analysis.regional import RegionalWindow
from probe.analysis.times import between, iso
from probe.cli.output import table

FIELDS = (
    "kind",
    "scope",
    "country",
    "area",
    "district",
    "network_type",
    "start",
    "start_min",
    "start_max",
    "end",
    "end_min",
    "end_max",
    "ongoing",
    "probes",
    "probes_total",
    "provisional",
    "confidence",
    "basis",
    "probe",
    "target",
)
"""Column order of the csv and json outputs."""


def _row(window: RegionalWindow) -> dict[str, Any]:
    data = window.to_dict()
    return {name: data[name] for name in FIELDS}


def _between(low: float | None, high: float | None) -> str:
    return between(None if low is None else iso(low), None if high is None else iso(high))


def _place(window: RegionalWindow) -> str:
    place = "/".join(part for part in (window.country, window.area, window.district) if part)
    return f"{place} {window.probe[:8]}".strip() if window.probe else place


def regional_table(windows: Sequence[RegionalWindow]) -> str:
    if not windows:
        return "no regional windows"
    rows = [
        (
            window.kind + (" (provisional)" if window.provisional else ""),
            _place(window),
            window.network_type or "all",
            _between(window.start_min, window.start_max),
            _between(window.end_min, window.end_max),
            f"{len(window.probes)}/{window.probes_total}",
            f"{window.confidence:.2f}",
            window.basis,
        )
        for window in windows
    ]
    headers = ("kind", "where", "network", "start between", "end between", "probes", "confidence", "basis")
    return table(headers, rows)


def regional_json(windows: Sequence[RegionalWindow]) -> str:
    return json.dumps([_row(window) for window in windows], indent=2, ensure_ascii=False)


def regional_csv(windows: Sequence[RegionalWindow]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for window in windows:
        row = _row(window)
        row["probes"] = " ".join(row["probes"])
        writer.writerow(row)
    return out.getvalue()


REGIONAL_FORMATTERS: dict[str, Callable[[Sequence[RegionalWindow]], str]] = {
    "table": regional_table,
    "json": regional_json,
    "csv": regional_csv,
}
