"""One probe's state in every time bin, from the batches the collector holds at a given moment.

The batches received by ``as_of`` are deduplicated (a batch received twice counts once), sorted by
a key of their own (never by arrival order) and their rounds merged, the first copy of a round
kept: the same set of batches gives the same timeline whatever order they came in. Then, bin by bin
(``kinds`` names the states):

- a bin holding rounds takes the most telling of them (``network_down``, then ``international_cut``,
  ``blocked``, ``degraded``, ``up``, ``local_fault``);
- a bin without one, just after a round, takes that round's state (a round speaks for its own
  interval, with ``Rules.carry_intervals`` of slack for jitter), unless the next round says the
  machine was off in between;
- otherwise the bin is ``device_off`` when a received batch covers it (the probe uploaded that span
  and made no round in it: the machine was off), and ``silent`` when none does yet.

A probe is *overdue* when nothing arrived for ``Rules.overdue_uploads`` of its announced upload intervals after its
last upload, and a grace of its own after that: how late its batches usually arrive once made
(``Rules.overdue_lateness``), and at least ``Rules.overdue_rounds`` round intervals. Its silent bins then count as
possible cuts (``verdicts``), as likely to be mere lateness as the share of its batches that came later still
(``late_share``: the longer the silence, the smaller, so a probe whose uploads stall now and then is a weak witness
at first, a stronger one later). When the collector was not listening in between (``listening.gaps``), the clock
starts after the resume instead (``listening.silence_from``), and a batch held back by the gap is not late.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from probe.analysis.regional import kinds
from probe.analysis.regional.kinds import BinState
from probe.analysis.regional.listening import Gap, silence_from
from probe.analysis.regional.model import Batch, Declaration, Round
from probe.analysis.regional.rules import Rules

_TELLING: dict[str, int] = {
    kinds.NETWORK_DOWN: 0,
    kinds.INTERNATIONAL_CUT: 1,
    kinds.BLOCKED: 2,
    kinds.DEGRADED: 3,
    kinds.UP: 4,
    kinds.LOCAL_FAULT: 5,
}


@dataclass(frozen=True)
class ProbeTimeline:
    probe: str
    first_bin: int
    """Bin number (``start // bin_seconds``) of ``states[0]``."""
    states: tuple[BinState, ...]
    declarations: tuple[Declaration, ...]
    """The declaration in force in each bin."""
    deciding: tuple[int, ...]
    """Each bin's deciding round (an index into ``rounds``; -1 for device_off and silent bins)."""
    starts: tuple[float, ...]
    """The probe's rounds, in time order (for bounds)."""
    rounds: tuple[Round, ...]
    last_upload: float
    """The end of the latest span received."""
    silence_from: float
    """When its overdue clock starts: ``last_upload``, or after a collector's gap the resume plus its backoff."""
    overdue: bool
    """Nothing arrived for its upload interval and ``grace`` after its last upload."""
    late_share: float
    """Share of its batches that arrived later after being made than ``grace``, or, when it is overdue, than its
    next batch is already: how likely a working probe is this late (its usual lateness)."""
    grace: float
    """How late its next upload may be before it is overdue (``Rules.overdue_lateness``, ``Rules.overdue_rounds``)."""

    def state(self, number: int) -> BinState:
        index = number - self.first_bin
        if 0 <= index < len(self.states):
            return self.states[index]
        return kinds.ABSENT if index < 0 else kinds.SILENT

    def round_at(self, number: int) -> Round | None:
        """The round that decided a bin, if any."""
        index = number - self.first_bin
        if 0 <= index < len(self.deciding) and self.deciding[index] >= 0:
            return self.rounds[self.deciding[index]]
        return None

    def declaration(self, number: int) -> Declaration:
        index = min(max(number - self.first_bin, 0), len(self.declarations) - 1)
        return self.declarations[index]

    def round_before(self, time: float) -> int:
        """Index of the last round starting before ``time`` (-1: none)."""
        return bisect.bisect_left(self.starts, time) - 1


def _batch_key(batch: Batch) -> tuple[float, float, float, str, int]:
    return (batch.covers_from, batch.covers_to, batch.received, repr(batch.declaration), len(batch.rounds))


def timelines(
    batches: Iterable[Batch], as_of: float, rules: Rules, since: float | None = None, gaps: Sequence[Gap] = ()
) -> dict[str, ProbeTimeline]:
    """Every probe's timeline from the batches received by ``as_of``, up to ``as_of`` (from ``since``); ``gaps``:
    when the collector was not listening (``listening.gaps``)."""
    by_probe: dict[str, list[Batch]] = {}
    for batch in batches:
        if batch.received <= as_of:
            by_probe.setdefault(batch.probe, []).append(batch)
    found = {}
    for probe in sorted(by_probe):
        timeline = _timeline(probe, sorted(set(by_probe[probe]), key=_batch_key), as_of, rules, since, gaps)
        if timeline is not None:
            found[probe] = timeline
    return found


def _timeline(
    probe: str, batches: Sequence[Batch], as_of: float, rules: Rules, since: float | None, gaps: Sequence[Gap]
) -> ProbeTimeline | None:
    merged: dict[float, tuple[Round, Declaration]] = {}
    for batch in batches:
        for item in batch.rounds:
            if item.start <= as_of:
                merged.setdefault(item.start, (item, batch.declaration))
    if not merged:
        return None
    starts = sorted(merged)
    rounds = [merged[start][0] for start in starts]
    spans = _merged_spans((batch.covers_from, batch.covers_to) for batch in batches)
    latest = max(batches, key=lambda batch: (batch.covers_to, _batch_key(batch)))
    upload = latest.declaration.schedule.upload_interval
    last_upload = latest.covers_to
    width = rules.bin_seconds
    first = math.floor(starts[0] / width)
    if since is not None:
        first = max(first, math.floor(since / width))
    end = max(math.ceil(as_of / width), first + 1)
    states: list[BinState] = []
    declarations: list[Declaration] = []
    deciding: list[int] = []
    after = 0  # index of the first round starting at or after the current bin's start
    span = 0
    for number in range(first, end):
        low, high = number * width, (number + 1) * width
        while after < len(starts) and starts[after] < low:
            after += 1
        inside = after
        while inside < len(starts) and starts[inside] < high:
            inside += 1
        while span < len(spans) and spans[span][1] <= low + width / 2:
            span += 1
        if inside > after:
            best = min(range(after, inside), key=lambda index: _TELLING[rounds[index].state])
            states.append(rounds[best].state)
            declarations.append(merged[starts[best]][1])
            deciding.append(best)
            continue
        previous = merged[starts[after - 1]] if after > 0 else None
        following = rounds[after] if after < len(rounds) else None
        covered = span < len(spans) and spans[span][0] <= low + width / 2
        if previous is None:
            states.append(kinds.DEVICE_OFF if covered else kinds.SILENT)
            declarations.append(merged[starts[0]][1])
            deciding.append(-1)
            continue
        last, declaration = previous
        interval = declaration.schedule.round_interval
        reach = interval if following is not None and following.machine_off else interval * rules.carry_intervals
        if low < last.start + reach:
            states.append(last.state)
            deciding.append(after - 1)
        else:
            states.append(kinds.DEVICE_OFF if covered else kinds.SILENT)
            deciding.append(-1)
        declarations.append(declaration)
    lateness = sorted(_lateness(batch, rules, gaps) for batch in batches)
    usual = lateness[min(len(lateness) - 1, math.floor(rules.overdue_lateness * len(lateness)))]
    grace = max(usual, rules.overdue_rounds * latest.declaration.schedule.round_interval)
    clock = silence_from(last_upload, upload, gaps, rules)
    due = clock + rules.overdue_uploads * upload
    waited = max(grace, as_of - due)  # how late its next batch is already, if it is
    late = len(lateness) - bisect.bisect_right(lateness, waited)
    return ProbeTimeline(
        probe=probe,
        first_bin=first,
        states=tuple(states),
        declarations=tuple(declarations),
        deciding=tuple(deciding),
        starts=tuple(starts),
        rounds=tuple(rounds),
        last_upload=last_upload,
        silence_from=clock,
        overdue=as_of > due + grace,
        late_share=late / len(batches),
        grace=grace,
    )


def _lateness(batch: Batch, rules: Rules, gaps: Sequence[Gap]) -> float:
    """How long after being made a batch arrived (a collector's gap and the backoff after it excused)."""
    upload = batch.declaration.schedule.upload_interval
    return max(0.0, batch.received - silence_from(batch.covers_to, upload, gaps, rules))


def _merged_spans(spans: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for low, high in sorted(spans):
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged
