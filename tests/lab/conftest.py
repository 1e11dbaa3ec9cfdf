"""The namespace lab for end-to-end tests: one lab per test session, one scenario per test.

Every test here needs root and network namespaces; where the machine cannot provide them
the ``lab`` fixture skips with the reason. The lab is removed when the session ends, and
by ``Lab``'s own handlers if the session is interrupted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe.lab.lab import Lab
from probe.lab.outcomes import read_measurements

from .labsupport import CONCURRENCY, LATE_WINDOW, PROBE_RUN_LIMIT, TIMEOUT, ProbeRun, RunProbe, skip_reason


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with Lab() as made:
        yield made


@pytest.fixture(scope="session")
def lab_config(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return lab.probe_config(
        tmp_path_factory.mktemp("lab-config"), timeout=TIMEOUT, late_answer_window=LATE_WINDOW, concurrency=CONCURRENCY
    )


@pytest.fixture
def censor(lab: Lab) -> Iterator[Lab]:
    """The session's lab, set back to ``clean`` after the test whatever it did."""
    yield lab
    lab.scenario("clean")


@pytest.fixture
def run_probe(lab: Lab, lab_config: Path, tmp_path: Path) -> RunProbe:
    """``probe run`` inside the probe namespace; what it stored, by input."""
    runs = iter(range(1000))

    def run(*inputs: str, experiment: str = "web", config: Path | None = None) -> ProbeRun:
        db = tmp_path / f"probe-{next(runs)}.db"
        args = ["run", "--accept", "--config", str(config or lab_config), "--db", str(db), "-e", experiment]
        for value in inputs:
            args += ["--url", value]
        started = time.monotonic()
        done = lab.run_probe(args, timeout=PROBE_RUN_LIMIT)
        seconds = time.monotonic() - started
        assert done.returncode == 0, done.stderr
        measured = {m.input: m for m in read_measurements(db)}
        assert sorted(measured) == sorted(inputs), done.stderr
        return ProbeRun(measured, seconds, done.stdout, done.stderr, done.returncode)

    return run
