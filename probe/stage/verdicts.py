"""The verdict stage of a run: network context, a verdict per measurement, forensics, re-judging.

At the start of a round it loads ``[fingerprints] files`` and measures the network controls; each
measurement is judged in the worker that made it (so that forensics, which measure again, run in
parallel), and stored with its verdict. At the end of the round the controls are measured again:
if the network went dark meanwhile, the round's ``blocked`` verdicts are judged again with the
worse state (a failure during a shutdown is ``network_down``), and updated.

Forensics run for verdicts whose evidence is a packet (``FORENSIC_DETAILS``): the flow is measured
once more under capture (``probe.stage.forensics``), and ``test_keys.x_forensics`` holds the TTL
and IP-ID of the suspicious packet next to the server's genuine ones, or says
``unavailable (no root)``. The measuring is done here and in ``probe.stage.network``; the verdict
package only reads what was measured.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from probe.config import Config
from probe.experiments import Context, Experiment
from probe.fingerprints import Fingerprints, load_fingerprints
from probe.model import Measurement, WebTestKeys
from probe.stage import forensics
from probe.stage.forensics import FORENSIC_DETAILS
from probe.stage.network import measure_network
from probe.verdict.engine import judge_measurement
from probe.verdict.network import DOWN_STATES, NetworkContext
from probe.verdict.rules import Verdict

MAX_FORENSICS_PER_ROUND = 32
"""Forensic re-measurements per round: each costs another connection to a blocked site."""
_WORSE = {None: 0, "ok": 0, "degraded": 1, "international_cut": 2, "local_fault": 3, "shutdown": 3}


@dataclass
class VerdictStage:
    config: Config
    fingerprints: Fingerprints
    network: NetworkContext
    network_after: NetworkContext | None = None
    _columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    _blocked: list[str] = field(default_factory=list)
    """The ids of the round's blocked measurements (the measurements themselves, bodies and all, are saved)."""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _forensics_left: int = MAX_FORENSICS_PER_ROUND

    @classmethod
    def start(cls, config: Config, *, measure_controls: bool = True) -> VerdictStage:
        """Load the fingerprints (``ConfigError`` if a file cannot be read) and measure the network."""
        fingerprints = load_fingerprints(config.fingerprints.files)
        network = measure_network(config) if measure_controls else NetworkContext(None)
        return cls(config, fingerprints, network)

    def run(self, experiment: Experiment, value: str, ctx: Context) -> Measurement:
        """Measure ``value`` and judge it (in the worker's thread)."""
        measurement = experiment.run(value, ctx)
        try:
            return self.judge(measurement)
        except Exception as exc:  # a bug in the verdict stage must not cost the measurement
            with self._lock:
                self._columns[measurement.id] = {
                    "reason": f"no verdict: {type(exc).__name__}: {exc}",
                    "network_state": self.network.state,
                }
            return measurement

    def judge(self, measurement: Measurement) -> Measurement:
        verdict = judge_measurement(measurement, self.fingerprints, self.network)
        if verdict is None:
            return measurement
        if verdict.blocking_detail in FORENSIC_DETAILS:
            forensics = self._forensics(measurement, verdict)
            if forensics is not None and isinstance(measurement.test_keys, WebTestKeys):
                measurement.test_keys.x_forensics = forensics
        self._apply(measurement, verdict)
        if verdict.verdict == "blocked":
            with self._lock:
                self._blocked.append(measurement.id)
        return measurement

    def columns(self, measurement: Measurement) -> dict[str, Any]:
        """The measurement's verdict as stored (``Verdict.as_row``: one record for all a verdict says; the
        columns ``Measurement`` has no field for are taken from it), or the round's network state alone."""
        with self._lock:
            return self._columns.pop(measurement.id, {"network_state": self.network.state})

    def finish(self, stored: Callable[[str], Measurement | None]) -> list[tuple[str, Verdict]]:
        """Measure the controls again; the verdicts that change because the network got worse, judged again from
        the measurements as ``stored`` gives them by id (a round keeps only their ids in memory)."""
        if self.network.state is None:
            return []
        self.network_after = measure_network(self.config)
        after = self.network_after
        if _WORSE.get(after.state, 0) <= _WORSE.get(self.network.state, 0) or after.state not in DOWN_STATES:
            return []
        changed: list[tuple[str, Verdict]] = []
        for measurement_id in self._blocked:
            measurement = stored(measurement_id)
            if measurement is None:
                continue
            verdict = judge_measurement(measurement, self.fingerprints, after)
            if verdict is not None and verdict.verdict != "blocked":
                changed.append((measurement.id, verdict))
        return changed

    def _apply(self, measurement: Measurement, verdict: Verdict) -> None:
        measurement.verdict = verdict.verdict
        measurement.blocking = verdict.blocking
        measurement.blocking_detail = verdict.blocking_detail
        with self._lock:
            self._columns[measurement.id] = verdict.as_row()

    def _forensics(self, measurement: Measurement, verdict: Verdict) -> dict[str, Any] | None:
        from probe.forensics import capture  # the first forensic verdict loads it

        reason = capture.unavailable_reason()
        if reason is not None:
            return {"status": reason}
        with self._lock:
            if self._forensics_left <= 0:
                return {"status": "skipped (forensics budget of this round spent)"}
            self._forensics_left -= 1
        return forensics.remeasure(measurement, verdict.blocking_detail or "", self.config)
