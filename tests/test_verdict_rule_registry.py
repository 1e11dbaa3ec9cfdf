"""The verdict rules' registry: ``RULES`` in ``probe/verdict/rules/__init__.py`` is the one ordered list of rules.

A rule is a function named after its id in a module of ``probe.verdict.rules``; adding one is writing it, one
line in the registry, its tests (a golden case) and its row in the method's rule table. These tests hold the code
to that: an unregistered rule, a registered function from elsewhere, an id that is not its function's name, or a
rule giving another rule's id fails here, and the rule table in ``docs/method.md`` (``test_verdict_golden``) fails
without its row.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from pathlib import Path
from typing import Any

import pytest
from test_verdict_golden import CASES, docs_rule_table, judged

import probe.verdict.rules as rules
from probe.verdict import judge_test_keys
from probe.verdict.rules import RULES, Evidence, Rule, Verdict

SHARED = {"verdict", "evidence", "common"}
"""The rules package's modules that hold what rules share, and no rule."""


def _rule_modules() -> list[str]:
    names = [info.name for info in pkgutil.iter_modules(rules.__path__)]
    assert set(names) >= SHARED
    return [f"{rules.__name__}.{name}" for name in names if name not in SHARED]


def test_each_rule_is_registered_once_under_its_functions_name_from_a_rule_module() -> None:
    ids = [rule_id for rule_id, _ in RULES]
    assert len(set(ids)) == len(ids)
    modules = set(_rule_modules())
    for rule_id, function in RULES:
        assert function.__name__ == rule_id
        assert function.__module__ in modules, f"{rule_id} is defined outside the rule modules"


def test_every_rule_function_in_the_rule_modules_is_registered() -> None:
    defined = set()
    for name in _rule_modules():
        module = importlib.import_module(name)
        defined |= {
            function
            for function_name, function in inspect.getmembers(module, inspect.isfunction)
            if function.__module__ == name and not function_name.startswith("_")
        }
    assert defined == {function for _, function in RULES}


def _recording(rule_id: str, rule: Rule, deciders: list[str]) -> Rule:
    def recorded(e: Evidence) -> Verdict | None:
        verdict = rule(e)
        if verdict is not None:
            deciders.append(rule_id)
        return verdict

    return recorded


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_rule_that_decides_a_golden_case_gives_its_own_id(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deciders: list[str] = []
    monkeypatch.setattr(rules, "RULES", tuple((rid, _recording(rid, rule, deciders)) for rid, rule in RULES))
    assert judged(case)["rule"] == deciders[0]
    assert len(deciders) == 1


def _first_try_failed(e: Evidence) -> Verdict | None:
    if e.earlier_failures:
        return Verdict("inconclusive", reason="a try failed", rule="first_try_failed")
    return None


def test_an_added_rule_is_one_registry_line_and_the_docs_rule_table_asks_for_its_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = Path(__file__).parent / "data" / "verdicts" / "a_failure_that_does_not_repeat_is_not_a_block"
    measurement: dict[str, Any] = json.loads((case / "measurement.json").read_text(encoding="utf-8"))
    assert judge_test_keys(measurement["input"], measurement["test_keys"]).rule == "accessible"
    position = [rule_id for rule_id, _ in RULES].index("accessible")
    added = (*RULES[:position], ("first_try_failed", _first_try_failed), *RULES[position:])
    monkeypatch.setattr(rules, "RULES", added)
    verdict = judge_test_keys(measurement["input"], measurement["test_keys"])
    assert (verdict.rule, verdict.verdict, verdict.reason) == ("first_try_failed", "inconclusive", "a try failed")
    # Without its row in docs/method.md, the rule table no longer matches the registry.
    assert docs_rule_table() != list(enumerate((rule_id for rule_id, _ in added), start=1))
