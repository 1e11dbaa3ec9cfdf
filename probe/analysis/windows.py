"""``Window``: one outage window as analysts read it (``probe outages``, reports, exports)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from probe.analysis import scoring

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

    @property
    def ongoing(self) -> bool:
        return self.end_max is None

    @property
    def confidence_label(self) -> str:
        return scoring.label(self.confidence)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ongoing"] = self.ongoing
        data["confidence_label"] = self.confidence_label
        return data


FIELDS = (*Window.__dataclass_fields__, "ongoing", "confidence_label")
"""Column order of the csv and json outputs."""
