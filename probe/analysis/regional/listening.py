"""When the collector was not listening, and from when a probe's silence counts after that.

While the collector is down (a crash, an upgrade, a power cut at the operator's) every probe is silent at once,
and a probe whose upload failed then backs off: its silence says nothing of its network until it could have
reached a listening collector. Given the collector's sessions (``Listening``, read by ``sources.listening``):

    gaps          the times between the sessions known at a moment, and, when the latest session's heartbeat is
                  older than ``Rules.listening_slack``, the time since (the collector is down at that moment)
    silence_from  when a probe's overdue clock starts: its last upload, or, when a gap began before it was
                  overdue, the resume plus the backoff it may have reached in the gap (``Rules.resume_grace``)

No sessions (a collector before they were kept, the simulation): no gaps, and the clock is the last upload.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from itertools import pairwise

from probe.analysis.regional.model import Listening
from probe.analysis.regional.rules import Rules

Gap = tuple[float, float]


def gaps(listening: Iterable[Listening] | None, as_of: float, rules: Rules) -> tuple[Gap, ...]:
    """The collector's gaps known at ``as_of``, in time order: never before its first session."""
    known = sorted((period.start, min(period.end, as_of)) for period in listening or () if period.start <= as_of)
    merged: list[list[float]] = []
    for start, end in known:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    found = [(before[1], after[0]) for before, after in pairwise(merged)]
    if merged and as_of - merged[-1][1] > rules.listening_slack:
        found.append((merged[-1][1], as_of))  # down at as_of: resumed no earlier than that
    return tuple(found)


def silence_from(last_upload: float, upload_interval: float, found: Sequence[Gap], rules: Rules) -> float:
    """When a probe's overdue clock starts: ``last_upload``, moved past each gap that began before the probe was
    overdue (its silence may be the gap's doing) to the resume plus its possible backoff.

    A probe's failures in a row begin in the first such gap and go on through the next one when that began before
    the probe was due back (before the clock): the outage that sets its backoff runs from the streak's start."""
    clock, streak = last_upload, None
    ends = [end for _, end in found]
    for start, end in found[bisect.bisect_right(ends, clock) :]:
        if start >= clock + rules.overdue_uploads * upload_interval:
            break  # overdue before the collector went down: its silence is its own
        streak = streak if streak is not None and start < clock else max(start, clock)
        clock = max(clock, end + min(rules.resume_grace, 2 * (end - streak) + rules.resume_backoff_min))
    return clock
