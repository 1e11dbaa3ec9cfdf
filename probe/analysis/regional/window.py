"""``RegionalWindow``: one window as analysts and rights groups read it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from probe.analysis.times import iso

_TIMES = ("start", "start_min", "start_max", "end", "end_min", "end_max")


@dataclass(frozen=True)
class RegionalWindow:
    kind: str
    """``kinds``: national_shutdown, regional_shutdown, mobile_shutdown, too_few_probes, probe_dark, ..."""
    scope: str
    """country, area, district or probe."""
    country: str
    area: str
    district: str
    network_type: str
    """mobile or fixed for a part of a group; "" for every network type (a probe's window: its own type)."""
    start: float
    """The middle of the start's bounds (seconds since the epoch)."""
    start_min: float | None
    """Earliest possible start: the last good round before (None: the data begins inside)."""
    start_max: float
    """Latest possible start: the first bad round (or, from silence, the first missed upload)."""
    end: float | None
    """The middle of the end's bounds; None while open."""
    end_min: float | None
    """Earliest possible end: the last bad round."""
    end_max: float | None
    """Latest possible end: the first good round after."""
    probes: tuple[str, ...]
    """The probes that saw it."""
    probes_total: int
    """The probes of the group that could say (observed or silent) when most saw it."""
    provisional: bool
    """Part of it rests on silence (uploads missing against the probes' schedules), not on rounds."""
    confidence: float
    basis: str
    """What the confidence rests on, in words."""
    probe: str = ""
    """A probe's own window (probe_dark, device_off, local_fault): its id."""
    target: str = ""
    """A targeted block's target."""

    @property
    def ongoing(self) -> bool:
        return self.end is None

    def to_dict(self) -> dict[str, Any]:
        """Times as the database's ISO text."""
        data = asdict(self)
        for name in _TIMES:
            if data[name] is not None:
                data[name] = iso(data[name])
        data["probes"] = list(self.probes)
        data["ongoing"] = self.ongoing
        return data
