"""A collector's database as regional detection's inputs: each stored batch's arrival with the rounds it carried.

The one module of ``probe.analysis.regional`` that reads a database (SQLite or a collector's PostgreSQL,
through ``probe.storage.connection``'s ``execute``); it opens nothing itself: the caller passes a connection.

    arrivals     ``batch_arrivals``: when each batch was received, when the probe made it, the span of what it
                 carried. A batch covers from the probe's batch before it (by the probe's own clock) or its
                 first round, whichever is earlier, to when the probe made it: the uploader sends every round
                 not yet acknowledged, so a time in there with no round is a time the probe made none.
    rounds       each finished round of a probe, with its run's place (``runs.area``, ``district``,
                 ``network_type``, ``probe_cc``) and schedule (``rounds.every``, the batch's ``upload_every``),
                 given to the earliest batch received whose span holds its start (a batch left with none,
                 its rounds all sent before, still counts its span, under the probe's latest declaration)
    state        from the round's network contexts where it has them, the worst of its start and end (``shutdown``:
                 ``network_down``; ``local_fault``; ``international_cut``; ``degraded``: up, its failures never
                 blocks), else from its counts (every one of at least
                 ``observe.MIN_ROUND_TARGETS`` targets failed: ``network_down``); a working round with failures,
                 or with a measurement judged ``blocked``, is ``blocked``; ``rebooted`` or ``resumed``: the
                 machine was off before it
    blocked      the targets of a round's measurements judged ``blocked`` (``measurements.verdict``, as the probe
                 sent it or as judged again), each named by its input's host (``https://twitter.com/`` and
                 ``twitter.com:443`` are both ``twitter.com``: one site, whatever measured it), read by period
                 from the partial index ``measurements_blocked`` (``probe.storage.tables``)
    seen         when the round saw its state: the first of its network contexts that decided it, else its end
    SMS          an SMS round's outcome (reached or not) goes to the probe's round it falls in

    listening    ``collector_sessions``: when the collector was serving, from each session's start to its stop or,
                 after a crash, its latest heartbeat (``Listening``; none before the collector kept them)

A round stored before the collector kept arrivals (no batch's span holds it) counts as received when it
started, covering nothing: a gap there reads as silence, never as a device off.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import get_args
from urllib.parse import urlsplit

from probe.analysis.observe import MIN_ROUND_TARGETS
from probe.analysis.regional.model import Batch, Declaration, Listening, Round, RoundState, Schedule
from probe.analysis.times import seconds, shifted
from probe.place import NetworkType
from probe.storage.connection import Connection, rows

DEFAULT_ROUND_EVERY = 600.0
"""A round's interval when it does not say (a probe before batch format /4)."""
DEFAULT_UPLOAD_EVERY = 3600.0
"""A probe's upload interval when it never declared one (/3 and before, bundles): the daemon's default."""

_ARRIVALS = (
    "select probe_id, received_at, created_at, first_at, last_at, upload_every from batch_arrivals "
    "where rounds > 0 order by probe_id, created_at, id"
)


def _rank(alias: str) -> str:
    """A network context's rank: the lowest of a round's decides its state (``_state``)."""
    return (
        f"case {alias}.network_state when 'shutdown' then 0 when 'local_fault' then 1 "
        "when 'international_cut' then 2 when 'degraded' then 3 else 4 end"
    )


_CONTEXT_RANK = f"(select min({_rank('nc')}) from network_contexts nc where nc.run_id = ro.run_id)"
_SEEN = (
    "(select min(seen.measured_at) from network_contexts seen where seen.run_id = ro.run_id "
    f"and {_rank('seen')} = {_CONTEXT_RANK})"
)
_ROUNDS = (
    "select ro.probe_id, ro.run_id, ro.started_at, ro.experiment, coalesce(ro.measured, 0), coalesce(ro.reached, 0), "
    "coalesce(ro.failed, 0), ro.every, coalesce(ro.rebooted, 0) + coalesce(ro.resumed, 0), "
    f"coalesce(r.probe_cc, ''), coalesce(r.area, ''), coalesce(r.district, ''), r.network_type, {_CONTEXT_RANK}, "
    f"ro.finished_at, {_SEEN} "
    "from rounds ro left join runs r on r.id = ro.run_id and r.probe_id = ro.probe_id "
    "where ro.probe_id is not null and ro.status != 'running' and ro.started_at is not null"
)
BLOCKED_MEASUREMENTS = (
    "select probe_id, run_id, input from measurements where verdict = 'blocked' and run_id is not null"
)
"""Read from ``measurements_blocked`` alone: the condition is the index's, word for word."""
_TYPES: frozenset[str] = frozenset(get_args(NetworkType))
LATEST_MEASUREMENT = 86400.0
"""Seconds after a round's start within which its measurements start (a day: far longer than any round)."""


