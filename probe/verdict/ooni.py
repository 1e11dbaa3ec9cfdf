"""The verdict engine on OONI measurements, side by side with OONI's own ``blocking``.

``read_ooni`` reads a file of one JSON measurement, a JSON array, or JSON lines. ``compare_ooni``
judges each web_connectivity measurement (with the control it carries) and says whether the
conclusion agrees with OONI's ``test_keys.blocking``, and why not where it does not
(``probe.verdict.reasons``). Other experiments (the legacy dns_consistency, http_requests) are
listed as skipped, with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from probe.errors import ProbeError
from probe.fingerprints import Fingerprints
from probe.verdict.engine import WEB_TEST_NAME, judge_test_keys
from probe.verdict.reasons import as_ooni_blocking, explain_difference
from probe.verdict.rules import Verdict


@dataclass
class OONIComparison:
    source: str
    """The file, and the line for JSON lines."""
    test_name: str
    input: str
    ooni_blocking: str | bool | None
    verdict: Verdict | None
    """None when the measurement was skipped."""
    agrees: bool | None
    why: str
    """Why it differs from OONI, or why it was skipped; empty when it agrees."""

    @property
    def ours(self) -> str | bool | None:
        return as_ooni_blocking(self.verdict) if self.verdict is not None else None

    def to_dict(self) -> dict[str, Any]:
        verdict = self.verdict
        return {
            "source": self.source,
            "test_name": self.test_name,
            "input": self.input,
            "ooni_blocking": self.ooni_blocking,
            "verdict": verdict.verdict if verdict else None,
            "blocking": verdict.blocking if verdict else None,
            "blocking_detail": verdict.blocking_detail if verdict else None,
            "confirmed": verdict.confirmed if verdict else None,
            "rule": verdict.rule if verdict else None,
            "reason": verdict.reason if verdict else None,
            "agrees": self.agrees,
            "why": self.why,
        }


def read_ooni(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, measurement)`` for each measurement in ``path``; ProbeError for unreadable input."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProbeError(f"{path}: cannot read: {exc}") from None
    stripped = text.lstrip()
    if not stripped:
        return
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        yield str(path), data
        return
    if isinstance(data, list):
        for index, item in enumerate(data):
            if isinstance(item, dict):
                yield f"{path}[{index}]", item
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ProbeError(f"{path}:{number}: not JSON: {exc.msg}") from None
        if isinstance(item, dict):
            yield f"{path}:{number}", item


def compare_ooni(where: str, measurement: dict[str, Any], fingerprints: Fingerprints | None) -> OONIComparison:
    test_name = str(measurement.get("test_name") or "?")
    url = str(measurement.get("input") or "")
    keys = measurement.get("test_keys")
    ooni = keys.get("blocking") if isinstance(keys, dict) else None
    if test_name != WEB_TEST_NAME:
        version = measurement.get("test_version")
        return OONIComparison(
            where,
            test_name,
            url,
            ooni if isinstance(ooni, str | bool) else None,
            None,
            None,
            f"skipped: {test_name} {version or ''} is not web_connectivity; the engine judges web measurements "
            "with a control",
        )
    if not isinstance(keys, dict) or not url:
        return OONIComparison(where, test_name, url, None, None, None, "skipped: no input or no test_keys")
    verdict = judge_test_keys(url, keys, fingerprints=fingerprints, source="ooni")
    ooni_blocking = ooni if isinstance(ooni, str | bool) else None
    agrees = as_ooni_blocking(verdict) == ooni_blocking
    why = "" if agrees else explain_difference(ooni_blocking, verdict, keys)
    return OONIComparison(where, test_name, url, ooni_blocking, verdict, agrees, why)
