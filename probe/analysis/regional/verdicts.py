"""One group's verdict in one time bin: up, down, down from silence (provisional), too few, or unknown.

Each member of the group (a probe declared in it and running) counts as *working* (up, blocked),
*down* (network_down), *silent* (a silent bin of an overdue probe from its first missed upload on,
at an hour it is usually not silent), *pending* (a bin after the last upload, of a probe still on
schedule or before its first missed upload) or *idle* (device_off, local_fault, a gap in what was
received, the silence of a laptop at the hour it is usually off). Then:

- **down** when the group has at least ``Rules.min_probes`` members, at least
  ``Rules.min_witnesses`` of them are down, at least ``Rules.down_share`` of the observed ones,
  and that many failing together is less likely by chance than ``Rules.chance`` (each probe's
  usual ``network_down`` rate at this hour, ``chance.tail``);
- **provisional** when at least ``Rules.min_probes`` fail counting the silent ones that stopped uploading
  together (``together``; the others are idle) as failing, with
  the same share (of the observed, silent and *pending* members: those still on schedule, whose
  rounds are simply not uploaded yet) and chance (each probe's usual chance of being silent at this
  hour: off, down or late);
- **few** when two or more are down, that share of the observed, but the group has fewer than
  ``Rules.min_probes`` members;
- **up** when at least ``Rules.up_share`` of the observed probes work;
- **unknown** otherwise (nobody observed, or a split group).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from probe.analysis.regional import chance
from probe.analysis.regional.availability import Availability
from probe.analysis.regional.rules import Rules


class Status(Enum):
    UP = "up"
    DOWN = "down"
    PROVISIONAL = "provisional"
    FEW = "few"
    UNKNOWN = "unknown"


FAILING = frozenset({Status.DOWN, Status.PROVISIONAL})


@dataclass
class Tally:
    working: list[str] = field(default_factory=list)
    down: list[str] = field(default_factory=list)
    silent: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    """Members on schedule whose rounds of this bin are not uploaded yet: presumed alive, not witnesses."""
    idle: list[str] = field(default_factory=list)
    """Members that say nothing in this bin: off, a local fault, a gap in what was received."""

    @property
    def members(self) -> int:
        return len(self.working) + len(self.down) + len(self.silent) + len(self.pending) + len(self.idle)

    @property
    def considered(self) -> int:
        """Members that could say whether the network fails: observed, silent or on schedule."""
        return len(self.working) + len(self.down) + len(self.silent) + len(self.pending)

    def without(self, excluded: set[str]) -> Tally:
        return Tally(
            [p for p in self.working if p not in excluded],
            [p for p in self.down if p not in excluded],
            [p for p in self.silent if p not in excluded],
            [p for p in self.pending if p not in excluded],
            [p for p in self.idle if p not in excluded],
        )


@dataclass(frozen=True)
class Judged:
    status: Status
    failing: tuple[str, ...]
    """The probes down (and, when provisional, silent)."""
    considered: int
    """Probes that could say: observed, plus silent ones when provisional."""
    tail: float
    """How likely that many failing together by chance (1.0 when not down)."""
    silent: int = 0
    members: int = 0
    """Probes of the group at that time, whatever they said."""


UNKNOWN = Judged(Status.UNKNOWN, (), 0, 1.0)


def together(silent: list[str], onsets: Mapping[str, tuple[float, float]], slack: float) -> tuple[list[str], list[str]]:
    """The silent probes that stopped uploading together, and the others.

    Each stopped in its span (after its last upload, by its first missed one); those whose spans, widened by
    ``slack`` on each side, share a moment stopped together, as a cut makes them. The most that share one (ties: the
    latest moment) are kept; a probe silent since long before or since long after (a stalled upload, a dead
    laptop) is apart: two such silences meeting by chance are no cut.
    """
    edges = sorted(
        [(onsets[p][0] - slack, 0, p) for p in silent] + [(onsets[p][1] + slack, 1, p) for p in silent],
    )
    best: set[str] = set()
    open_: set[str] = set()
    for _, closing, probe in edges:
        if closing:
            open_.discard(probe)
        else:
            open_.add(probe)
            if len(open_) >= len(best):
                best = set(open_)
    return [p for p in silent if p in best], [p for p in silent if p not in best]


def judge(tally: Tally, hour: int, usual: Mapping[str, Availability], rules: Rules) -> Judged:
    observed = len(tally.working) + len(tally.down)
    enough = tally.members >= rules.min_probes
    if enough and len(tally.down) >= rules.min_witnesses and len(tally.down) >= rules.down_share * observed:
        probabilities = [usual[p].down_at(hour) for p in (*tally.working, *tally.down)]
        odds = chance.tail(probabilities, len(tally.down))
        if odds <= rules.chance:
            return Judged(Status.DOWN, tuple(sorted(tally.down)), observed, odds, 0, tally.members)
    failing = len(tally.down) + len(tally.silent)
    considered = tally.considered
    if tally.silent and failing >= rules.min_probes and failing >= rules.down_share * considered:
        probabilities = [usual[p].down_at(hour) for p in (*tally.working, *tally.down)]
        probabilities += [usual[p].silent_at(hour) for p in tally.silent]
        odds = chance.tail(probabilities, failing)
        if odds <= rules.chance:
            return Judged(
                Status.PROVISIONAL,
                tuple(sorted((*tally.down, *tally.silent))),
                considered,
                odds,
                len(tally.silent),
                tally.members,
            )
    if not enough and len(tally.down) >= 2 and len(tally.down) >= rules.down_share * observed:
        return Judged(Status.FEW, tuple(sorted(tally.down)), observed, 1.0, 0, tally.members)
    if observed and len(tally.working) >= rules.up_share * observed:
        return Judged(Status.UP, (), observed, 1.0)
    return Judged(Status.UNKNOWN, tuple(sorted(tally.down)), observed, 1.0)
