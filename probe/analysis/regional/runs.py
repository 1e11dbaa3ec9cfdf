"""Windows of one key over bins by hysteresis: open after k labelled bins, close after k good ones.

    closed --open_after labelled bins--> open --close_after good bins--> closed
            (a good bin resets)                (a labelled bin resets: a flap stays inside)

Bins that neither label the key nor speak against it (nobody observed, a split group) are skipped:
a long cut through a night when most laptops are off stays one window.

``widened``: while a cut is known from silence alone, its narrower places come first (the probes that upload
often are overdue first, so a national shutdown begins as some areas' cuts, an area's cut as a district's or as
its mobile cut); when a wider shutdown then meets them, those provisional windows were its beginning: they are
folded into it (its start, its probes) and named in its ``revises``, never reported beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from probe.analysis.regional import kinds
from probe.analysis.regional.labels import Key
from probe.analysis.regional.verdicts import Judged, Status


@dataclass
class Run:
    key: Key
    first: int
    """The first labelled bin."""
    last: int
    """The last labelled bin."""
    close: int | None = None
    """The first good bin of the closing streak (None: still open)."""
    probes: set[str] = field(default_factory=set)
    provisional: bool = False
    peak: Judged | None = None
    """The bin with the most probes failing (ties: the least likely by chance)."""
    peak_bin: int = 0
    bins: int = 0
    revises: set[Key] = field(default_factory=set)
    """The provisional windows of narrower places folded into this one (``widened``)."""

    def add(self, number: int, judged: Judged) -> None:
        self.last = number
        self.bins += 1
        self.probes.update(judged.failing)
        self.provisional = self.provisional or judged.status is Status.PROVISIONAL
        if self.peak is None or (len(judged.failing), -judged.tail) > (len(self.peak.failing), -self.peak.tail):
            self.peak, self.peak_bin = judged, number


class Tracker:
    __slots__ = ("_good", "_good_first", "_pending", "close_after", "key", "open_after", "run")

    def __init__(self, key: Key, open_after: int, close_after: int) -> None:
        self.key = key
        self.open_after = open_after
        self.close_after = close_after
        self.run: Run | None = None
        self._pending: list[tuple[int, Judged]] = []
        self._good = 0
        self._good_first = 0

    @property
    def idle(self) -> bool:
        return self.run is None and not self._pending

    def labelled(self, number: int, judged: Judged) -> None:
        if self.run is not None:
            self._good = 0
            self.run.add(number, judged)
            return
        self._pending.append((number, judged))
        if len(self._pending) >= self.open_after:
            run = Run(self.key, self._pending[0][0], number)
            for pending in self._pending:
                run.add(*pending)
            self.run = run
            self._pending = []

    def good(self, number: int) -> Run | None:
        """A bin against the key; the run it closes, if any."""
        self._pending = []
        if self.run is None:
            return None
        if self._good == 0:
            self._good_first = number
        self._good += 1
        if self._good < self.close_after:
            return None
        run, self.run = self.run, None
        run.close = self._good_first
        self._good = 0
        return run

    def finish(self) -> Run | None:
        run, self.run = self.run, None
        return run


WIDER = {
    kinds.NATIONAL_SHUTDOWN: frozenset({kinds.REGIONAL_SHUTDOWN, kinds.MOBILE_SHUTDOWN}),
    kinds.REGIONAL_SHUTDOWN: frozenset({kinds.REGIONAL_SHUTDOWN, kinds.MOBILE_SHUTDOWN}),
}
"""The full shutdowns, and the kinds of provisional window inside their place that may be their beginning."""


def widened(runs: list[Run]) -> list[Run]:
    """``runs`` with each provisional shutdown of a place inside (or, for a mobile cut, at) a wider shutdown's place,
    whose span meets it, folded into the widest such (ties: the earliest)."""
    wide = sorted((run for run in runs if run.key.kind in WIDER), key=lambda run: (_width(run.key), run.first))
    folded: set[int] = set()
    for run in sorted(runs, key=lambda run: -_width(run.key) if run.key.kind in WIDER[kinds.NATIONAL_SHUTDOWN] else 0):
        if not run.provisional or run.key.kind not in WIDER[kinds.NATIONAL_SHUTDOWN]:
            continue
        into = next((other for other in wide if other is not run and _inside(run, other) and _meet(run, other)), None)
        if into is not None:
            into.first = min(into.first, run.first)
            into.probes |= run.probes
            into.provisional = True
            into.revises |= {run.key, *run.revises}
            folded.add(id(run))
    return [run for run in runs if id(run) not in folded]


def _width(key: Key) -> int:
    return {"country": 0, "area": 1, "district": 2}.get(key.group.scope, 3)


def _inside(run: Run, other: Run) -> bool:
    """Whether ``run``'s place lies inside ``other``'s: narrower, or the same for a mobile cut in a full one."""
    if run.key.kind not in WIDER[other.key.kind]:
        return False
    group, place = run.key.group, other.key.group
    if run.key.kind == kinds.MOBILE_SHUTDOWN and group == place:
        return True
    while group.parent is not None:
        group = group.parent
        if group == place:
            return True
    return False


def _meet(run: Run, other: Run) -> bool:
    end = run.close if run.close is not None else run.last + 1
    other_end = other.close if other.close is not None else other.last + 1
    return run.first <= other_end and other.first <= end
