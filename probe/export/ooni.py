"""``ooni-jsonl``: one OONI data-format 0.2.0 measurement a line (loads with ``oonidata``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

from probe.storage.db import row_to_measurement


def write_ooni_jsonl(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(json.dumps(row_to_measurement(row).to_ooni(), ensure_ascii=False, sort_keys=True))
        out.write("\n")
        count += 1
    return count
