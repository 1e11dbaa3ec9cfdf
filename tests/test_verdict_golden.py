"""The golden corpus of verdicts (``tests/data/verdicts/<case>/``) and the rule table in ``docs/method.md``.

Each case is a measurement written for this project (OONI's web_connectivity shape, never a copy of OONI's
corpora): ``measurement.json``, the verdict it must get in ``expected.json`` (verdict, blocking, mechanism,
confirmed, suspected, the deciding rule and the reason, word for word), and optionally ``context.json``
(``fingerprints``: ``shipped`` or ``fingerprints.csv`` beside it; ``network_state``, and ``way_out``: whether the
machine had a route out). A change of the rules
that changes a verdict or a reason shows here, case by case; every rule is exercised by at least one case.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from probe.fingerprints import Fingerprints, load_fingerprints
from probe.verdict import RULES, judge_test_keys
from probe.verdict.network import NetworkContext
from probe.verdict.rules import RULES_VERSION

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "data" / "verdicts"
CASES = sorted(path for path in CORPUS.iterdir() if path.is_dir())
SHIPPED = sorted((ROOT / "configs" / "fingerprints").glob("*.csv"))
EXPECTED_KEYS = ("verdict", "blocking", "blocking_detail", "confirmed", "suspected", "rule", "reason")


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _fingerprints(case: Path, context: dict[str, Any]) -> Fingerprints | None:
    chosen = context.get("fingerprints")
    if chosen == "shipped":
        return load_fingerprints(SHIPPED)
    if chosen is not None:
        return load_fingerprints([case / chosen])
    return None


def judged(case: Path) -> dict[str, Any]:
    measurement = _read(case / "measurement.json")
    context = _read(case / "context.json") if (case / "context.json").exists() else {}
    state = context.get("network_state")
    verdict = judge_test_keys(
        measurement["input"],
        measurement["test_keys"],
        fingerprints=_fingerprints(case, context),
        network=NetworkContext(state, way_out=context.get("way_out")) if state else None,
    )
    assert verdict.rules_version == RULES_VERSION
    return {key: getattr(verdict, key) for key in EXPECTED_KEYS}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_golden_case_gets_its_verdict_rule_and_reason(case: Path) -> None:
    assert judged(case) == _read(case / "expected.json")


def test_the_golden_corpus_exercises_every_rule() -> None:
    used = {_read(case / "expected.json")["rule"] for case in CASES}
    assert used == {name for name, _ in RULES}


def test_only_blocked_cases_name_a_blocking_method() -> None:
    for case in CASES:
        expected = _read(case / "expected.json")
        if expected["verdict"] != "blocked":
            assert (expected["blocking"], expected["blocking_detail"], expected["confirmed"]) == (None, None, False)


def docs_rule_table() -> list[tuple[int, str]]:
    """``(number, rule id)`` for each row of the rule table in ``docs/method.md``, "The rules in order"."""
    method = (ROOT / "docs" / "method.md").read_text(encoding="utf-8")
    section = method.split("\n### The rules in order\n", 1)[1].split("\n#", 1)[0]
    return [(int(number), rule) for number, rule in re.findall(r"^\| (\d+) \| `([a-z_]+)` \|", section, re.M)]


def test_the_docs_rule_table_is_the_rules_in_code() -> None:
    names = [name for name, _ in RULES]
    assert docs_rule_table() == list(enumerate(names, start=1))
