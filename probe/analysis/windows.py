"""``Window``: one outage window as analysts read it (``probe outages``, reports, exports)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from probe.analysis import scoring

if TYPE_CHECKING:
    from probe.analysis.extent import Extent

SCOPES = ("probe", "network", "region")
"""What a window aggregates: one probe's series, a network's (ASN) probes, a region's (country) probes."""


@dataclass(frozen=True)
class Window:
    scope: str
    target: str
    """The input (a URL, host, host:port or SMS recipient), or ``network`` for the whole network."""
    kind: str
    blocking: str | None
    blocking_detail: str | None
    start_min: str | None
    """The last good point before the window (None: the data begins inside it)."""
    start_max: str
    """The first bad point."""
    end_min: str | None
    """The last bad point (None while ongoing)."""
    end_max: str | None
    """The first good point after it (None while ongoing)."""
    last_bad: str
    measurements: int
    failing: int
    probes: int
    probes_total: int
    network: str
    """The ASN (for a region: the ASNs that saw it, comma-separated)."""
    region: str
    probe: str
    """The probe's id for a probe's window ("" for a database's own probe, and for aggregates)."""
    confidence: float
    severity: float
    basis: str
    seen_by: tuple[str, ...] = field(default=(), repr=False)
    """The probes whose series are in it: which ``probes`` counts ("" for a database's own probe)."""
    extent: Extent | None = None
    """On a collector whose probes declared their places, how far it reached as the regional windows tell
    (``probe.analysis.extent``); None elsewhere, and for the kinds regional detection does not judge."""

    @property
    def ongoing(self) -> bool:
        return self.end_max is None

    @property
    def confidence_label(self) -> str:
        return scoring.label(self.confidence)

    def to_dict(self) -> dict[str, Any]:
        """``FIELDS``; and, with an extent, its ``probe.analysis.extent.FIELDS`` (the probes that saw it too)."""
        data = {name: value for name, value in asdict(self).items() if name not in _COLLECTOR_ONLY}
        data["ongoing"] = self.ongoing
        data["confidence_label"] = self.confidence_label
        if self.extent is not None:
            data.update(self.extent.fields(self.seen_by))
        return data


_COLLECTOR_ONLY = ("seen_by", "extent")
"""Fields out of ``FIELDS``: a window's probes and its extent go out only where regional detection speaks."""
FIELDS = (*(name for name in Window.__dataclass_fields__ if name not in _COLLECTOR_ONLY), "ongoing", "confidence_label")
"""Column order of the csv and json outputs (a collector's with declared places: then ``extent.FIELDS``)."""
