"""A run by hand (``probe.manual_run``): which targets it measures, and what it says and exits with afterwards.

The run itself is ``probe run``'s, tested through the command in ``test_cli`` and the runner's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe.config import parse_config
from probe.errors import ProbeError
from probe.experiments import get_experiment
from probe.manual_run import ManualRun, choose_targets
from probe.report.run_summary import VerdictGroups
from probe.runner import RunSummary
from probe.testlist import Problem, StreamedTestList, TestList

WEB = get_experiment("web")


def plain_list(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "list.txt"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def inputs_of(chosen: TestList | StreamedTestList) -> list[str]:
    assert isinstance(chosen, TestList)
    return [target.input for target in chosen.targets]


def test_inputs_given_alone_are_all_that_is_measured(tmp_path: Path) -> None:
    config = parse_config({"probe": {"test_list": str(plain_list(tmp_path, "https://a.example/"))}})
    chosen = choose_targets(config, WEB, None, ["https://b.example/"])
    assert chosen.source == "command line" and inputs_of(chosen) == ["https://b.example/"]


def test_a_list_given_is_streamed_and_the_inputs_follow_it(tmp_path: Path) -> None:
    path = plain_list(tmp_path, "https://a.example/", "https://c.example/")
    chosen = choose_targets(parse_config({}), WEB, path, ["https://b.example/"])
    assert isinstance(chosen, StreamedTestList)
    assert [target.input for target in chosen] == ["https://a.example/", "https://c.example/", "https://b.example/"]


def test_without_a_list_or_inputs_the_configs_list_is_measured(tmp_path: Path) -> None:
    config = parse_config({"probe": {"test_list": str(plain_list(tmp_path, "https://a.example/"))}})
    assert inputs_of(choose_targets(config, WEB, None, [])) == ["https://a.example/"]
    with pytest.raises(ProbeError, match="nothing to measure"):
        choose_targets(parse_config({"probe": {"test_list": None}}), WEB, None, [])


def outcome(summary: RunSummary) -> ManualRun:
    return ManualRun(summary, VerdictGroups(), "list.txt", [Problem(3, "not a URL")])


def test_the_warnings_name_bad_rows_refused_inputs_and_cut_fields() -> None:
    run = outcome(RunSummary("run-1", total=2, done=2, refused=["input 'ftp://x': not http"], cut=1))
    warnings = run.warnings()
    assert warnings[:2] == ["list.txt: line 3: not a URL (skipped)", "input 'ftp://x': not http (not measured)"]
    assert warnings[2].startswith("1 measurement(s) saved with a field cut") and len(warnings) == 3


def test_the_exit_code_is_one_for_a_probe_error_and_a_run_of_refused_inputs_alone_is_an_error() -> None:
    assert outcome(RunSummary("run-1", total=1, done=1)).exit_code() == 0
    assert outcome(RunSummary("run-1", total=1, done=1, probe_errors=["x: ValueError: bug"])).exit_code() == 1
    with pytest.raises(ProbeError, match=r"nothing measured: every input was refused \(1"):
        outcome(RunSummary("run-1", total=0, refused=["input 'x': bad"])).exit_code()
