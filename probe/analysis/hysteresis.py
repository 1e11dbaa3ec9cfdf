"""Windows in one series by hysteresis: open after k bad rounds in a row, close after k good ones.

A series is one target seen by one probe (a measurement a round), or one probe's network (its
controls at the start and end of each round, or its rounds' counts). Points arrive in time order;
``Tracker.observe`` returns a window when one closes, ``Tracker.finish`` the one still open.

    closed --k bad rounds in a row--> open --k good rounds in a row--> closed
            (a good point resets)            (a bad point resets: a flap stays inside)

Neutral points (nothing known about the series) neither open nor close. Counting rounds, not
points, keeps a round's two network contexts from counting twice.

Bounds, not points: the window started after its last good point and at or before its first bad
one (``start_min`` < start <= ``start_max``); it ended at or after its last bad point and before
the first good point of the closing streak (``end_min`` <= end < ``end_max``). ``start_min`` is None
when the series begins bad (the data does not reach back to a good point); both ends are None
while the window is open. A single bad round on a flaky link opens nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from probe.analysis.observe import Evidence, Mark

DEFAULT_OPEN_AFTER = 2
DEFAULT_CLOSE_AFTER = 2


@dataclass(frozen=True)
class Hysteresis:
    open_after: int = DEFAULT_OPEN_AFTER
    """Bad rounds in a row that open a window (1: every failure is an outage)."""
    close_after: int = DEFAULT_CLOSE_AFTER
    """Good rounds in a row that close it."""

    def __post_init__(self) -> None:
        if self.open_after < 1 or self.close_after < 1:
            raise ValueError("hysteresis needs at least one round to open and one to close a window")


@dataclass(frozen=True)
class SeriesKey:
    probe: str
    """The probe's id at a collector; "" for a probe's own database."""
    target: str
    """The input, or ``kinds.NETWORK_TARGET`` for the probe's network."""
    network: str
    """The probe's ASN (``AS...``), "" when unknown."""
    region: str
    """The probe's country code, "" when unknown."""


@dataclass
class RawWindow:
    """One window of one series, before aggregation and scoring."""

    key: SeriesKey
    start_min: str | None
    start_max: str
    last_bad: str
    end_min: str | None = None
    end_max: str | None = None
    measurements: int = 0
    """Points from the first bad to the last bad one, flaps and neutral ones included."""
    failing: int = 0
    rounds: set[str] = field(default_factory=set)
    """Rounds with a bad point."""
    evidence: Counter[Evidence] = field(default_factory=Counter)
    share_sum: float = 0.0
    share_points: int = 0
    baseline: float = 1.0
    """The series' usual reachability share before the window (for the relative drop)."""

    @property
    def ongoing(self) -> bool:
        return self.end_max is None

    def bad(self, time: str, round_id: str, found: Evidence, share: float) -> None:
        self.last_bad = time
        self.measurements += 1
        self.failing += 1
        self.rounds.add(round_id)
        self.evidence[found] += 1
        self.share_sum += share
        self.share_points += 1


class Tracker:
    """The hysteresis state of one series."""

    __slots__ = (
        "_good_first",
        "_good_points",
        "_good_rounds",
        "_good_share",
        "_good_share_points",
        "_good_shares",
        "_pending",
        "_pending_first",
        "_pending_neutral",
        "_pending_rounds",
        "first_time",
        "key",
        "last_good",
        "last_time",
        "rules",
        "window",
    )

    def __init__(self, key: SeriesKey, rules: Hysteresis) -> None:
        self.key = key
        self.rules = rules
        self.first_time: str | None = None
        self.last_time: str | None = None
        self.last_good: str | None = None
        self.window: RawWindow | None = None
        self._pending: list[tuple[str, str, Evidence, float]] = []
        self._pending_first: str | None = None
        self._pending_rounds: set[str] = set()
        self._pending_neutral = 0
        self._good_first: str | None = None
        self._good_rounds: set[str] = set()
        self._good_points = 0
        self._good_share = 0.0
        self._good_share_points = 0
        self._good_shares = [0.0, 0]  # sum and count of good shares while closed: the baseline

    def observe(
        self, time: str, round_id: str, mark: Mark, found: Evidence | None = None, share: float | None = None
    ) -> RawWindow | None:
        """Feed one point (in time order); the window it closes, if any."""
        if self.first_time is None:
            self.first_time = time
        self.last_time = time
        if self.window is None:
            self._closed(time, round_id, mark, found, share)
            return None
        return self._open(self.window, time, round_id, mark, found, share)

    def _closed(self, time: str, round_id: str, mark: Mark, found: Evidence | None, share: float | None) -> None:
        if mark is Mark.GOOD:
            self._reset_pending()
            self.last_good = time
            self._good_shares[0] += 1.0 if share is None else share
            self._good_shares[1] += 1
            return
        if mark is Mark.NEUTRAL:
            if self._pending_first is not None:
                self._pending_neutral += 1
            return
        assert found is not None
        if self._pending_first is None:
            self._pending_first = time
        self._pending.append((time, round_id, found, 0.0 if share is None else share))
        self._pending_rounds.add(round_id)
        if len(self._pending_rounds) < self.rules.open_after:
            return
        total, count = self._good_shares
        window = RawWindow(
            self.key, self.last_good, self._pending_first, time, baseline=total / count if count else 1.0
        )
        for point in self._pending:
            window.bad(*point)
        window.measurements += self._pending_neutral
        self.window = window
        self._reset_pending()

    def _open(
        self, window: RawWindow, time: str, round_id: str, mark: Mark, found: Evidence | None, share: float | None
    ) -> RawWindow | None:
        if mark is Mark.BAD:
            assert found is not None
            if self._good_first is not None:  # a flap: the good points stay inside the window
                window.measurements += self._good_points
                window.share_sum += self._good_share
                window.share_points += self._good_share_points
                self._reset_good()
            window.bad(time, round_id, found, 0.0 if share is None else share)
            return None
        if mark is Mark.NEUTRAL:
            if self._good_first is not None:
                self._good_points += 1
            else:
                window.measurements += 1
            return None
        if self._good_first is None:
            self._good_first = time
        self._good_points += 1
        self._good_share += 1.0 if share is None else share
        self._good_share_points += 1
        self._good_rounds.add(round_id)
        if len(self._good_rounds) < self.rules.close_after:
            return None
        window.end_min, window.end_max = window.last_bad, self._good_first
        self.window = None
        self.last_good = time
        self._reset_good()
        return window

    def finish(self) -> RawWindow | None:
        """The window still open when the series ends (its end unknown), if any."""
        window, self.window = self.window, None
        return window

    def _reset_pending(self) -> None:
        if self._pending_first is not None:
            self._pending.clear()
            self._pending_first = None
            self._pending_rounds.clear()
            self._pending_neutral = 0

    def _reset_good(self) -> None:
        self._good_first = None
        self._good_rounds.clear()
        self._good_points = 0
        self._good_share = 0.0
        self._good_share_points = 0
