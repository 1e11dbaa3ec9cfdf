"""What the lab's tests share besides fixtures: the probe config's numbers and a run's result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from probe.lab.lab import unavailable_reason
from probe.lab.outcomes import Measured

TIMEOUT = 2.0
"""Every probe timeout in the lab config (DNS, TCP, TLS, HTTP)."""
LATE_WINDOW = 0.8
CONCURRENCY = 8
PROBE_RUN_LIMIT = 90.0
"""Seconds a ``probe run`` in the lab may take before the test fails (it never should)."""


@dataclass
class ProbeRun:
    measurements: dict[str, Measured]
    seconds: float
    stdout: str
    stderr: str
    returncode: int

    def __getitem__(self, value: str) -> Measured:
        return self.measurements[value]


RunProbe = Callable[..., ProbeRun]
"""``run_probe(*inputs, experiment="web", config=None)``: see the ``run_probe`` fixture."""


def skip_reason() -> str | None:
    reason = unavailable_reason()
    return f"namespace lab unavailable: {reason}" if reason else None
