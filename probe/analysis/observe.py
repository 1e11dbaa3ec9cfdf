"""What one stored row says about its series: good, bad (and of which kind), or nothing.

Three kinds of rows feed the analysis:

    a measurement     a point of its target's series (one target, one probe)
    a network context a point of its probe's network series: the round's controls (start and end)
    a round           a point of the network series when there are no controls: every target of
                      the round failed (``HEARTBEAT``), or at least one was reached

A target's failure says nothing about the target while the whole network is down (verdict
``network_down``, a dark network state, or a round where every target failed): such points are
neutral, like a probe's own fault (``unknown_failure``) and a degraded network. A failure no
verdict explains (no test helper, a dns or tcp experiment, a collector's unjudged rows) is bad,
with the method the failed step suggests, and counts for less (``kinds.FAILURE``).

Known false positive: without a test helper, a site down everywhere looks like a targeted block
of low confidence; several networks failing at once hint at it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache

from probe.analysis import kinds

MIN_ROUND_TARGETS = 2
"""Fewest targets a round must have measured for "every target failed" to mean the network."""


class Mark(IntEnum):
    GOOD = 0
    BAD = 1
    NEUTRAL = 2


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a bad observation points to."""

    kind: str
    blocking: str | None
    detail: str | None
    basis: str


@lru_cache(maxsize=4096)
def evidence(kind: str, blocking: str | None, detail: str | None, basis: str) -> Evidence:
    """One shared ``Evidence`` per distinct value: millions of rows share a few dozen."""
    return Evidence(kind, blocking, detail, basis)


Said = tuple[Mark, Evidence | None]
GOOD: Said = (Mark.GOOD, None)
NEUTRAL: Said = (Mark.NEUTRAL, None)


def measurement(
    *,
    experiment: str,
    verdict: str | None,
    blocking: str | None,
    detail: str | None,
    failure: str | None,
    failed_step: str | None,
    confirmed: bool,
    network_state: str | None,
    round_down: bool = False,
) -> Said:
    """A measurement row as a point of its target's series (``round_down``: its round's targets all failed)."""
    if experiment == "sms":
        return _sms(verdict, detail, failure)
    if verdict == "accessible" or (verdict is None and failure is None):
        return GOOD
    if verdict == "blocked" and confirmed:
        return Mark.BAD, evidence(kinds.TARGETED_BLOCK, blocking, detail, kinds.CONFIRMED)
    if verdict == "network_down":
        return NEUTRAL
    if failure is not None and (network_state in kinds.DOWN_STATES or (network_state is None and round_down)):
        return NEUTRAL  # the network explains the failure (the verdict engine's rule 2)
    if verdict == "blocked":
        return Mark.BAD, evidence(kinds.TARGETED_BLOCK, blocking, detail, kinds.VERDICT)
    if verdict == "site_down":
        return Mark.BAD, evidence(kinds.SITE_DOWN, None, detail, kinds.VERDICT)
    if failure is None or network_state == "degraded" or failure.startswith("unknown_failure"):
        return NEUTRAL
    suspected = blocking or kinds.STEP_BLOCKING.get(failed_step or "")
    return Mark.BAD, evidence(kinds.TARGETED_BLOCK, suspected, detail, kinds.FAILURE)


def _sms(verdict: str | None, detail: str | None, failure: str | None) -> Said:
    # One SMS is never proof (operators lose a few percent): repetition, i.e. hysteresis, decides.
    if verdict == "accessible" or (verdict is None and failure is None):
        return GOOD
    if detail is not None and detail.startswith("sms:probe_fault"):
        return NEUTRAL
    if verdict == "network_down":
        return Mark.BAD, evidence(kinds.NETWORK_SHUTDOWN, "sms", detail, kinds.VERDICT)
    return Mark.BAD, evidence(kinds.TARGETED_BLOCK, "sms", detail or failure, kinds.FAILURE)


def network_context(state: str | None) -> Said:
    """A network context (the round's controls) as a point of the probe's network series."""
    if state is None:
        return NEUTRAL
    kind = kinds.STATE_KINDS.get(state)
    if kind is None:
        return GOOD
    return Mark.BAD, evidence(kind, None, state, kinds.CONTROLS)


def controls_summary(controls_json: str | None) -> tuple[float | None, float]:
    """The share of a context's controls that worked (None when it lists none), and the longest one's runtime.

    A context is stored when its controls have finished (``measured_at``); what they saw, they saw
    when they started, which is ``measured_at`` minus the longest runtime (a timeout, in a shutdown).
    """
    try:
        controls = json.loads(controls_json or "[]")
    except ValueError:
        return None, 0.0
    if not isinstance(controls, list) or not controls:
        return None, 0.0
    found = [control for control in controls if isinstance(control, dict)]
    share = sum(1 for control in found if control.get("ok")) / len(controls)
    runtimes = [control.get("runtime") for control in found]
    return share, max((float(r) for r in runtimes if isinstance(r, int | float)), default=0.0)


def heartbeat(measured: int, reached: int) -> Said:
    """A round's counts as a point of the network series, for probes without network controls."""
    if measured < MIN_ROUND_TARGETS:
        return GOOD if reached > 0 else NEUTRAL
    if reached == 0:
        return Mark.BAD, evidence(kinds.NETWORK_SHUTDOWN, None, "every target failed", kinds.HEARTBEAT)
    return GOOD