@dataclass(frozen=True)
class _Arrival:
    received: float
    covers_from: float
    covers_to: float
    first: float
    last: float
    upload_every: float | None


def batches(conn: Connection, *, since: str | None = None, until: str | None = None) -> list[Batch]:
    """Every stored round of every probe, in the batches that brought them (one per batch and declaration).

    ``since``/``until`` (ISO text) bound the rounds read; a batch keeps its whole span."""
    arrivals = _arrivals(conn)
    blocked = blocked_targets(conn, since=since, until=None if until is None else shifted(until, LATEST_MEASUREMENT))
    sql, params = _between(_ROUNDS, "ro.started_at", since, until)
    grouped: dict[tuple[str, int], dict[Declaration, list[Round]]] = defaultdict(lambda: defaultdict(list))
    loose: list[tuple[Declaration, list[Round]]] = []
    last: dict[str, tuple[list[Round], float]] = {}  # each probe's latest round: where it is held, its interval
    carriers: dict[str, _Carriers] = {}
    latest: dict[str, tuple[Declaration, float]] = {}  # each probe's latest round's declaration
    for row in rows(conn, sql + " order by ro.probe_id, ro.started_at", params):
        probe, run, started, experiment, measured, reached, failed, every, off, cc, area, district, kind = row[:13]
        rank, finished, first_seen = row[13:]
        probe, start = str(probe), seconds(str(started))
        own = arrivals.get(probe, [])
        index = carriers.setdefault(probe, _Carriers(own)).at(start)
        upload = own[index].upload_every if index >= 0 else None
        round_every = float(every or DEFAULT_ROUND_EVERY)
        if experiment == "sms":
            _sms(last.get(probe), start, int(measured), int(reached))
            continue
        declaration = Declaration(
            probe,
            str(cc),
            str(area),
            str(district),
            kind if kind in _TYPES else "unknown",
            Schedule(round_every, float(upload or DEFAULT_UPLOAD_EVERY)),
        )
        targets = blocked.get((probe, str(run)), ())
        state = _state(int(measured), int(reached), int(failed), rank)
        if targets and state == "up":
            state = "blocked"  # a blockpage is reached, and blocked
        item = Round(
            start,
            state,
            machine_off=int(off) > 0,
            blocked=targets if state == "blocked" else (),
            seen=_seen(rank, finished, first_seen),
        )
        if index < 0:
            loose.append((declaration, [item]))
            held = loose[-1][1]
        else:
            held = grouped[probe, index][declaration]
            held.append(item)
        last[probe] = (held, round_every)
        latest[probe] = (declaration, start)
    found = []
    for (probe, index), by_declaration in grouped.items():
        arrival = arrivals[probe][index]
        for declaration, items in by_declaration.items():
            found.append(Batch(declaration, arrival.covers_from, arrival.covers_to, arrival.received, tuple(items)))
    for probe, (declaration, _) in latest.items():
        for index, arrival in enumerate(arrivals.get(probe, [])):
            if (probe, index) not in grouped:  # its rounds all came earlier (sent again): its span still counts
                schedule = Schedule(declaration.schedule.round_interval, arrival.upload_every or DEFAULT_UPLOAD_EVERY)
                empty = replace(declaration, schedule=schedule)
                found.append(Batch(empty, arrival.covers_from, arrival.covers_to, arrival.received))
    for declaration, [item] in loose:
        found.append(Batch(declaration, item.start, item.start, item.start, (item,)))
    return found


_SESSIONS = "select started_at, coalesce(stopped_at, alive_at) from collector_sessions"


def listening(conn: Connection, *, until: str | None = None) -> list[Listening]:
    """The collector's sessions (started before ``until``, ISO text), as times it was listening."""
    sql, params = _between(_SESSIONS + " where started_at is not null", "started_at", None, until)
    return [Listening(seconds(str(start)), seconds(str(end))) for start, end in rows(conn, sql, params)]


