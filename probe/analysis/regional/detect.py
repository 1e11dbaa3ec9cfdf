"""``detect``: every regional window the batches received by a moment support, as of that moment.

A pure function of the set of batches received by ``as_of`` (never of their arrival order: see
``timeline``), the rules and, when given, the probes' usual availability: asking twice gives the
same answer, and a window drawn from silence (``provisional``) becomes confirmed, or disappears,
as the late batches arrive. No socket, no database: the collector reads and passes the batches.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from probe.analysis.regional import availability, kinds
from probe.analysis.regional.availability import Availability
from probe.analysis.regional.bounds import Bounds, Witness, end_witness, first_onset, last_return, start_witness
from probe.analysis.regional.groups import INTERNATIONAL, Group, groups_of, parts_of
from probe.analysis.regional.labels import Bin, Key, Seen, is_good, label
from probe.analysis.regional.listening import gaps
from probe.analysis.regional.model import Batch, Listening, Round
from probe.analysis.regional.rules import Rules
from probe.analysis.regional.runs import Run, Tracker, widened
from probe.analysis.regional.timeline import ProbeTimeline, timelines
from probe.analysis.regional.verdicts import Tally, together
from probe.analysis.regional.window import RegionalWindow
from probe.analysis.regional.words import basis, confidence

_OWN = frozenset({kinds.DEVICE_OFF, kinds.LOCAL_FAULT})


def detect(
    batches: Iterable[Batch],
    as_of: float,
    rules: Rules | None = None,
    since: float | None = None,
    usual: Mapping[str, Availability] | None = None,
    listening: Iterable[Listening] | None = None,
) -> list[RegionalWindow]:
    """Windows from ``since`` (default: the first round) to ``as_of``, sorted by start, kind and place.

    ``usual`` (each probe's availability, ``availability.estimate``) is estimated from the batches
    when not given; given, only the bins from ``since`` are built (a collector keeps the estimate).
    ``listening``: when the collector was listening (``sources.listening``); a probe's silence while it
    was not, and while the probe may still be backing off after it, is no witness (``listening``). None:
    unknown, every silence counts.
    """
    rules = rules or Rules()
    lines = timelines(batches, as_of, rules, since if usual is not None else None, gaps(listening, as_of, rules))
    if not lines:
        return []
    if usual is None:
        usual = availability.estimate_all(lines, rules.bin_seconds)
    # How late a probe is now is this look's (its silence so far), whatever the estimate was made from.
    usual = {
        probe: replace(usual.get(probe) or availability.estimate(line, rules.bin_seconds), late=line.late_share)
        for probe, line in lines.items()
    }
    width = rules.bin_seconds
    first = min(line.first_bin for line in lines.values())
    if since is not None:
        first = max(first, math.floor(since / width))
    end = math.ceil(as_of / width)
    active: dict[Key, Tracker] = {}
    runs: list[Run] = []
    for number in range(first, end):
        current, states = _bin(number, lines, usual, as_of, rules)
        labels = label(current, rules)
        for key, judged in labels.items():
            tracker = active.get(key)
            if tracker is None:
                opening = 1 if key.kind in _OWN else rules.open_after
                tracker = active[key] = Tracker(key, opening, 1 if key.kind in _OWN else rules.close_after)
            tracker.labelled(number, judged)
        for key in [key for key in active if key not in labels]:
            tracker = active[key]
            if is_good(key, current, states, rules):
                closed = tracker.good(number)
                if closed is not None:
                    runs.append(closed)
            if tracker.idle:
                del active[key]
    runs.extend(run for tracker in active.values() if (run := tracker.finish()) is not None)
    windows = [_window(run, lines, usual, rules) for run in widened(runs)]
    return sorted(windows, key=_order)


def _bin(
    number: int, lines: Mapping[str, ProbeTimeline], usual: Mapping[str, Availability], as_of: float, rules: Rules
) -> tuple[Bin, dict[str, Seen]]:
    tallies: dict[tuple[Group, str], Tally] = defaultdict(Tally)
    seen: list[Seen] = []
    onsets: dict[str, tuple[float, float]] = {}
    hour = availability.hour_of(number, rules.bin_seconds)
    for probe, line in lines.items():
        state = line.state(number)
        if state == kinds.ABSENT:
            continue
        declaration = line.declaration(number)
        groups = groups_of(declaration)
        parts = parts_of(declaration)
        decided = line.round_at(number)
        seen.append(
            Seen(
                probe,
                state,
                groups,
                parts[-1] if len(parts) > 1 else declaration.network_type,
                decided.sms_ok if decided is not None else None,
                decided.blocked if decided is not None and state == kinds.BLOCKED else (),
            )
        )
        if state in kinds.WORKING or state == kinds.INTERNATIONAL_CUT:
            place = "working"  # for shutdowns, an international cut is a network that works inside
        elif state == kinds.NETWORK_DOWN:
            place = "down"
        elif state == kinds.SILENT and number * rules.bin_seconds >= line.last_upload:
            missed = line.silence_from + declaration.schedule.upload_interval  # its first missed upload
            if not line.overdue or number * rules.bin_seconds < missed:
                place = "pending"
            elif _unexpected(usual[probe], hour, line, as_of, rules):
                place = "silent"
                onsets[probe] = (line.last_upload, missed)  # it stopped uploading in there
            else:
                place = "idle"  # its habit at this hour (a laptop off at night), or gone: says nothing
        else:
            place = "idle"
        abroad = "down" if state in kinds.INTERNATIONAL_FAILING else place
        for group in groups:
            for part in parts:
                getattr(tallies[group, part], place).append(probe)
            getattr(tallies[group, INTERNATIONAL], abroad).append(probe)
    for tally in tallies.values():
        if len(tally.silent) > 1:
            tally.silent, apart = together(tally.silent, onsets, rules.together)
            tally.idle.extend(apart)
    return Bin(hour, seen, tallies, usual), {item.probe: item for item in seen}


def _unexpected(usual: Availability, hour: int, line: ProbeTimeline, as_of: float, rules: Rules) -> bool:
    """Whether an overdue probe's silence is a witness: not its habit at this hour, and not so long it has left."""
    return usual.silent_at(hour) < rules.expected_silent and as_of - line.last_upload <= rules.max_silence


def _down(item: Round) -> bool:
    return item.state == kinds.NETWORK_DOWN


def _working(item: Round) -> bool:
    return item.state in kinds.WORKING


def _lit(item: Round) -> bool:
    return item.state in kinds.WORKING or item.state in kinds.INTERNATIONAL_FAILING


def _window(
    run: Run, lines: Mapping[str, ProbeTimeline], usual: Mapping[str, Availability], rules: Rules
) -> RegionalWindow:
    key, width = run.key, rules.bin_seconds
    start, end = _bounds(run, lines, rules)
    peak = run.peak
    assert peak is not None
    return RegionalWindow(
        kind=key.kind,
        scope="probe" if key.probe else key.group.scope,
        country=key.group.country,
        area=key.group.area,
        district=key.group.district,
        network_type=key.part,
        start=start.middle,
        start_min=start.low,
        start_max=start.high,
        end=None if end is None else end.middle,
        end_min=None if end is None else end.low,
        end_max=None if end is None else end.high,
        probes=tuple(sorted(run.probes)),
        probes_total=max(peak.members, peak.considered),
        provisional=run.provisional,
        confidence=confidence(run, usual, rules),
        basis=basis(run, usual, width),
        probe=key.probe,
        target=key.target,
        revises=tuple(sorted(_named(revised) for revised in run.revises)),
    )


def _named(key: Key) -> str:
    """A window's group as ``kind|scope|country|area|district|network_type|target``."""
    group = key.group
    return "|".join((key.kind, group.scope, group.country, group.area, group.district, key.part, key.target))


def _bounds(run: Run, lines: Mapping[str, ProbeTimeline], rules: Rules) -> tuple[Bounds, Bounds | None]:
    width, key = rules.bin_seconds, run.key
    low, high = (run.first - 1) * width, (run.last + 1) * width
    if key.kind == kinds.DEVICE_OFF:
        return _off_bounds(run, lines[key.probe], rules)
    bad, good = _tests(key)
    starts: list[Witness] = []
    for probe in sorted(run.probes):
        line = lines[probe]
        schedule = line.declaration(run.first).schedule
        gap = schedule.round_interval * rules.carry_intervals
        last_good, first_bad = start_witness(line, low, high, bad, good)
        if first_bad is None and line.overdue:
            first_bad = line.silence_from + schedule.upload_interval + schedule.round_interval
        starts.append(Witness(last_good, first_bad, gap))
    start = first_onset(starts) or Bounds(None, run.first * width)
    if run.close is None:
        return start, None
    ends: list[Witness] = []
    for probe in sorted(run.probes):
        line = lines[probe]
        gap = line.declaration(run.last).schedule.round_interval * rules.carry_intervals
        ends.append(Witness(*end_witness(line, low, (run.close + 1) * width, bad, good), gap))
    end = last_return(ends) or Bounds(run.last * width, (run.close + 1) * width)
    return start, end


def _tests(key: Key) -> tuple[Callable[[Round], bool], Callable[[Round], bool]]:
    if key.kind == kinds.LOCAL_FAULT:
        return (lambda item: item.state == kinds.LOCAL_FAULT), _lit
    if key.kind == kinds.SMS_AFFECTED:
        return (lambda item: item.sms_ok is False), (lambda item: item.sms_ok is True)
    if key.kind == kinds.INTERNATIONAL_CUT:
        return (lambda item: item.state in kinds.INTERNATIONAL_FAILING), _working
    if key.kind == kinds.TARGETED_BLOCK:
        target = key.target
        return (lambda item: target in item.blocked), (lambda item: _working(item) and target not in item.blocked)
    return _down, _working


def _off_bounds(run: Run, line: ProbeTimeline, rules: Rules) -> tuple[Bounds, Bounds | None]:
    width = rules.bin_seconds
    before = line.round_before(run.first * width)
    start = Bounds(line.starts[before] if before >= 0 else None, (run.first + 1) * width)
    if run.close is None:
        return start, None
    after = line.round_before((run.last + 1) * width) + 1
    if after >= len(line.rounds):
        return start, Bounds(run.last * width, (run.close + 1) * width)
    back = line.starts[after]
    interval = line.declaration(run.close).schedule.round_interval
    return start, Bounds(max(run.last * width, back - interval * rules.carry_intervals), back)


def _order(window: RegionalWindow) -> tuple[float, str, str, str, str, str, str, str]:
    return (
        window.start_max,
        window.kind,
        window.country,
        window.area,
        window.district,
        window.network_type,
        window.probe,
        window.target,
    )
