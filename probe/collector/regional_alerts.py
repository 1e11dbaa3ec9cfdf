"""Alerts for a collector's regional windows (``find_regional``): the shutdowns of a country, an area, a district
or its mobile network, live from the probes' silence, and what the late batches then show.

Alerted: ``national_shutdown``, ``regional_shutdown``, ``mobile_shutdown`` and ``international_cut`` whatever their
confidence; ``sms_affected`` and ``targeted_block`` from ``min_confidence`` (as the other targeted blocks); never a
probe's own windows (``device_off``, ``local_fault``, ``probe_dark``) nor ``too_few_probes``.

A window is followed by its group (kind, scope, country, area, district, network type, target), not by its
bounds, which move as late batches arrive: an *episode* is one window of a group as it has been since it opened,
and a window found at a look continues the episode of its group whose span it meets (``SLACK`` apart at most).
An episode's transitions:

    opened     its window is ongoing (``provisional`` in the window: it rests on silence, the probes having
               stopped uploading together against their schedules)
    confirmed  it was provisional, and its window now rests on rounds: the late batches show the network down
    dropped    it was provisional, and no window of its group meets it any more: the late batches show the
               network working (it was not a cut)
    revised    it was provisional, and a wider shutdown found now names its group in ``revises``: the silence
               spread (an area's cut that is the country's, a mobile cut that is every network's); the wider
               window is opened as an episode of its own, and this transition names it (``revised_into``)
    closed     its window ended (with the end's bounds); one no longer found at all, not provisional, is
               closed with ``no_longer_seen``

A window that opened and closed between two looks (ending after alerting began) is sent as opened and closed.
Each episode is a row of ``regional_episodes`` in the alert state (``AlertState``), keyed by its group and the
start it opened with, and each transition a row of ``alerts`` unique by (episode, transition), made in one
transaction with the episode's change: each is made once, whatever happens later (a restart, bounds moving). A
finished episode is kept for twice the lookback, so the same window found again later is no news.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from probe.analysis import times
from probe.analysis.regional import RegionalWindow, kinds
from probe.analysis.regional.query import RegionalQuery, find_regional
from probe.analysis.regional.rules import Rules
from probe.analysis.scoring import label
from probe.collector.alerts import RANK, AlertState
from probe.config import AlertsSection
from probe.storage.connection import Connection

ALWAYS = kinds.GROUP_EVENTS
"""Alerted whatever their confidence: the shutdowns (national, regional, mobile) and the international cuts."""
GRADED = frozenset({kinds.SMS_AFFECTED, kinds.TARGETED_BLOCK})
"""Alerted from ``min_confidence``."""
SLACK = 3600.0
"""Seconds apart that a window and an episode of its group may be and still be one (bounds move with late data)."""
BODY_TYPE = "regional_window"

_SAID = {
    "opened": "opened",
    "confirmed": "confirmed by the late batches (the network was down)",
    "dropped": "dropped: the late batches show the network working, it was not a cut",
    "revised": "revised: part of a wider shutdown",
    "closed": "closed",
}


def qualifies(window: RegionalWindow, min_confidence: str = "medium") -> bool:
    """Whether a regional window is worth an alert."""
    if window.kind in ALWAYS:
        return True
    return window.kind in GRADED and RANK[label(window.confidence)] >= RANK[min_confidence]


def group_of(window: RegionalWindow | dict[str, Any]) -> str:
    data = window.to_dict() if isinstance(window, RegionalWindow) else window
    names = ("kind", "scope", "country", "area", "district", "network_type", "target")
    return "|".join(str(data[name]) for name in names)


def place_of(window: dict[str, Any]) -> str:
    """``KZ/KZ-47/Zhanaozen``, with the network type when the window is one type's."""
    place = "/".join(part for part in (window["country"], window["area"], window["district"]) if part)
    return place + (f" ({window['network_type']})" if window["network_type"] else "")


def described(window: RegionalWindow) -> dict[str, Any]:
    """The window as the alert's body carries it: ``probe outages --by district --format json``'s fields, its
    place and its confidence's label."""
    data = window.to_dict()
    return {**data, "place": place_of(data), "confidence_label": label(window.confidence)}


def summary(transition: str, window: dict[str, Any]) -> str:
    """One line for a person (a chat message): what, where, how many probes, how sure."""
    provisional = " (provisional: from silence)" if window["provisional"] and transition == "opened" else ""
    target = f" of {window['target']}" if window["target"] else ""
    return (
        f"{window['kind']}{target} {_SAID[transition]}{provisional}: {window['place']}, "
        f"{len(window['probes'])} of {window['probes_total']} probes, confidence {window['confidence']:.4g}"
    )


@dataclass
class Episode:
    key: str
    group: str
    window: dict[str, Any]
    provisional: bool
    closed: bool
    finished: bool

    def meets(self, window: RegionalWindow) -> bool:
        low = self.window["start_min"] or self.window["start_max"]
        high = self.window["end_max"]
        mine = (times.seconds(low), times.seconds(high) if high else float("inf"))
        theirs = (window.start_min or window.start_max, window.end_max or float("inf"))
        return mine[0] <= theirs[1] + SLACK and theirs[0] <= mine[1] + SLACK


