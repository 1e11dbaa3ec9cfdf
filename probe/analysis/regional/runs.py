"""Windows of one key over bins by hysteresis: open after k labelled bins, close after k good ones.

    closed --open_after labelled bins--> open --close_after good bins--> closed
            (a good bin resets)                (a labelled bin resets: a flap stays inside)

Bins that neither label the key nor speak against it (nobody observed, a split group) are skipped:
a long cut through a night when most laptops are off stays one window.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
