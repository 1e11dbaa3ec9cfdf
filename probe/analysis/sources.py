"""Reading the series from SQLite: narrow columns, in the order the trackers want, never all at once.

    measurement_rows   the targets' points, input after input, each in time order, read from a
                       covering index (``input_query``)
    network_points     each probe's network points in time order: its rounds' network contexts
                       where it has controls; else its rounds' heartbeat counts (``rounds``), or,
                       for runs outside the daemon, the run's own counts
    down_runs          only the runs of heartbeats that are shutdown points: what the targets'
                       series need when the network's windows are not asked for

Works on a probe's database (its own rows have no ``probe_id``) and on a collector's (every
probe's rows, and its runs and rounds, carry the probe's id). A collector receives neither
verdict columns nor network contexts: there, the network is judged from the rounds' counts.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from probe.analysis import observe, times
from probe.analysis.observe import Evidence, Mark
from probe.storage.connection import Connection, fetched, rows

MeasurementRow = tuple[
    str,
    str,
    str,
    str,
    str,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
    int | None,
    str | None,
    str,
    str,
]
"""probe, input, experiment, started_at, run_id, verdict, blocking, blocking_detail, failure,
failed_step, confirmed, network_state, probe_asn, probe_cc."""

_MEASUREMENTS = (
    "select coalesce(probe_id, ''), input, experiment, started_at, coalesce(run_id, ''), verdict, blocking, "
    "blocking_detail, failure, failed_step, confirmed, network_state, coalesce(probe_asn, ''), "
    "coalesce(probe_cc, '') from measurements where input is not null"
)
_CONTEXTS = (
    "select nc.measured_at, coalesce(r.probe_id, ''), nc.run_id, coalesce(r.probe_asn, ''), coalesce(r.probe_cc, ''), "
    "nc.network_state, nc.controls from network_contexts nc join runs r on r.id = nc.run_id "
    "where nc.measured_at is not null and coalesce(r.experiment, '') != 'sms'"
)
_NO_CONTEXT = "not exists (select 1 from network_contexts nc where nc.run_id = {run})"
_ROUNDS = (
    "select ro.started_at, coalesce(r.probe_id, ''), ro.run_id, coalesce(r.probe_asn, ''), coalesce(r.probe_cc, ''), "
    "ro.measured, ro.reached from rounds ro join runs r on r.id = ro.run_id "
    "where ro.experiment != 'sms' and ro.status != 'running' and " + _NO_CONTEXT.format(run="ro.run_id")
)
_RUNS = (
    "select r.started_at, coalesce(r.probe_id, ''), r.id, coalesce(r.probe_asn, ''), coalesce(r.probe_cc, ''), "
    "(select count(*) from measurements m where m.run_id = r.id), "
    "(select count(*) from measurements m where m.run_id = r.id and m.failure is null) "
    "from runs r where coalesce(r.experiment, '') != 'sms' and coalesce(r.status, '') != 'running' "
    "and not exists (select 1 from rounds ro where ro.run_id = r.id) and " + _NO_CONTEXT.format(run="r.id")
)


_INPUTS = (
    "with recursive seen(input) as (select min(input) from measurements union all "
    "select (select min(m.input) from measurements m where m.input > seen.input) from seen "
    "where seen.input is not null) select input from seen"
)
"""The distinct inputs in order, by skipping from one to the next along the index (SQLite and PostgreSQL
have no skip scan of their own): as many seeks as inputs, not a scan of every row."""

_DOWN = f"coalesce({{measured}}, 0) >= {observe.MIN_ROUND_TARGETS} and coalesce({{reached}}, 0) = 0"
"""A heartbeat that is a shutdown point (``observe.heartbeat``'s rule, in SQL)."""
_DOWN_ROUNDS = (
    "select ro.run_id from rounds ro join runs r on r.id = ro.run_id "
    "where ro.experiment != 'sms' and ro.status != 'running' and "
    + _NO_CONTEXT.format(run="ro.run_id")
    + " and "
    + _DOWN.format(measured="ro.measured", reached="ro.reached")
)


@dataclass(frozen=True)
class Span:
    """The stretch of time read: ``[since, until)``, either end open."""

    since: str | None = None
    until: str | None = None

    def where(self, column: str) -> tuple[str, list[str]]:
        clauses, params = [], []
        if self.since is not None:
            clauses.append(f"{column} >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append(f"{column} < ?")
            params.append(self.until)
        return "".join(f" and {clause}" for clause in clauses), params


def normalize_network(network: str) -> str:
    """``9198`` or ``as9198`` as ``AS9198`` (how the probe stores ASNs)."""
    text = network.strip().upper()
    return text if text.startswith("AS") else f"AS{text}"


def matches(target: str, value: str) -> bool:
    """Whether input ``value`` is ``target``, or, for a bare host, one of its URLs or host:port inputs."""
    if value == target:
        return True
    if "://" in target or "/" in target:
        return False
    host = value.split("://", 1)[1] if "://" in value else value
    return host.split("/", 1)[0].split(":", 1)[0].lower() == target.lower()


def inputs(conn: Connection, target: str | None = None) -> Iterator[str]:
    """The distinct inputs (of ``target``), in order: one index seek each, however many rows they have,
    all in one query (one round trip to a server)."""
    if target is not None and ("://" in target or "/" in target):
        yield target
        return
    for (value,) in conn.execute(_INPUTS).fetchall():
        if value is not None and (target is None or matches(target, str(value))):
            yield str(value)


def measurement_rows(
    conn: Connection, span: Span, *, target: str | None = None, network: str | None = None
) -> Iterator[MeasurementRow]:
    """The targets' points, input after input, each in time order (``input_query``'s rows, one input at a time)."""
    sql, params = input_query(span, network)
    for value in list(inputs(conn, target)):
        yield from rows(conn, sql, [value, *params])


def input_query(span: Span, network: str | None = None) -> tuple[str, list[str]]:
    """The query of one input's points (of one network) in time order, and its parameters after the input.

    It reads a covering index and nothing else, whether or not SQLite has statistics to plan with:
    (input, started_at), migration 5's; on PostgreSQL, for a network, (probe_asn, input, started_at), which
    holds the network's rows of an input together (``probe.storage.postgres.schema``, migration 3).
    """
    where, params = span.where("started_at")
    sql = _MEASUREMENTS + " and input = ?" + where
    if network is not None:
        sql += " and probe_asn = ?"
        params.append(normalize_network(network))
    return sql + " order by started_at", params


class NetworkPoint(NamedTuple):
    """One point of a probe's network series (a tuple: made hundreds of thousands of times a query)."""

    time: str
    probe: str
    run_id: str
    network: str
    region: str
    mark: Mark
    evidence: Evidence | None
    share: float | None
    from_controls: bool


def network_points(conn: Connection, span: Span, *, network: str | None = None) -> Iterator[NetworkPoint]:
    """Every probe's network points, in time order (see the module docstring)."""
    asn = normalize_network(network) if network is not None else None
    contexts = _contexts(conn, span, asn)
    if not contexts:  # a collector's: its probes send none
        return _heartbeats(conn, span, asn)
    return heapq.merge(contexts, _heartbeats(conn, span, asn), key=lambda point: point.time)


def down_runs(conn: Connection, span: Span, *, network: str | None = None) -> set[str]:
    """The runs whose heartbeat is a shutdown point of the network series (every target failed, no controls).

    All the targets' series need of the network when its windows are not asked for: the database picks
    these few rows out of every round instead of sending them all (``network_points`` marks the same ones
    ``BAD`` without ``from_controls``)."""
    asn = normalize_network(network) if network is not None else None
    where, params = _where(span, "ro.started_at", asn)
    found = {str(run_id) for (run_id,) in fetched(conn.execute(_DOWN_ROUNDS + where, params))}
    # Runs outside the daemon, few, are judged here: a filter on their counts would have a planner count
    # every run's measurements before it learns which runs have a round.
    for _, _, run_id, _, _, measured, reached in _query(conn, _RUNS, span, "r.started_at", asn):
        if observe.heartbeat(int(measured or 0), int(reached or 0))[0] is Mark.BAD:  # type: ignore[call-overload]
            found.add(run_id)
    return found


def _where(span: Span, column: str, asn: str | None) -> tuple[str, list[str]]:
    where, params = span.where(column)
    if asn is not None:
        where += " and r.probe_asn = ?"
        params.append(asn)
    return where, params


def _query(
    conn: Connection, sql: str, span: Span, column: str, asn: str | None
) -> Iterator[tuple[str, str, str, str, str, object, object]]:
    where, params = _where(span, column, asn)
    return rows(conn, f"{sql}{where} order by {column}", params)


def _contexts(conn: Connection, span: Span, asn: str | None) -> list[NetworkPoint]:
    """Each context at the time its controls started (see ``observe.controls_summary``), in that order."""
    points = []
    for time, probe, run_id, network, region, state, controls in _query(conn, _CONTEXTS, span, "nc.measured_at", asn):
        mark, found = observe.network_context(state if isinstance(state, str) else None)
        share, longest = observe.controls_summary(controls if isinstance(controls, str) else None)
        started = times.shifted(time, -longest) if longest else time
        points.append(NetworkPoint(started, probe, run_id, network, region, mark, found, share, True))
    points.sort(key=lambda point: point.time)
    return points


def _heartbeats(conn: Connection, span: Span, asn: str | None) -> Iterator[NetworkPoint]:
    # Runs outside the daemon first, whole (few, and none at a collector): one streamed query at a time.
    runs = list(_query(conn, _RUNS, span, "r.started_at", asn))
    rounds = _query(conn, _ROUNDS, span, "ro.started_at", asn)
    merged = heapq.merge(rounds, runs, key=lambda row: row[0]) if runs else rounds
    for time, probe, run_id, network, region, measured, reached in merged:
        done, ok = int(measured or 0), int(reached or 0)  # type: ignore[call-overload]
        mark, found = observe.heartbeat(done, ok)
        yield NetworkPoint(time, probe, run_id, network, region, mark, found, ok / done if done else None, False)
