"""A list of 100,000 URLs is read while it is measured: the first measurement comes at once, memory stays small.

Runs ``benchmarks/large_list.py``'s measurement (a real ``probe run`` process on a loopback server, its
peak RSS from the kernel) with bounds looser than the benchmark's goals (2 s, 200 MB) for a loaded
CI machine; reading the whole list first took 12-39 s and 720-920 MB.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "large_list.py"


def load_benchmark():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("large_list", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    sys.path.insert(0, str(BENCHMARK.parent))  # its sibling modules (``_pages``), as when it runs as a script
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARK.parent))
    return module


@pytest.mark.slow
def test_a_100000_url_list_starts_measuring_at_once_in_little_memory(tmp_path: Path) -> None:
    figures = load_benchmark().run(count=100_000, measure=1.0, concurrency=16, directory=tmp_path)
    assert figures.first_seconds is not None and figures.first_seconds < 6.0, figures.line()
    assert figures.measured > 1
    assert 0 < figures.peak_rss_mb < 200, figures.line()
