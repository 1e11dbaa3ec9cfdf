"""Measurements counted per time bin, for charts: each target's statuses, each network's reachability.

The database does the counting (one grouped query over the covering index of migration 5), so a year of
a collector becomes a few thousand rows. Statuses of a measurement, in the order they are drawn:

    ok            accessible (or reached, when nothing judged it)
    blocked       a verdict of blocked
    failed        a failure no verdict explains (no test helper, or not judged)
    site_down     down at the test helper too
    network_down  the whole network was down
    inconclusive  judged, but nothing could be concluded
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from probe.analysis import times
from probe.analysis.sources import normalize_network
from probe.storage.connection import Connection

STATUSES = ("ok", "blocked", "failed", "site_down", "network_down", "inconclusive")
MAX_BINS = 120
BIN_SECONDS = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 7 * 86400)

_STATUS = """case
    when verdict = 'accessible' or (verdict is null and failure is null) then 'ok'
    when verdict = 'blocked' then 'blocked'
    when verdict = 'site_down' then 'site_down'
    when verdict = 'network_down' or network_state in ('shutdown', 'international_cut', 'local_fault')
        then 'network_down'
    when failure is null then 'inconclusive'
    else 'failed' end"""
# The bin is the floor of the offset in bins, written so that it is one in SQLite (whose cast
# truncates) and in PostgreSQL (whose cast rounds): offsets are never negative here.
_BINNED = f"""
select input, asn,
       cast(offset_bins as integer) - case when cast(offset_bins as integer) > offset_bins then 1 else 0 end,
       status, count(*)
from (
    select input, coalesce(probe_asn, '') as asn, (julianday(started_at) - julianday(?)) * 86400.0 / ? as offset_bins,
           {_STATUS} as status
    from measurements
    where input is not null and started_at >= ? and started_at < ?{{network}}
) as binned
group by 1, 2, 3, 4
"""


def bin_seconds(span: float, at_least: float = 0.0) -> int:
    """The smallest usual bin that cuts ``span`` seconds into at most ``MAX_BINS`` bins, and is at
    least ``at_least`` seconds (a round's interval: finer bins would show gaps between rounds)."""
    for seconds in BIN_SECONDS:
        if span / seconds <= MAX_BINS and seconds >= at_least:
            return seconds
    return int(max(span / MAX_BINS, at_least)) + 1


def round_interval(conn: Connection, since: str, until: str) -> float:
    """The usual seconds between two runs of one probe's experiment group in the period (the median)."""
    rows = conn.execute(
        "select count(*) from runs where started_at >= ? and started_at < ? "
        "group by coalesce(probe_id, ''), coalesce(experiment, '') order by 1",
        (since, until),
    ).fetchall()
    if not rows:
        return 0.0
    span = times.seconds(until) - times.seconds(since)
    return span / max(1, int(rows[len(rows) // 2][0]))


@dataclass
class Timeline:
    since: str
    until: str
    bin: int
    bins: int
    targets: dict[str, list[Counter[str]]] = field(default_factory=dict)
    """Per input, per bin: measurements by status (every probe and network together)."""
    networks: dict[str, list[Counter[str]]] = field(default_factory=dict)
    """Per ASN, per bin: measurements by status (every target together)."""

    def bin_start(self, index: int) -> float:
        return times.seconds(self.since) + index * self.bin

    @property
    def span(self) -> float:
        return times.seconds(self.until) - times.seconds(self.since)


def timeline(conn: Connection, since: str, until: str, *, network: str | None = None) -> Timeline:
    span = max(1.0, times.seconds(until) - times.seconds(since))
    size = bin_seconds(span, round_interval(conn, since, until))
    count = int(span // size) + (1 if span % size else 0)
    result = Timeline(since, until, size, count)
    targets: dict[str, list[Counter[str]]] = defaultdict(lambda: [Counter() for _ in range(count)])
    networks: dict[str, list[Counter[str]]] = defaultdict(lambda: [Counter() for _ in range(count)])
    params: list[object] = [since, size, since, until]
    sql = _BINNED.format(network=" and probe_asn = ?" if network else "")
    if network:
        params.append(normalize_network(network))
    for value, asn, index, status, total in conn.execute(sql, params):
        if not 0 <= index < count:
            continue
        targets[value][index][status] += total
        networks[asn][index][status] += total
    result.targets = dict(sorted(targets.items()))
    result.networks = dict(sorted(networks.items()))
    return result
