"""From one probe's windows to a network's or a region's: overlapping windows become one.

Windows of the same target (or of the network) seen by probes of one network (ASN) or one region
(country code) are merged when they could be the same event: their possible spans, from
``start_min`` to ``end_max``, overlap. The merged window starts with the first probe's and ends
with the last one's, so its bounds are the earliest ``start_min`` and ``start_max`` and the latest
``end_min`` and ``end_max`` (unknown when any is). ``probes_total`` counts the probes of that
network or region that measured the target while the window lasted; scores follow
``probe.analysis.scoring``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from probe.analysis import scoring
from probe.analysis.hysteresis import RawWindow, SeriesKey
from probe.analysis.observe import Evidence
from probe.analysis.windows import Window

_ONGOING = "~"
"""Sorts after every time text: the end of a window still open."""


@dataclass(frozen=True)
class Coverage:
    """When one series had points at all: who was measuring."""

    key: SeriesKey
    first: str
    last: str


def probe_window(raw: RawWindow) -> Window:
    found = scoring.character(raw.evidence)
    duration = scoring.minutes(raw.start_min, raw.start_max, raw.end_min, raw.end_max, raw.last_bad)
    return Window(
        scope="probe",
        target=raw.key.target,
        kind=found.kind,
        blocking=found.blocking,
        blocking_detail=found.detail,
        start_min=raw.start_min,
        start_max=raw.start_max,
        end_min=raw.end_min,
        end_max=raw.end_max,
        last_bad=raw.last_bad,
        measurements=raw.measurements,
        failing=raw.failing,
        probes=1,
        probes_total=1,
        network=raw.key.network,
        region=raw.key.region,
        probe=raw.key.probe,
        confidence=round(scoring.probe_confidence(raw, found.basis), 3),
        severity=round(scoring.drop(raw) * duration, 1),
        basis=found.basis,
        seen_by=(raw.key.probe,),
    )


def aggregate(raws: Iterable[RawWindow], coverage: Iterable[Coverage], scope: str) -> list[Window]:
    """Windows per ``scope``: ``probe`` (as found), ``network`` or ``region`` (merged)."""
    if scope == "probe":
        windows = [probe_window(raw) for raw in raws]
    else:
        group: Callable[[SeriesKey], str] = _network if scope == "network" else _region
        measuring: dict[tuple[str, str], list[Coverage]] = defaultdict(list)
        for seen in coverage:
            measuring[group(seen.key), seen.key.target].append(seen)
        grouped: dict[tuple[str, str], list[RawWindow]] = defaultdict(list)
        for raw in raws:
            grouped[group(raw.key), raw.key.target].append(raw)
        windows = [
            _merged(cluster, scope, name, measuring[name, target])
            for (name, target), members in grouped.items()
            for cluster in _clusters(members)
        ]
    return sorted(windows, key=lambda window: (window.start_max, window.target, window.network, window.probe))


def _network(key: SeriesKey) -> str:
    return key.network


def _region(key: SeriesKey) -> str:
    return key.region


def _clusters(raws: list[RawWindow]) -> list[list[RawWindow]]:
    """Windows whose possible spans overlap, chained."""
    clusters: list[list[RawWindow]] = []
    reach = ""
    for raw in sorted(raws, key=lambda raw: raw.start_min or raw.start_max):
        ends = raw.end_max or _ONGOING
        if clusters and (raw.start_min or raw.start_max) <= reach:
            clusters[-1].append(raw)
            reach = max(reach, ends)
        else:
            clusters.append([raw])
            reach = ends
    return clusters


def _merged(cluster: Sequence[RawWindow], scope: str, name: str, measuring: Sequence[Coverage]) -> Window:
    evidence: Counter[Evidence] = Counter()
    for raw in cluster:
        evidence.update(raw.evidence)
    found = scoring.character(evidence)
    start_max = min(raw.start_max for raw in cluster)
    last_bad = max(raw.last_bad for raw in cluster)
    starts = [raw.start_min for raw in cluster]
    start_min = None if None in starts else min(start for start in starts if start is not None)
    ongoing = any(raw.end_max is None for raw in cluster)
    end_min = None if ongoing else max(raw.end_min or raw.last_bad for raw in cluster)
    end_max = None if ongoing else max(raw.end_max or raw.last_bad for raw in cluster)
    seeing = {raw.key.probe for raw in cluster}
    present = {seen.key.probe for seen in measuring if seen.first <= last_bad and seen.last >= start_max}
    total = len(present | seeing)
    best: dict[str, float] = {}
    for raw in cluster:
        confidence = scoring.probe_confidence(raw, scoring.character(raw.evidence).basis)
        best[raw.key.probe] = max(best.get(raw.key.probe, 0.0), confidence)
    confidence = scoring.combined_confidence(best.values(), len(seeing), total)
    drop = sum(scoring.drop(raw) for raw in cluster) / len(cluster) * len(seeing) / total
    duration = scoring.minutes(start_min, start_max, end_min, end_max, last_bad)
    regions = Counter(raw.key.region for raw in cluster)
    return Window(
        scope=scope,
        target=cluster[0].key.target,
        kind=found.kind,
        blocking=found.blocking,
        blocking_detail=found.detail,
        start_min=start_min,
        start_max=start_max,
        end_min=end_min,
        end_max=end_max,
        last_bad=last_bad,
        measurements=sum(raw.measurements for raw in cluster),
        failing=sum(raw.failing for raw in cluster),
        probes=len(seeing),
        probes_total=total,
        network=name if scope == "network" else ",".join(sorted({raw.key.network for raw in cluster})),
        region=regions.most_common(1)[0][0] if scope == "network" else name,
        probe="",
        confidence=round(confidence, 3),
        severity=round(drop * duration, 1),
        basis=found.basis,
        seen_by=tuple(sorted(seeing)),
    )
