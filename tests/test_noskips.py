"""A skipped test fails a CI run (``tests/support/noskips.py``), and only there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SUPPORT = Path(__file__).resolve().parent


def run_suite(tmp_path: Path, body: str, *, ci: bool) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text("import pytest\n\n\n" + body, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key not in ("CI", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = str(SUPPORT)
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "support.noskips", "-p", "no:cacheprovider", "-q", "-rs", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


SKIPPING = "def test_needs_a_tool():\n    pytest.skip('the tool is not installed')\n\n\ndef test_runs():\n    pass\n"


@pytest.mark.parametrize(("ci", "status"), [(True, 1), (False, 0)])
def test_a_skip_fails_the_run_only_in_ci(tmp_path: Path, ci: bool, status: int) -> None:
    done = run_suite(tmp_path, SKIPPING, ci=ci)
    assert done.returncode == status, done.stdout + done.stderr
    assert "the tool is not installed" in done.stdout
    assert ("skipped in CI, where every test must run" in done.stdout) is ci


def test_a_ci_run_without_skips_passes(tmp_path: Path) -> None:
    done = run_suite(tmp_path, "def test_runs():\n    pass\n", ci=True)
    assert done.returncode == 0, done.stdout + done.stderr
