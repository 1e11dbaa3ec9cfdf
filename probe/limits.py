"""Size limits shared by the probe and the collector: one definition, so a probe never queues what
a collector would refuse.

The collector's batch model (``probe.upload.protocol``) is built from these numbers; the probe
refuses an input over ``INPUT_CHARS`` before measuring it (a problem of the run), and cuts any
other text field over its limit when it saves a measurement, saying so in the measurement's
``annotations`` (``limits.cut``). A record that still does not fit a batch is refused by the
collector and quarantined by the probe (``probe upload --status``), never left to block the queue.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, MutableMapping
from typing import Any

SHORT_CHARS = 1024
"""Ids, times, names, codes: most characters in one."""
TEXT_CHARS = 65536
"""Free text (an input, a failure string, a run's problems, a round's error): most characters in one."""
INPUT_CHARS = TEXT_CHARS
"""The longest input (URL, host, ``host:port``, number) measured: a longer one is refused before measuring."""
MAX_ITEMS = 1000
"""Most measurements, runs or rounds in one batch."""
MAX_BODY_BYTES = 16 << 20
"""The largest batch a collector accepts by default, and the most a probe may be configured to send."""
MIN_BATCH_BYTES = 64 << 10
"""The smallest batch size a probe may be configured with."""
DEFAULT_BATCH_BYTES = 4 << 20
"""What a probe sends at most by default."""
ENVELOPE_BYTES = 2048
"""Room in a batch for everything but its items (keys, head, signature)."""
MAX_RECORD_BYTES = DEFAULT_BATCH_BYTES - ENVELOPE_BYTES
"""The largest measurement record (as JSON) that fits a default batch; a larger one is cut at save."""

CUT_MARK = " ... (cut: over the size limit shared with the collector)"
CUT_ANNOTATION = "limits.cut"
"""The annotation naming the fields cut at save, with their original lengths."""

TEXT_FIELDS = ("input", "failure")
JSON_FIELDS = ("annotations", "test_keys")
"""Every other chained text column (ids, times, names, codes) is short."""


def input_refusal(value: str) -> str | None:
    """Why an input is refused before it is measured (over ``INPUT_CHARS``), or None."""
    if len(value) <= INPUT_CHARS:
        return None
    return f"{len(value)} characters, over the {INPUT_CHARS} a collector accepts: not measured"


def clip(text: str | None, limit: int) -> str | None:
    """``text`` cut to ``limit`` characters, the cut marked; unchanged when it fits."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - len(CUT_MARK)] + CUT_MARK


def fit_measurement_row(row: MutableMapping[str, Any], chained: Iterable[str]) -> dict[str, int]:
    """Cut a measurement row's ``chained`` fields to what a collector accepts, in place, before it is chained.

    Returns the fields cut and their original lengths (characters; bytes for ``test_keys``), also
    recorded in the row's ``annotations`` under ``limits.cut``. ``test_keys`` over
    ``MAX_RECORD_BYTES`` is replaced by a JSON object that says so: a record is never too large
    to be sent. ``annotations`` and ``test_keys`` stay JSON objects.
    """
    cut: dict[str, int] = {}
    for name in chained:
        value = row.get(name)
        limit = TEXT_CHARS if name in TEXT_FIELDS else SHORT_CHARS
        if name not in JSON_FIELDS and isinstance(value, str) and len(value) > limit:
            cut[name] = len(value)
            row[name] = clip(value, limit)
    keys = row.get("test_keys")
    if isinstance(keys, str) and len(keys.encode()) > MAX_RECORD_BYTES - 2 * TEXT_CHARS:
        cut["test_keys"] = len(keys.encode())
        row["test_keys"] = json.dumps({"cut": f"{cut['test_keys']} bytes of test keys, over the size limit"})
    annotations = row.get("annotations")
    if isinstance(annotations, str) and (cut or len(annotations) > TEXT_CHARS):
        values = json.loads(annotations) if len(annotations) <= TEXT_CHARS else {}
        if len(annotations) > TEXT_CHARS:
            cut["annotations"] = len(annotations)
        values[CUT_ANNOTATION] = ",".join(f"{name}:{length}" for name, length in cut.items())
        row["annotations"] = json.dumps(values)
    return cut
