"""Each probe's usual availability, per hour of the day (UTC), from its own history.

A laptop switched off every night is expected to be off at 02:00; three such laptops silent
together at night say nothing, three always-on routers silent together do. Per probe and hour:

    off     share of its received bins that were ``device_off``
    down    share of its observed bins (up, blocked, down) in which it alone of its group (its
            narrowest: district, area or country) was ``network_down``, over the whole day: the
            rate of its *own* failures, which is what "by chance" means. Bins in which others of
            its group were down too are the events being judged, and do not count as habit.
    silent  the chance it is silent then: off, or down, or its upload late (its share of late batches)

Each share is smoothed towards a prior (``PRIOR_OFF``, ``PRIOR_DOWN``, ``PRIOR_WEIGHT`` bins), so a
probe with a day of history is neither certain to fail nor certain not to. The off rate includes
the events being judged (a probe cannot tell a power cut from a cut with its machine off), so a
long power cut lowers the confidence of what follows a little: a conservative bias.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from probe.analysis.regional import kinds
from probe.analysis.regional.groups import Group, groups_of
from probe.analysis.regional.timeline import ProbeTimeline

HOURS = 24
PRIOR_OFF = 0.1
PRIOR_DOWN = 0.02
PRIOR_WEIGHT = 10.0


@dataclass(frozen=True)
class Availability:
    off: tuple[float, ...]
    down: tuple[float, ...]
    late: float

    def down_at(self, hour: int) -> float:
        return self.down[hour]

    def silent_at(self, hour: int) -> float:
        stays = (1 - self.off[hour]) * (1 - self.down[hour]) * (1 - self.late)
        return 1 - stays


def estimate(
    timeline: ProbeTimeline, bin_seconds: float, together: Mapping[tuple[Group, int], int] | None = None
) -> Availability:
    """A probe's availability from its timeline's bins; ``together`` counts the probes down per group and bin."""
    received = [0] * HOURS
    off = [0] * HOURS
    observed = [0] * HOURS
    down = [0] * HOURS
    for index, state in enumerate(timeline.states):
        number = timeline.first_bin + index
        if state in (kinds.SILENT, kinds.ABSENT):
            continue
        hour = hour_of(number, bin_seconds)
        received[hour] += 1
        if state == kinds.DEVICE_OFF:
            off[hour] += 1
        elif state != kinds.LOCAL_FAULT:
            observed[hour] += 1
            if state == kinds.NETWORK_DOWN and _alone(timeline, number, together):
                down[hour] += 1
    daily = _smoothed(sum(down), sum(observed), PRIOR_DOWN)
    return Availability(
        off=tuple(_smoothed(off[h], received[h], PRIOR_OFF) for h in range(HOURS)),
        down=(daily,) * HOURS,
        late=timeline.late_share,
    )


def estimate_all(timelines: Mapping[str, ProbeTimeline], bin_seconds: float) -> dict[str, Availability]:
    together: dict[tuple[Group, int], int] = defaultdict(int)
    for timeline in timelines.values():
        for index, state in enumerate(timeline.states):
            if state == kinds.NETWORK_DOWN:
                number = timeline.first_bin + index
                together[groups_of(timeline.declaration(number))[-1], number] += 1
    return {probe: estimate(timeline, bin_seconds, together) for probe, timeline in timelines.items()}


def _alone(timeline: ProbeTimeline, number: int, together: Mapping[tuple[Group, int], int] | None) -> bool:
    if together is None:
        return True
    return together.get((groups_of(timeline.declaration(number))[-1], number), 1) <= 1


def hour_of(number: int, bin_seconds: float) -> int:
    return int(number * bin_seconds // 3600) % HOURS


def _smoothed(events: int, total: int, prior: float) -> float:
    return (events + prior * PRIOR_WEIGHT) / (total + PRIOR_WEIGHT)
