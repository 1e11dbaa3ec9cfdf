"""In CI a skipped test fails the run: CI's machine is given whatever any test needs (``.ci/run``), so a skip
there is a test that silently proved nothing (``docs/development.md``, "Skips"). Elsewhere tests skip as usual,
with their reason.

CI is told by the ``CI`` variable its runner sets. The hook is re-exported by ``tests/conftest.py``; a test runs it
as a plugin (``-p support.noskips``) on a suite of its own.
"""

from __future__ import annotations

import os

import pytest


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not os.environ.get("CI"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if not skipped:
        return
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_line(
            f"{len(skipped)} skipped in CI, where every test must run: give .ci/run what they need (see -rs below)",
            red=True,
        )
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