def _episodes(state: AlertState) -> dict[str, list[Episode]]:
    found: dict[str, list[Episode]] = defaultdict(list)
    rows = state.conn.execute(
        "select window_key, grp, window, provisional, closed, finished from regional_episodes order by rowid"
    )
    for key, group, window, provisional, closed, finished in rows:
        found[group].append(Episode(key, group, json.loads(window), bool(provisional), bool(closed), bool(finished)))
    return found


class _Look:
    """One look's transitions, each made with its episode's change in one transaction."""

    def __init__(self, state: AlertState, hooks: list[str], now: str, collector: str) -> None:
        self.state = state
        self.hooks = hooks
        self.now = now
        self.collector = collector
        self.made: list[tuple[str, dict[str, Any]]] = []

    def send(self, episode: Episode, transition: str, window: dict[str, Any], **more: Any) -> None:
        """Make ``transition`` of ``episode`` (once) and keep the episode as it now is."""
        body = {**window, **more}
        extra = {"type": BODY_TYPE, "summary": summary(transition, body)}
        with self.state.transaction():
            made = self.state.make(episode.key, transition, body, self.hooks, self.now, self.collector, extra)
            self.keep(episode)
        if made:
            self.made.append((transition, body))

    def keep(self, episode: Episode) -> None:
        self.state.conn.execute(
            "insert or replace into regional_episodes "
            "(window_key, grp, window, provisional, closed, finished, seen_at) values (?, ?, ?, ?, ?, ?, ?)",
            (
                episode.key,
                episode.group,
                json.dumps(episode.window),
                int(episode.provisional),
                int(episode.closed),
                int(episode.finished),
                self.now,
            ),
        )


def looked_at(
    conn: Connection, settings: AlertsSection, *, now: str, rules: Rules | None = None
) -> list[RegionalWindow]:
    """The regional windows a look at ``now`` reads: those of the last ``settings.lookback`` seconds."""
    return find_regional(
        conn, RegionalQuery("district", since=times.shifted(now, -settings.lookback), until=now, rules=rules)
    )


def look_regional(
    conn: Connection,
    state: AlertState,
    settings: AlertsSection,
    *,
    now: str,
    collector: str,
    rules: Rules | None = None,
    found: list[RegionalWindow] | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """One look at the regional windows of the last ``settings.lookback`` seconds, as of ``now`` (``rules``: those
    ``[collector.regional]`` sets; ``found``: ``looked_at``'s answer, when the caller has it): the transitions found
    (and recorded, each once, for ``settings.webhooks``) as (transition, window)."""
    look = _Look(state, [str(hook) for hook in settings.webhooks], now, collector)
    began = times.seconds(state.started_at(now))
    lookback = settings.lookback
    if found is None:
        found = looked_at(conn, settings, now=now, rules=rules)
    followed = _episodes(state)
    met: set[str] = set()
    for window in (window for window in found if qualifies(window, settings.min_confidence)):
        group = group_of(window)
        episode = next((e for e in followed[group] if e.key not in met and e.meets(window)), None)
        if episode is None:
            if window.ongoing or (window.end_max or 0.0) >= began:
                episode = Episode(f"{group}|{times.iso(window.start_max)}", group, {}, False, False, False)
                _opened(look, episode, window)
                followed[group].append(episode)
                met.add(episode.key)
            continue
        met.add(episode.key)
        if not episode.finished:
            _moved(look, episode, window)
    wider = {
        group: window for window in found if qualifies(window, settings.min_confidence) for group in window.revises
    }
    for episode in (e for episodes in followed.values() for e in episodes if e.key not in met):
        if not episode.finished:
            _vanished(look, episode, wider.get(episode.group))
    _forget(state, times.shifted(now, -2 * lookback))
    return look.made


def _opened(look: _Look, episode: Episode, window: RegionalWindow) -> None:
    data = described(window)
    episode.window, episode.provisional = data, window.provisional
    look.send(episode, "opened", data)
    if not window.ongoing:
        _moved(look, episode, window)


def _moved(look: _Look, episode: Episode, window: RegionalWindow) -> None:
    """An episode's window found again: confirmed, closed, or only its bounds moved."""
    data = described(window)
    was_provisional = episode.provisional
    episode.window, episode.provisional = data, window.provisional
    if was_provisional and not window.provisional:
        look.send(episode, "confirmed", data)
    if not window.ongoing and not episode.closed:
        episode.closed = True
        episode.finished = not window.provisional
        look.send(episode, "closed", data)
        return
    episode.finished = episode.closed and not window.provisional
    with look.state.transaction():
        look.keep(episode)


def _vanished(look: _Look, episode: Episode, wider: RegionalWindow | None) -> None:
    """No window meets a followed episode any more: revised (``wider`` folded it in) or dropped (it rested on
    silence), else closed."""
    episode.finished = True
    if episode.provisional and wider is not None:
        look.send(
            episode, "revised", episode.window, revised_into=group_of(wider), revised_place=place_of(described(wider))
        )
    elif episode.provisional:
        look.send(episode, "dropped", episode.window, dropped=True)
    elif not episode.closed:
        episode.closed = True
        look.send(episode, "closed", episode.window, no_longer_seen=True)
    else:
        with look.state.transaction():
            look.keep(episode)


def _forget(state: AlertState, before: str) -> None:
    """Finished episodes last seen before ``before``: their windows are past any look's lookback."""
    with state.transaction():
        state.conn.execute("delete from regional_episodes where finished = 1 and seen_at < ?", (before,))
