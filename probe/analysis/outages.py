"""``find_outages``: the outage windows of a database, for a target, a network and a stretch of time.

Two passes, each one streaming read of the database (SQLite, or a collector's PostgreSQL):

1. the network: each probe's network series (``sources.network_points``), through hysteresis,
   gives the whole-network windows; and the rounds in which every target failed (only these,
   picked by the database, ``sources.down_runs``, when whole-network windows are not asked for), so that
2. the targets: each (probe, target) series (``sources.measurement_rows``) does not count a
   failure that the network explains.

Series are read from ``margin`` seconds before ``since`` to ``margin`` after ``until`` so that a
window crossing either edge keeps its true bounds; windows that overlap ``[since, until)`` are
returned, per probe, or merged per network or region (``probe.analysis.aggregate``).

On a collector whose probes declared their places (``has_places``), each whole-network window of a kind the
regional detection judges carries its extent (``probe.analysis.extent``): the country's, parts of it (a district
cut off, a mobile-only cut), or probes alone; three probes of one district cut off are not the network down.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from probe.analysis import kinds, observe, times
from probe.analysis.aggregate import Coverage, aggregate
from probe.analysis.extent import qualify
from probe.analysis.hysteresis import Hysteresis, RawWindow, SeriesKey, Tracker
from probe.analysis.regional import RegionalWindow, Rules
from probe.analysis.regional.query import RegionalQuery, find_regional, has_places
from probe.analysis.sources import Span, down_runs, measurement_rows, network_points
from probe.analysis.windows import SCOPES, Window
from probe.errors import ProbeError
from probe.storage.connection import Connection

DEFAULT_MARGIN = 2 * 86400.0
"""Seconds read beyond each end of the asked period, to find the bounds of windows crossing it."""
SMS_EXTRA_ROUNDS = 1
"""One more bad round to open an SMS window: operators lose a few percent of SMS on a normal day."""


@dataclass(frozen=True)
class OutageQuery:
    since: str | None = None
    until: str | None = None
    target: str | None = None
    """An input, a host name (its URLs and host:port inputs), or ``network`` for whole-network windows only."""
    network: str | None = None
    """An ASN: only that network's probes."""
    by: str = "network"
    """``probe``, ``network`` or ``region``: what windows are merged across."""
    hysteresis: Hysteresis = field(default_factory=Hysteresis)
    margin: float = DEFAULT_MARGIN
    rules: Rules | None = None
    """Regional detection's, for the windows' extent on a collector with declared places (None: the shipped)."""

    def __post_init__(self) -> None:
        if self.by not in SCOPES:
            raise ProbeError(f"windows are grouped by one of {', '.join(SCOPES)}, not {self.by!r}")

    @property
    def wants_network(self) -> bool:
        return self.target in (None, kinds.NETWORK_TARGET)

    @property
    def wants_targets(self) -> bool:
        return self.target != kinds.NETWORK_TARGET

    def span(self) -> Span:
        return Span(
            times.shifted(self.since, -self.margin) if self.since else None,
            times.shifted(self.until, self.margin) if self.until else None,
        )


@dataclass
class _Found:
    raws: list[RawWindow] = field(default_factory=list)
    coverage: list[Coverage] = field(default_factory=list)

    def finish(self, trackers: Iterable[Tracker]) -> None:
        for tracker in trackers:
            window = tracker.finish()
            if window is not None:
                self.raws.append(window)
            if tracker.first_time is not None and tracker.last_time is not None:
                self.coverage.append(Coverage(tracker.key, tracker.first_time, tracker.last_time))


def find_outages(
    conn: Connection, query: OutageQuery, regional: Sequence[RegionalWindow] | None = None
) -> list[Window]:
    """The outage windows ``query`` asks for, ordered by start; with their extent on a collector with declared
    places, from ``regional`` (its regional windows over the period, when the caller has them) or found here."""
    span = query.span()
    found = _Found()
    down = _network(conn, span, query, found)
    if query.wants_targets:
        _targets(conn, span, query, down, found)
    windows = aggregate(found.raws, found.coverage, query.by)
    windows = [window for window in windows if _overlaps(window, query.since, query.until)]
    if regional is None and query.wants_network and has_places(conn):
        regional = find_regional(conn, RegionalQuery(since=query.since, until=query.until, rules=query.rules))
    return windows if regional is None else qualify(windows, regional)


def _overlaps(window: Window, since: str | None, until: str | None) -> bool:
    if until is not None and window.start_max >= until:
        return False
    return since is None or window.end_max is None or window.end_max > since


def _network(conn: Connection, span: Span, query: OutageQuery, found: _Found) -> set[str]:
    """Feed the network series; the runs in which every target failed (no controls to say more)."""
    if not query.wants_network:
        return down_runs(conn, span, network=query.network)
    runs: set[str] = set()
    trackers: dict[tuple[str, str, str], Tracker] = {}
    for point in network_points(conn, span, network=query.network):
        if point.mark is observe.Mark.BAD and not point.from_controls:
            runs.add(point.run_id)
        tracker = trackers.get((point.probe, point.network, point.region))
        if tracker is None:
            key = SeriesKey(point.probe, kinds.NETWORK_TARGET, point.network, point.region)
            tracker = trackers[point.probe, point.network, point.region] = Tracker(key, query.hysteresis)
        closed = tracker.observe(point.time, point.run_id, point.mark, point.evidence, point.share)
        if closed is not None:
            found.raws.append(closed)
    found.finish(trackers.values())
    return runs


@lru_cache(maxsize=1 << 16)
def _said(
    experiment: str,
    verdict: str | None,
    blocking: str | None,
    detail: str | None,
    failure: str | None,
    failed_step: str | None,
    confirmed: bool,
    state: str | None,
    round_down: bool,
) -> observe.Said:
    return observe.measurement(
        experiment=experiment,
        verdict=verdict,
        blocking=blocking,
        detail=detail,
        failure=failure,
        failed_step=failed_step,
        confirmed=confirmed,
        network_state=state,
        round_down=round_down,
    )


def _targets(conn: Connection, span: Span, query: OutageQuery, down: set[str], found: _Found) -> None:
    sms_rules = Hysteresis(query.hysteresis.open_after + SMS_EXTRA_ROUNDS, query.hysteresis.close_after)
    trackers: dict[tuple[str, str, str, str], Tracker] = {}
    current = None
    rows = measurement_rows(conn, span, target=query.target, network=query.network)
    for probe, target, experiment, started_at, run_id, *judged, asn, cc in rows:
        verdict, blocking, detail, failure, step, confirmed, state = judged
        if target != current:
            found.finish(trackers.values())  # rows come by input: the last input's series are complete
            trackers.clear()
            current = target
        tracker = trackers.get((probe, target, asn, cc))
        if tracker is None:
            rules = sms_rules if experiment == "sms" else query.hysteresis
            tracker = trackers[probe, target, asn, cc] = Tracker(SeriesKey(probe, target, asn, cc), rules)
        mark, evidence = _said(
            experiment, verdict, blocking, detail, failure, step, bool(confirmed), state, run_id in down
        )
        closed = tracker.observe(started_at, run_id or started_at, mark, evidence)  # no run: a round of its own
        if closed is not None:
            found.raws.append(closed)
    found.finish(trackers.values())
