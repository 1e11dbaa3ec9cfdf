"""What a window is (kind, method), how sure we are of it, and how bad it was.

**Kind and method.** The kind most of the window's bad points point to (ties: the more specific
kind, ``kinds.RANK``); the blocking method and mechanism most of that kind's points name.

**Confidence** (0 to 1). Each bad point is worth what its basis is worth (``kinds.BASES``: 0.95
for a blockpage, 0.85 for a verdict against the test helper or for network controls, 0.5 for a
bare failure or a round where everything failed); repetition adds up: one probe's window scores
``q × (1 − ½ⁿ)`` for ``n`` bad points of basis ``q``. Probes count as independent witnesses,
``1 − Π(1 − cᵢ)``, discounted when only some of the probes measuring in that network (or region)
saw it: ``× (½ + ½ × seeing / measuring)``. Labels: high from 0.75, medium from 0.5, else low.

**Severity**, as IODA scores an alert: relative drop × duration in minutes. The drop is how far
the reachability share inside the window fell below the series' usual share (1 for a target; for
a network, the share of controls, or of targets, usually reached), times the share of probes
that saw it; the duration runs from the middle of the start's bounds to the middle of the end's
(to the last bad point while ongoing).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from probe.analysis import kinds, times
from probe.analysis.hysteresis import RawWindow
from probe.analysis.observe import Evidence

HIGH = 0.75
MEDIUM = 0.5


@dataclass(frozen=True)
class Character:
    kind: str
    blocking: str | None
    detail: str | None
    basis: str


def character(evidence: Counter[Evidence]) -> Character:
    """Kind, method, mechanism and basis of a window from its bad points."""
    by_kind: Counter[str] = Counter()
    for found, count in evidence.items():
        by_kind[found.kind] += count
    kind = min(by_kind, key=lambda name: (-by_kind[name], kinds.RANK.get(name, len(kinds.RANK))))
    blockings: Counter[str] = Counter()
    details: Counter[str] = Counter()
    bases: Counter[str] = Counter()
    for found, count in evidence.items():
        if found.kind != kind:
            continue
        if found.blocking:
            blockings[found.blocking] += count
        if found.detail:
            details[found.detail] += count
        bases[found.basis] += count
    if kinds.CONFIRMED in bases:
        basis = kinds.CONFIRMED
    else:
        basis = min(bases, key=lambda name: (-bases[name], -kinds.BASES.get(name, 0.0)))
    return Character(
        kind,
        _most_common(blockings) if kind in (kinds.TARGETED_BLOCK, kinds.NETWORK_SHUTDOWN) else None,
        _most_common(details),
        basis,
    )


def _most_common(counter: Counter[str]) -> str | None:
    if not counter:
        return None
    return min(counter, key=lambda name: (-counter[name], name))


def probe_confidence(raw: RawWindow, basis: str) -> float:
    """One probe's window: its basis's worth, raised by repetition."""
    return kinds.BASES.get(basis, 0.5) * (1 - 0.5**raw.failing)


def combined_confidence(confidences: Iterable[float], seeing: int, measuring: int) -> float:
    doubt = 1.0
    for confidence in confidences:
        doubt *= 1 - confidence
    agreement = seeing / measuring if measuring else 1.0
    return (1 - doubt) * (0.5 + 0.5 * min(agreement, 1.0))


def label(confidence: float) -> str:
    if confidence >= HIGH:
        return "high"
    return "medium" if confidence >= MEDIUM else "low"


def drop(raw: RawWindow) -> float:
    """How far the window's reachability share fell below the series' usual share (0 to 1)."""
    if raw.share_points == 0 or raw.baseline <= 0:
        return 1.0
    inside = raw.share_sum / raw.share_points
    return max(0.0, min(1.0, 1 - inside / raw.baseline))


def minutes(start_min: str | None, start_max: str, end_min: str | None, end_max: str | None, last_bad: str) -> float:
    start = times.midpoint(start_min, start_max)
    end = times.midpoint(end_min, end_max) if end_max is not None else times.seconds(last_bad)
    return max(0.0, (end - start) / 60)
