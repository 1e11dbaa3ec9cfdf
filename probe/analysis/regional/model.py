"""What the collector knows about a probe, as the regional detection reads it (inputs only).

Times are seconds since the epoch (UTC) throughout ``probe.analysis.regional``; the collector turns
its ISO text into seconds once (``probe.analysis.times.seconds``).

    Declaration   where the probe says it is and how it runs (per run: a probe can move)
    Round         one round's network state, whether the machine was off before it, SMS
    Batch         what one upload brought, the span of time it covers, and when it arrived
    Listening     a time the collector was listening (a session of ``probe collector serve``)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from probe.place import NetworkType

RoundState = Literal["up", "network_down", "blocked", "local_fault", "international_cut", "degraded"]
"""``up``: controls fine; ``network_down``: controls failing beyond the probe's own link; ``blocked``:
controls fine, named targets failing; ``local_fault``: the probe's own link or Wi-Fi is down;
``international_cut``: every international control failing while a domestic one works (the network works
inside the country only); ``degraded``: some controls failing with no pattern (a flaky link: up, not down)."""


@dataclass(frozen=True)
class Schedule:
    round_interval: float
    """Seconds between the starts of two rounds."""
    upload_interval: float
    """Seconds between two uploads."""

    def __post_init__(self) -> None:
        if self.round_interval <= 0 or self.upload_interval <= 0:
            raise ValueError("a schedule needs positive round and upload intervals")


@dataclass(frozen=True)
class Declaration:
    probe: str
    country: str
    area: str = ""
    """ISO 3166-2 subdivision (``KZ-47``, checked by ``probe.place``), or "": the probe counts only for its country."""
    district: str = ""
    """An admin-2 name (``Zhanaozen``), or ""."""
    network_type: NetworkType = "unknown"
    schedule: Schedule = field(default_factory=lambda: Schedule(600.0, 3600.0))


@dataclass(frozen=True)
class Round:
    start: float
    state: RoundState
    machine_off: bool = False
    """The machine was off, or the daemon not running, since the previous round (boot changed)."""
    sms_ok: bool | None = None
    """Whether the round's SMS went through; None when it sent none."""
    blocked: tuple[str, ...] = ()
    """The targets a ``blocked`` round found blocked."""
    seen: float | None = None
    """When the round had seen its state: its first network context saying so (a round's controls run at its start
    and its end, so a cut that strikes during a round is seen at its end), else its end; None: at its start."""

    @property
    def seen_at(self) -> float:
        return self.start if self.seen is None else self.seen


@dataclass(frozen=True)
class Batch:
    declaration: Declaration
    """The run's declaration: every round of the batch was made under it."""
    covers_from: float
    """The batch holds every round the probe made from here..."""
    covers_to: float
    """...to here (its upload): a time inside with no round is a time the probe made none."""
    received: float
    """When the collector received it."""
    rounds: tuple[Round, ...] = ()

    @property
    def probe(self) -> str:
        return self.declaration.probe


@dataclass(frozen=True)
class Listening:
    """A time the collector was listening: one session of ``probe collector serve``, from its start to its stop, or
    to its latest heartbeat when it did not stop cleanly (a crash, a power cut)."""

    start: float
    end: float
