"""``find_regional``: a collector's regional windows for ``probe outages --by district|area``.

Reads the collector's batches (``sources.batches``) and sessions (``sources.listening``: a probe silent while the
collector was down is no witness), detects as of ``until`` (now when it is later or not
given: a batch received later is not known then) and keeps the windows that overlap ``[since, until)``: with
``by="district"`` every window, from a national shutdown down to one probe's device off; with ``by="area"`` all
but the districts'.
``area`` keeps the windows of that ISO 3166-2 area, and of its country's country-wide windows.

The time bin is ``bin_seconds`` when given, else the probes' usual round interval (``usual_bin``: the median of
each probe's latest declared interval), at most the rules' bin (``[collector.regional] bin_seconds``, 10 minutes
unset): probes rounding every hour, as shipped, are read in 10-minute bins as before, and probes rounding every
5 minutes, or every few seconds in a lab, in bins of their own interval, so that a cut of a few of their rounds is
seen.

``has_places``: whether the database holds what regional detection is for (a collector whose probes declared
their places), so that the other views qualify their windows by it (``probe.analysis.extent``).
"""

from __future__ import annotations

import sqlite3
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from probe.analysis import times
from probe.analysis.regional.detect import detect
from probe.analysis.regional.model import Batch
from probe.analysis.regional.rules import Rules
from probe.analysis.regional.sources import batches, listening
from probe.analysis.regional.window import RegionalWindow
from probe.config import RegionalSection
from probe.errors import ProbeError
from probe.storage.connection import Connection
from probe.storage.outage_windows import Covered, save_regional

if TYPE_CHECKING:
    from probe.storage.postgres.connection import PgConnection

REGIONAL_SCOPES = ("district", "area")
"""What ``probe outages --by`` groups regional windows by (beside ``probe``, ``network``, ``region``)."""
MAX_BIN = 86400.0
HISTORY = 28 * 86400.0
"""Seconds of rounds read before ``since``: each probe's usual availability per hour is learned from them."""
_HAS_PLACES = (
    "select 1 from batch_arrivals a where a.rounds > 0 and exists "
    "(select 1 from runs r where r.probe_id = a.probe_id and coalesce(r.area, '') != '') limit 1"
)


@dataclass(frozen=True)
class RegionalQuery:
    by: str = "district"
    area: str | None = None
    since: str | None = None
    until: str | None = None
    rules: Rules | None = None
    bin_seconds: float | None = None
    """The time bin; None: the probes' usual round interval, at most the rules' bin (``usual_bin``)."""

    def __post_init__(self) -> None:
        if self.by not in REGIONAL_SCOPES:
            raise ProbeError(f"regional windows are grouped by one of {', '.join(REGIONAL_SCOPES)}, not {self.by!r}")
        if self.bin_seconds is not None and not 0 < self.bin_seconds <= MAX_BIN:
            raise ProbeError(f"a time bin is more than 0 and at most {MAX_BIN:g} seconds, not {self.bin_seconds:g}")


def configured(section: RegionalSection, **more: int) -> Rules:
    """The rules ``[collector.regional]`` sets (the shipped probe's schedules where it sets none), and ``more``."""
    return replace(Rules(**more), **section.overrides())


def has_places(conn: Connection) -> bool:
    """Whether regional detection has anything to read: batches from probes that declared an area."""
    return conn.execute(_HAS_PLACES).fetchone() is not None


def find_regional(conn: Connection, query: RegionalQuery) -> list[RegionalWindow]:
    """The regional windows ``query`` asks for, ordered by start (``detect``'s order)."""
    now = times.now_iso()
    until = min(query.until, now) if query.until else now  # a batch not received yet is not known
    read_from = times.shifted(query.since, -HISTORY) if query.since else None
    received = batches(conn, since=read_from, until=until)
    rules = query.rules or Rules()
    rules = replace(rules, bin_seconds=query.bin_seconds or usual_bin(received, rules.bin_seconds))
    found = detect(received, times.seconds(until), rules, listening=listening(conn, until=until))
    return [window for window in found if _wanted(window, query)]


def usual_bin(received: Sequence[Batch], at_most: float = Rules.bin_seconds) -> float:
    """The median of each probe's latest declared round interval, at most ``at_most`` (``at_most`` when none)."""
    latest: dict[str, tuple[float, float]] = {}
    for batch in received:
        seen = latest.get(batch.probe)
        if seen is None or batch.covers_to > seen[0]:
            latest[batch.probe] = (batch.covers_to, batch.declaration.schedule.round_interval)
    if not latest:
        return at_most
    return min(at_most, statistics.median(interval for _, interval in latest.values()))


def _wanted(window: RegionalWindow, query: RegionalQuery) -> bool:
    if query.by == "area" and window.scope == "district":
        return False
    if query.area is not None:
        if window.scope == "country":
            return window.country == query.area.split("-", 1)[0].upper()
        if window.area.upper() != query.area.upper():
            return False
    ended = window.end_max
    return query.since is None or ended is None or ended > times.seconds(query.since)


def save_found(
    conn: sqlite3.Connection | PgConnection, query: RegionalQuery, found: list[RegionalWindow], saved_at: str
) -> int:
    """Keep ``found`` (``find_regional``'s answer to ``query``) in ``outage_windows`` in place of the regional
    windows saved before for what ``query`` covers (``save_regional``); how many."""
    covered = Covered(
        districts=query.by == "district",
        area=query.area,
        since=None if query.since is None else times.iso(times.seconds(query.since)),
        until=times.iso(min(times.seconds(query.until or saved_at), times.seconds(saved_at))),
    )
    return save_regional(conn, [window.saved_row(saved_at) for window in found], covered, saved_at)
