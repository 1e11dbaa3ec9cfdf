"""``probe lab``: up, scenario, exec, status and down by hand, as a trainer uses them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from probe.cli.main import cli
from probe.lab import topology
from probe.lab.errors import LabNotUpError, NotRootError
from probe.lab.outcomes import read_measurements
from probe.lab.scenarios import SCENARIOS
from probe.lab.topology import Namespaces

from .labsupport import skip_reason


def probe_lab(root: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "probe", "lab", "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.root
@pytest.mark.slow
def test_trainer_brings_the_lab_up_applies_a_scenario_measures_and_takes_it_down(tmp_path: Path) -> None:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    root = tmp_path / "labs"
    up = probe_lab(root, "up", "--data-dir", str(tmp_path / "data"))
    assert up.returncode == 0, up.stderr
    lab_id = re.search(r"lab (\w+) is up", up.stdout)
    config = re.search(r"probe config: (\S+)", up.stdout)
    assert lab_id and config, up.stdout
    namespaces = Namespaces.for_lab(lab_id.group(1))
    try:
        again = probe_lab(root, "up")
        assert again.returncode == 2 and again.stderr.startswith("error: lab: already up")
        switched = probe_lab(root, "scenario", "dns_nxdomain", "twitter.com")
        assert switched.returncode == 0 and "dns_nxdomain on twitter.com" in switched.stdout
        db = tmp_path / "cli.db"
        measured = probe_lab(
            root, "exec", "--", "probe", "run", "--accept", "--config", config.group(1), "--db", str(db),
            "--url", "http://twitter.com/", "--url", "http://guljan.org/",
        )  # fmt: skip
        assert measured.returncode == 0, measured.stderr
        outcomes = {m.input: m.outcome for m in read_measurements(db)}
        assert outcomes == {"http://twitter.com/": ("dns", "dns_nxdomain_error"), "http://guljan.org/": (None, None)}
        failing = probe_lab(root, "exec", "--", "sh", "-c", "exit 7")
        assert failing.returncode == 7
        status = probe_lab(root, "status")
        assert f"* {lab_id.group(1)}  up  scenario dns_nxdomain on twitter.com" in status.stdout
    finally:
        down = probe_lab(root, "down")
    assert down.returncode == 0, down.stderr
    assert all(not topology.exists(name) for name in namespaces.all())
    gone = probe_lab(root, "scenario", "clean")
    assert gone.returncode == 2 and gone.stderr.strip() == "error: lab: not up (start it with: probe lab up)"


def test_lab_commands_need_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    for args in (["up"], ["down"], ["scenario", "clean"], ["exec", "--", "true"], ["status"]):
        result = CliRunner().invoke(cli, ["lab", "--root", str(tmp_path), *args], standalone_mode=False)
        assert isinstance(result.exception, NotRootError), args
        assert str(result.exception) == "lab: not running as root"


def test_lab_commands_say_when_no_lab_is_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    for args in (["down"], ["scenario", "clean"], ["exec", "--", "true"]):
        result = CliRunner().invoke(cli, ["lab", "--root", str(tmp_path), *args], standalone_mode=False)
        assert isinstance(result.exception, LabNotUpError), args


def test_scenario_list_names_every_scenario_without_root() -> None:
    result = CliRunner().invoke(cli, ["lab", "scenario", "--list"])
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.output.splitlines()]
    assert listed == list(SCENARIOS)
