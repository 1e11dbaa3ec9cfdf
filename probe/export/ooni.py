"""``ooni-jsonl``: one OONI data-format 0.2.0 measurement a line (loads with ``oonidata``).

A judged web measurement carries OONI's ``test_keys.blocking`` and ``accessible`` from its verdict, a
blocking method only for ``blocked`` (``probe.verdict.reasons.ooni_blocking``), and the verdict itself
under ``test_keys.x_verdict`` (verdict, mechanism, suspected method, rule id, rules version, reason).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

from probe.export.format import ExportFormat
from probe.storage.db import row_to_measurement
from probe.verdict.engine import WEB_TEST_NAME
from probe.verdict.reasons import ooni_accessible, ooni_blocking

_X_VERDICT = ("verdict", "blocking_detail", "confirmed", "suspected", "rule", "rules_version", "reason")


def ooni_measurement(row: dict[str, Any]) -> dict[str, Any]:
    """One stored measurement as OONI's JSON, with its verdict in OONI's words."""
    data = row_to_measurement(row).to_ooni()
    if data.get("test_name") == WEB_TEST_NAME and row.get("verdict"):
        keys = data.setdefault("test_keys", {})
        keys["blocking"] = ooni_blocking(row["verdict"], row.get("blocking"))
        keys["accessible"] = ooni_accessible(row["verdict"])
        verdict = {name: row.get(name) for name in _X_VERDICT}
        verdict["confirmed"] = bool(verdict["confirmed"])
        keys["x_verdict"] = verdict
    return data


def write_ooni_jsonl(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(json.dumps(ooni_measurement(row), ensure_ascii=False, sort_keys=True))
        out.write("\n")
        count += 1
    return count


FORMAT = ExportFormat("ooni-jsonl", "OONI's data format 0.2.0, one measurement a line", to_stream=write_ooni_jsonl)
