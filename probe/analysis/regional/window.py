"""``RegionalWindow``: one window as analysts and rights groups read it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from probe.analysis.scoring import label
from probe.analysis.times import iso, seconds

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
    revises: tuple[str, ...] = ()
    """Provisional windows of narrower places (or, for a mobile cut, the same place) that were this one's beginning,
    each as ``kind|scope|country|area|district|network_type|target``: while a cut is known from silence alone, the
    places whose probes upload most often show first (a national shutdown as some areas' cuts, an area's cut as a
    district's, a full cut as a mobile one); once this wider window meets them they are folded into it, and are no
    longer found on their own. Not dropped: revised into this one."""

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
        data["revises"] = list(self.revises)
        data["ongoing"] = self.ongoing
        return data

    def saved_row(self, saved_at: str) -> dict[str, Any]:
        """The window as a row of ``outage_windows`` (``probe outages --by district|area --save``).

        The columns it shares with the other saved windows mean what they mean there: ``region`` the country,
        ``probes`` how many saw it (``probe_ids``: which, a JSON list), ``last_bad`` its end's low bound (its
        start's high one while ongoing), ``severity`` the share of the group's probes that saw it times its
        minutes (to ``saved_at`` while ongoing); it counts no measurements (0)."""
        data = self.to_dict()
        minutes = max(0.0, (self.end if self.end is not None else seconds(saved_at)) - self.start) / 60
        share = len(self.probes) / self.probes_total if self.probes_total else 1.0
        return {
            **{name: data[name] for name in ("scope", "target", "kind", "probe", "basis", "confidence")},
            **{name: data[name] for name in _TIMES if name not in ("start", "end")},
            **{name: data[name] for name in ("probes_total", "area", "district", "network_type", "provisional")},
            "blocking": None,
            "blocking_detail": None,
            "ongoing": self.ongoing,
            "last_bad": data["end_min"] or data["start_max"],
            "measurements": 0,
            "failing": 0,
            "probes": len(self.probes),
            "network": None,
            "region": self.country,
            "confidence_label": label(self.confidence),
            "severity": round(share * minutes, 1),
            "regional": True,
            "probe_ids": json.dumps(list(self.probes)),
        }