def blocked_targets(
    conn: Connection, *, since: str | None = None, until: str | None = None
) -> dict[tuple[str, str], tuple[str, ...]]:
    """Each run's targets judged ``blocked``, by (probe, run), named by ``target_name``, sorted; measurements started
    from ``since`` and before ``until`` (ISO text)."""
    sql, params = _between(BLOCKED_MEASUREMENTS, "started_at", since, until)
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for probe, run, text in rows(conn, sql, params):
        if probe is not None and text:
            found[str(probe), str(run)].add(target_name(str(text)))
    return {key: tuple(sorted(names)) for key, names in found.items()}


def _between(sql: str, column: str, since: str | None, until: str | None) -> tuple[str, list[str]]:
    """``sql`` (a ``where`` already begun) bounded to ``column`` in [``since``, ``until``), and its parameters."""
    params = []
    if since is not None:
        sql += f" and {column} >= ?"
        params.append(since)
    if until is not None:
        sql += f" and {column} < ?"
        params.append(until)
    return sql, params


def target_name(text: str) -> str:
    """A measurement's input as the name of what it measured: a URL's or an address's host, lower case
    (``https://Twitter.com/`` and ``twitter.com:443`` are ``twitter.com``), else the input as it is."""
    try:
        host = urlsplit(text if "://" in text else f"//{text}").hostname
    except ValueError:
        host = None
    return host or text


def _state(measured: int, reached: int, failed: int, rank: int | None) -> RoundState:
    if rank == 0:
        return "network_down"
    if rank == 1:
        return "local_fault"
    if rank == 2:
        return "international_cut"
    if rank == 3:
        return "degraded"  # failures on a flaky link are never blocks
    if rank is None and measured >= MIN_ROUND_TARGETS and reached == 0:
        return "network_down"
    return "blocked" if failed > 0 and (reached > 0 or rank is not None) else "up"


def _seen(rank: int | None, finished: object, first: object) -> float | None:
    """When a round had seen its state: the first of its network contexts of the rank that decided it (the first
    saying ``shutdown`` for a cut), else its end."""
    if rank is not None and first:
        return seconds(str(first))
    return seconds(str(finished)) if finished else None


def _sms(last: tuple[list[Round], float] | None, start: float, measured: int, reached: int) -> None:
    """An SMS round's outcome on the probe's latest round before it, if it falls in that round's interval."""
    if last is None or measured == 0:
        return
    held, reach = last
    item = held[-1]
    if 0 <= start - item.start <= reach:
        held[-1] = replace(item, sms_ok=reached > 0)


def _arrivals(conn: Connection) -> dict[str, list[_Arrival]]:
    """Each probe's batches that carried rounds, by when the probe made them."""
    found: dict[str, list[_Arrival]] = defaultdict(list)
    for probe, received, created, first, last, every in rows(conn, _ARRIVALS):
        made = seconds(str(created or received))
        low, high = seconds(str(first or created or received)), seconds(str(last or created or received))
        own = found[str(probe)]
        covers_from = min(low, own[-1].covers_to) if own and own[-1].covers_to < made else low
        own.append(_Arrival(seconds(str(received)), covers_from, max(made, high), low, high, every))
    return found


class _Carriers:
    """For one probe's rounds in time order: the earliest received of the batches whose span holds each start.

    A sweep: batches enter by the start of their span and leave once a round starts after its end (rounds only
    move forward), so a month of rounds and uploads costs a heap operation each, not a scan of every batch."""

    def __init__(self, arrivals: Sequence[_Arrival]) -> None:
        self._arrivals = arrivals
        self._by_first = sorted(range(len(arrivals)), key=lambda index: (arrivals[index].first, index))
        self._next = 0
        self._open: list[tuple[float, int]] = []  # (received, index)

    def at(self, start: float) -> int:
        """The carrier of a round starting at ``start`` (-1: none); ``start`` never less than the last one's."""
        arrivals = self._arrivals
        while self._next < len(self._by_first) and arrivals[self._by_first[self._next]].first <= start:
            index = self._by_first[self._next]
            heapq.heappush(self._open, (arrivals[index].received, index))
            self._next += 1
        while self._open and arrivals[self._open[0][1]].last < start:
            heapq.heappop(self._open)
        return self._open[0][1] if self._open else -1
