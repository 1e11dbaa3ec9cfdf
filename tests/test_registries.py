"""The extension points: experiments, SMS back-ends and export formats are found through one registry each.

What is registered is what the CLI offers and documents, and a new entry is one line in its registry:
these tests add one (for the length of a test) and show it picked up with nothing else changed.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

import pytest
from click.testing import CliRunner

from probe.cli.main import cli
from probe.config import Config
from probe.daemon.rounds import groups_from
from probe.errors import ProbeError
from probe.experiments import EXPERIMENTS, Context, Outcome, get_experiment
from probe.experiments.base import measure
from probe.export import FORMATS, ExportFormat, export
from probe.model import Measurement, TestKeys
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
    """A toy experiment: its module would be this class, its registry line the monkeypatch below."""

    name = "echo"
    version = "0.0.1"
    test_name = "echo"
    inputs = "words"

    def check_input(self, value: str) -> str | None:
        return None if value.isalpha() else "letters only"

    def run(self, value: str, ctx: Context) -> Measurement:
        return measure(self, value, ctx, lambda trace: Outcome(TestKeys.model_validate({"echoed": value[::-1]})))


@pytest.fixture
def echo(monkeypatch: pytest.MonkeyPatch) -> _Echo:
    added = _Echo()
    monkeypatch.setitem(EXPERIMENTS, "echo", added)
    return added


def _loopback_only(tmp_path: Path) -> Path:
    """A config that sends nothing anywhere: no test helper, no network controls, no gateway asked."""
    path = tmp_path / "probe.toml"
    path.write_text(
        f'[probe]\ndata_dir = "{tmp_path / "data"}"\nprobe_asn = "AS64500"\nprobe_cc = "KZ"\n\n'
        '[network]\ngateway = ""\n',
        encoding="utf-8",
    )
    return path


def _run_echo(tmp_path: Path, *words: str) -> Path:
    config = _loopback_only(tmp_path)
    urls = [arg for word in words for arg in ("--url", word)]
    result = CliRunner().invoke(cli, ["run", "--accept", "--config", str(config), "-e", "echo", *urls])
    assert result.exit_code == 0, result.output
    return tmp_path / "data" / "probe.db"


def test_an_added_experiment_is_offered_by_probe_run_and_the_daemon(echo: _Echo) -> None:
    assert get_experiment("echo") is echo
    text = _help("run")
    assert "echo: words" in text and "[web|dns|tcp|sms|echo]" in text
    # The daemon's schedule accepts any registered experiment.
    config = Config.model_validate({"schedule": {"groups": {"g": {"experiment": "echo", "inputs": ["x"]}}}})
    assert [group.experiment for group in groups_from(config)] == ["echo"]
    with pytest.raises(ProbeError, match="unknown experiment 'nope'"):
        get_experiment("nope")


def test_probe_run_measures_and_stores_with_an_added_experiment(echo: _Echo, tmp_path: Path) -> None:
    db = open_database(_run_echo(tmp_path, "abc", "x1"))
    (row,) = db.measurement_rows()
    assert (row["experiment"], row["input"], row["failure"]) == ("echo", "abc", None)
    assert json.loads(row["test_keys"])["echoed"] == "cba"
    (run,) = db.runs()
    assert run["experiment"] == "echo" and "'x1': letters only" in run["problems"]
    db.close()


def test_without_its_registry_line_an_experiment_is_refused_by_probe_run(tmp_path: Path) -> None:
    config = _loopback_only(tmp_path)
    result = CliRunner().invoke(cli, ["run", "--accept", "--config", str(config), "-e", "echo", "--url", "abc"])
    assert result.exit_code == 2 and "'echo' is not one of 'web', 'dns', 'tcp', 'sms'" in result.output


def _upper(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(str(row["input"]).upper() + "\n")
        count += 1
    return count


def _one_file_per_input(rows: Iterable[dict[str, Any]], path: Path) -> int:
    path.mkdir()
    count = 0
    for count, row in enumerate(rows, 1):
        (path / f"{count}.txt").write_text(str(row["input"]), encoding="utf-8")
    return count


def test_an_added_export_format_is_one_registry_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FORMATS, "upper", ExportFormat("upper", "inputs in capitals", to_stream=_upper))
    out = io.StringIO()
    assert export(open_database(":memory:"), out, fmt="upper") == 0
    with pytest.raises(ProbeError, match="unknown export format 'lower'"):
        export(open_database(":memory:"), out, fmt="lower")


def test_probe_export_offers_and_writes_added_formats_to_a_stream_and_a_directory(
    echo: _Echo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    db = _run_echo(tmp_path, "abc", "def")
    monkeypatch.setitem(FORMATS, "upper", ExportFormat("upper", "inputs in capitals", to_stream=_upper))
    monkeypatch.setitem(FORMATS, "files", ExportFormat("files", "a file per input", to_directory=_one_file_per_input))
    text = _help("export")
    assert "upper: inputs in capitals" in text and "files: a file per input" in text
    assert "[ooni-jsonl|csv|json|parquet|stop|stop-json|upper|files]" in text
    streamed = CliRunner().invoke(cli, ["export", "--db", str(db), "--format", "upper"])
    assert streamed.exit_code == 0, streamed.output
    assert sorted(streamed.stdout.split()) == ["ABC", "DEF"]
    out = tmp_path / "out"
    written = CliRunner().invoke(cli, ["export", "--db", str(db), "--format", "files", "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert sorted(file.read_text(encoding="utf-8") for file in out.iterdir()) == ["abc", "def"]
