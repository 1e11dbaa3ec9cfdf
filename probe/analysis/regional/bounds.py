"""A window's bounds from the rounds of the probes that saw it: start in [last good, first bad], end in
[last bad, first good].

A round takes time (its controls run at its start and at its end), so a round is placed by its start where
that bounds from below (the last good round, the last bad one: its network was as it says then or after) and
by when it saw its state (``Round.seen_at``) where that bounds from above (the first bad round, the first good
one): a cut that strikes while a round runs makes it bad though it started before the cut.

Each probe that saw a window is a witness: its last good round before the window and its first
bad round inside (and, at the end, its last bad round and its first good one after). A cut need
not strike every witness at one moment, so the bounds are those of its *first* onset and its *last*
return, which hold either way:

- the first onset is at or before the earliest first-bad round, and after the last good round of a
  witness whose two rounds are consecutive (no more than ``Rules.carry_intervals`` of its round
  interval apart; the earliest such), since one of the witnesses was struck first;
- the last return is after the latest last-bad round, and at or before the first good round of a
  consecutive witness (the latest such).

With three witnesses or more, the earliest first-bad and the latest last-bad rounds are taken from
the second witness, not the first: a witness's own failing round next to the cut (its line, its
Wi-Fi) would otherwise move the bound past the truth. A lone failing round is no witness at all,
nor is a probe whose streak began before the window (or goes on after it: another event, such as a
mobile cut around a district cut). Witnesses whose rounds are not consecutive (off just before, or
just after) bound only when no consecutive one does. A witness known only by its silence has no
first bad round: its last good round still bounds the start from below, and its first missed
upload (its last upload, or after a collector's outage the resume plus its backoff: ``listening``;
plus one upload and one round interval) from above.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from probe.analysis.regional.model import Round
from probe.analysis.regional.timeline import ProbeTimeline

Test = Callable[[Round], bool]
Pair = tuple[float | None, float | None]


@dataclass(frozen=True)
class Bounds:
    low: float | None
    high: float

    @property
    def middle(self) -> float:
        return self.high if self.low is None else (self.low + self.high) / 2


@dataclass(frozen=True)
class Witness:
    before: float | None
    """The last good round before (start), or the last bad round (end)."""
    after: float | None
    """The first bad round (start), or the first good round after (end)."""
    gap: float
    """How far apart its two rounds may be to count as consecutive."""

    @property
    def consecutive(self) -> bool:
        return self.before is not None and self.after is not None and self.after - self.before <= self.gap


def _second(ordered: list[float]) -> float:
    """The second of three or more (the first of fewer): one witness's own trouble moves no bound."""
    return ordered[1] if len(ordered) >= 3 else ordered[0]


def first_onset(witnesses: Iterable[Witness]) -> Bounds | None:
    witnesses = list(witnesses)
    highs = [w.after for w in witnesses if w.after is not None]
    if not highs:
        return None
    high = _second(sorted(highs))
    lows = [w.before for w in witnesses if w.consecutive and w.before is not None and w.before < high]
    lows = lows or [w.before for w in witnesses if w.before is not None and w.before < high]
    return Bounds(min(lows) if lows else None, high)


def last_return(witnesses: Iterable[Witness]) -> Bounds | None:
    witnesses = list(witnesses)
    lows = [w.before for w in witnesses if w.before is not None]
    if not lows:
        return None
    low = _second(sorted(lows, reverse=True))
    highs = [w.after for w in witnesses if w.consecutive and w.after is not None and w.after > low]
    highs = highs or [w.after for w in witnesses if w.after is not None and w.after > low]
    return Bounds(low, max(highs)) if highs else None


def _streak(line: ProbeTimeline, index: int, bad: Test) -> bool:
    """Whether the bad round at ``index`` has a bad neighbour: a lone failing round is noise, not a witness."""
    before = index > 0 and bad(line.rounds[index - 1])
    return before or (index + 1 < len(line.rounds) and bad(line.rounds[index + 1]))


def start_witness(line: ProbeTimeline, since: float, until: float, bad: Test, good: Test) -> Pair:
    """A probe's last good round before its first bad streak in [since, until), and that streak's first round.

    (None, None) when the streak began before ``since``: the probe was down already (another event), so it
    witnesses nothing about this one's start.
    """
    index = line.round_before(since) + 1
    while index < len(line.rounds) and line.starts[index] < until:
        if bad(line.rounds[index]) and _streak(line, index, bad):
            break
        index += 1
    else:
        return _last_good(line, line.round_before(until), good), None  # silent since: its last good round
    if index > 0 and bad(line.rounds[index - 1]):
        return None, None
    return _last_good(line, index - 1, good), line.rounds[index].seen_at


def _last_good(line: ProbeTimeline, index: int, good: Test) -> float | None:
    while index >= 0 and not good(line.rounds[index]):
        index -= 1
    return line.starts[index] if index >= 0 else None


def end_witness(line: ProbeTimeline, since: float, until: float, bad: Test, good: Test) -> Pair:
    """A probe's last bad round of a streak in [since, until), and its first good round after.

    (None, None) when the streak goes on past ``until``: the probe stayed down (another event), so it
    witnesses nothing about this one's end.
    """
    index = line.round_before(until)
    while index >= 0 and line.starts[index] >= since:
        if bad(line.rounds[index]) and _streak(line, index, bad):
            break
        index -= 1
    else:
        return None, None
    if index < 0 or line.starts[index] < since:
        return None, None
    if index + 1 < len(line.rounds) and bad(line.rounds[index + 1]):
        return None, None
    after = index + 1
    while after < len(line.rounds) and not good(line.rounds[after]):
        after += 1
    return line.starts[index], (line.rounds[after].seen_at if after < len(line.rounds) else None)
