"""When each experiment group is due. Pure: times are wall-clock seconds (``time.time()``).

A group's next round is due ``every`` seconds (plus a random jitter in ``[0, jitter]``) after
the start of its last completed round, read from the heartbeat table, so a restart or a
resumed laptop carries on where the probe left off. Missed rounds are never made up: however
long the probe was off or asleep, an overdue group runs once, and its next round is due
``every`` seconds after that one started. After a (re)start nothing runs for ``first_delay``
seconds, so a crash loop cannot turn into a burst of rounds.

Wall time, not monotonic time: the monotonic clock stops while a laptop sleeps. A wall clock
set backwards could push a due time far out; no due time is ever further than one interval
and its jitter from now.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Group:
    """One experiment group of ``[schedule.groups]``, its experiment checked to exist."""

    name: str
    experiment: str
    every: float
    jitter: float
    test_list: Path | None
    inputs: tuple[str, ...]


def first_due(last_start: float | None, *, now: float, every: float, jitter: float, first_delay: float) -> float:
    """When a group is due when the daemon starts; ``jitter`` is this round's draw."""
    earliest = now + first_delay
    if last_start is None:
        return earliest + jitter
    due = min(last_start + every + jitter, now + every + jitter)
    return max(due, earliest)


def due_after(started: float, *, now: float, every: float, jitter: float) -> float:
    """When a group is due after a round that started at ``started`` and ended ``now``: never in the past."""
    return max(min(started + every + jitter, now + every + jitter), now)


class Schedule:
    def __init__(
        self,
        groups: Sequence[Group],
        last_completed: Mapping[str, float],
        *,
        now: float,
        first_delay: float,
        rng: random.Random,
    ) -> None:
        self.groups = {group.name: group for group in groups}
        self._rng = rng
        self.due = {
            group.name: first_due(
                last_completed.get(group.name),
                now=now,
                every=group.every,
                jitter=self._draw(group),
                first_delay=first_delay,
            )
            for group in groups
        }

    def _draw(self, group: Group) -> float:
        return self._rng.uniform(0, group.jitter) if group.jitter else 0.0

    def next(self) -> tuple[Group, float]:
        """The group due first (ties: by name) and when."""
        name = min(self.due, key=lambda key: (self.due[key], key))
        return self.groups[name], self.due[name]

    def limit(self, name: str, now: float) -> float:
        """The group's due time, pulled back if the clock went backwards since it was computed."""
        group = self.groups[name]
        self.due[name] = min(self.due[name], now + group.every + group.jitter)
        return self.due[name]

    def completed(self, name: str, *, started: float, now: float) -> None:
        group = self.groups[name]
        self.due[name] = due_after(started, now=now, every=group.every, jitter=self._draw(group))
