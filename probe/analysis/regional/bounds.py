"""A window's bounds from the rounds of the probes that saw it: start in [last good, first bad], end in
[last bad, first good].

Each probe that saw a window is a witness: its last good round before the window and its first
bad round inside (and, at the end, its last bad round and first good one after). When the event
struck every witness at one moment, that moment lies after every last good round and at or before
every first bad one, so the bounds are the *tightest* the witnesses allow: the latest last-good,
the earliest first-bad. When the witnesses disagree (the tightest bounds cross: the event reached
them at different times), the bounds are the union, from the earliest to the latest.

A witness known only by its silence has no first bad round: its last received good round still
bounds the start from below, and its first missed upload (its last upload plus one upload and one
round interval) from above.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from probe.analysis.regional.model import Round
from probe.analysis.regional.timeline import ProbeTimeline

Test = Callable[[Round], bool]


@dataclass(frozen=True)
class Bounds:
    low: float | None
    high: float

    @property
    def middle(self) -> float:
        return self.high if self.low is None else (self.low + self.high) / 2


def tightest(lows: Iterable[float], highs: Iterable[float]) -> Bounds | None:
    lows, highs = list(lows), list(highs)
    if not highs:
        return None
    if not lows:
        return Bounds(None, min(highs))
    low, high = max(lows), min(highs)
    if low < high:
        return Bounds(low, high)
    low, high = min(lows), max(highs)
    return Bounds(low, high) if low < high else Bounds(None, high)


def start_witness(
    line: ProbeTimeline, since: float, until: float, bad: Test, good: Test
) -> tuple[float | None, float | None]:
    """A probe's last good round before its first bad one in [since, until), and that bad one (None: none)."""
    index = line.round_before(since) + 1
    while index < len(line.rounds) and line.starts[index] < until and not bad(line.rounds[index]):
        index += 1
    first_bad = line.starts[index] if index < len(line.rounds) and line.starts[index] < until else None
    before = index - 1 if first_bad is not None else line.round_before(until)
    while before >= 0 and not good(line.rounds[before]):
        before -= 1
    return (line.starts[before] if before >= 0 else None), first_bad


def end_witness(
    line: ProbeTimeline, since: float, until: float, bad: Test, good: Test
) -> tuple[float | None, float | None]:
    """A probe's last bad round in [since, until), and its first good round after (None: none)."""
    index = line.round_before(until)
    while index >= 0 and line.starts[index] >= since and not bad(line.rounds[index]):
        index -= 1
    if index < 0 or line.starts[index] < since:
        return None, None
    after = index + 1
    while after < len(line.rounds) and not good(line.rounds[after]):
        after += 1
    return line.starts[index], (line.starts[after] if after < len(line.rounds) else None)
