"""The extension points: experiments, SMS back-ends and export formats are found through one registry each.

What is registered is what the CLI offers and documents, and a new entry is one line in its registry:
these tests add one (for the length of a test) and show it picked up with nothing else changed.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any, TextIO

import pytest
from click.testing import CliRunner

from probe.cli.main import cli
from probe.config import Config
from probe.daemon.rounds import groups_from
from probe.errors import ProbeError
from probe.experiments import EXPERIMENTS, Context, get_experiment
from probe.export import FORMATS, ExportFormat, export
from probe.model import Measurement
from probe.sms.backends import BACKENDS
from probe.storage import open_database


def _help(*command: str) -> str:
    result = CliRunner().invoke(cli, [*command, "--help"], terminal_width=1000)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_every_registered_experiment_and_its_inputs_are_in_run_help() -> None:
    text = _help("run")
    for experiment in EXPERIMENTS.values():
        assert f"{experiment.name}: {experiment.inputs}" in text


def test_every_export_format_and_its_description_are_in_export_help() -> None:
    text = _help("export")
    for fmt in FORMATS.values():
        assert f"{fmt.name}: {fmt.description}" in text


def test_every_sms_backend_form_is_in_run_help() -> None:
    text = _help("run")
    for backend in BACKENDS.values():
        assert backend.form in text


class _Echo:
    name = "echo"
    version = "0.0.1"
    test_name = "echo"
    inputs = "anything"

    def check_input(self, value: str) -> str | None:
        return None if value else "empty"

    def run(self, value: str, ctx: Context) -> Measurement:
        raise AssertionError("not run here")


def test_an_added_experiment_is_one_registry_line(monkeypatch: pytest.MonkeyPatch) -> None:
    echo = _Echo()
    monkeypatch.setitem(EXPERIMENTS, "echo", echo)
    assert get_experiment("echo") is echo
    # The daemon's schedule accepts any registered experiment.
    config = Config.model_validate({"schedule": {"groups": {"g": {"experiment": "echo", "inputs": ["x"]}}}})
    assert [group.experiment for group in groups_from(config)] == ["echo"]
    with pytest.raises(ProbeError, match="unknown experiment 'nope'"):
        get_experiment("nope")


def _upper(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(str(row["input"]).upper() + "\n")
        count += 1
    return count


def test_an_added_export_format_is_one_registry_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FORMATS, "upper", ExportFormat("upper", "inputs in capitals", to_stream=_upper))
    out = io.StringIO()
    assert export(open_database(":memory:"), out, fmt="upper") == 0
    with pytest.raises(ProbeError, match="unknown export format 'lower'"):
        export(open_database(":memory:"), out, fmt="lower")
