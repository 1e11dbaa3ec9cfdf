"""How far a whole-network window reached, as a collector's regional detection tells it (its *extent*).

``find_outages`` merges the windows of a network's probes (an ASN) or a country's; on a collector whose probes
declared their places, three probes of a district cut off read there as a ``network_shutdown`` of the network, or
of the country. The regional windows (``probe.analysis.regional``) know better: a district's regional shutdown,
a mobile-only cut, one probe's own line. Each whole-network window of a kind regional detection judges
(``EXPLAINED_BY``) is matched with the regional windows that overlap it in time and name one of its probes:

    national      a country-wide window (a national shutdown, or a country's international cut) holds one of its
                  probes: the whole country, as far as the probes tell
    partial       narrower group windows (an area's or a district's shutdown or international cut, a mobile-only
                  cut) hold its probes, no country-wide one: parts of the network, not all of it
    probes        only probes' own windows hold them (one probe dark alone of its group, too few probes, a
                  probe's own link down): no group of probes lost the network together
    unexplained   no regional window holds any of its probes (no place declared, or too short to be a window)

``unexplained`` also counts, whatever the extent, the window's probes that no regional window holds. The other
windows on such a collector (a target's, a degraded network's) carry an extent of "" (``NOT_JUDGED``), so that
every row of one answer has the same fields. Pure: the regional windows are given (``find_outages`` reads them
where places exist).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from probe.analysis import kinds, times
from probe.analysis.regional import RegionalWindow
from probe.analysis.regional import kinds as rk
from probe.analysis.windows import Window

NATIONAL: Final = "national"
PARTIAL: Final = "partial"
PROBES: Final = "probes"
UNEXPLAINED: Final = "unexplained"
NOT_JUDGED: Final = ""
EXTENTS = (NATIONAL, PARTIAL, PROBES, UNEXPLAINED)
"""From the widest to the narrowest: a window's extent is the widest its regional windows give."""

EXPLAINED_BY = {
    kinds.NETWORK_SHUTDOWN: frozenset(
        {rk.NATIONAL_SHUTDOWN, rk.REGIONAL_SHUTDOWN, rk.MOBILE_SHUTDOWN, rk.TOO_FEW_PROBES, rk.PROBE_DARK}
    ),
    kinds.INTERNATIONAL_CUT: frozenset({rk.INTERNATIONAL_CUT}),
    kinds.LOCAL_FAULT: frozenset({rk.LOCAL_FAULT}),
}
"""The kinds of whole-network window given an extent, and the regional kinds that say what one of them was."""
FIELDS = ("extent", "extent_windows", "extent_unexplained", "probe_ids")
"""What a window with an extent adds to its json and csv rows."""


def place(window: RegionalWindow) -> str:
    """``regional_shutdown KZ/KZ-47/Zhanaozen``, ``mobile_shutdown KZ/KZ-47 (mobile)``: a regional window named."""
    where = "/".join(part for part in (window.country, window.area, window.district) if part)
    if window.probe:
        where += f" {window.probe[:8]}"
    if window.network_type and not window.probe:
        where += f" ({window.network_type})"
    return f"{window.kind} {where}"


def _reach(window: RegionalWindow) -> str:
    if window.kind in (rk.TOO_FEW_PROBES, rk.PROBE_DARK, rk.LOCAL_FAULT):
        return PROBES
    return NATIONAL if window.scope == "country" else PARTIAL


@dataclass(frozen=True)
class Extent:
    reach: str
    """``EXTENTS``: national, partial, probes or unexplained; or "" (``NOT_JUDGED``)."""
    regional: tuple[RegionalWindow, ...]
    """The regional windows that hold its probes, the widest first."""
    unexplained: int
    """Its probes that no regional window holds."""

    @property
    def windows(self) -> tuple[str, ...]:
        """The regional windows named (``place``), each once."""
        return tuple(dict.fromkeys(place(found) for found in self.regional))

    @property
    def leaves_to_regional(self) -> bool:
        """Narrower than the country, and every probe of it explained: the regional windows say all it says."""
        return self.reach == PARTIAL and not self.unexplained

    def words(self) -> str:
        """One line: ``partial: regional_shutdown KZ/KZ-47/Zhanaozen`` (and how many probes nothing explains)."""
        text = self.reach + (": " + "; ".join(self.windows) if self.windows else "")
        if self.unexplained and self.reach != UNEXPLAINED:
            text += f"; {self.unexplained} probe(s) in no regional window"
        return text

    def fields(self, probe_ids: Sequence[str]) -> dict[str, Any]:
        return {
            "extent": self.reach,
            "extent_windows": list(self.windows),
            "extent_unexplained": self.unexplained,
            "probe_ids": list(probe_ids),
        }


def _span(window: Window) -> tuple[float, float]:
    low = times.seconds(window.start_min or window.start_max)
    return low, float("inf") if window.end_max is None else times.seconds(window.end_max)


def _meets(span: tuple[float, float], regional: RegionalWindow) -> bool:
    low = regional.start_min if regional.start_min is not None else regional.start_max
    high = float("inf") if regional.end_max is None else regional.end_max
    return low < span[1] and span[0] < high


def extent_of(window: Window, regional: Iterable[RegionalWindow]) -> Extent:
    """``window``'s extent among the collector's ``regional`` windows (``NOT_JUDGED`` for a window of no such kind)."""
    wanted = EXPLAINED_BY.get(window.kind)
    if wanted is None or window.target != kinds.NETWORK_TARGET:
        return Extent(NOT_JUDGED, (), 0)
    span, probes = _span(window), set(window.seen_by)
    holding = [
        found for found in regional if found.kind in wanted and probes & set(found.probes) and _meets(span, found)
    ]
    explained = {probe for found in holding for probe in found.probes}
    rank = {reach: index for index, reach in enumerate(EXTENTS)}
    holding.sort(key=lambda found: (rank[_reach(found)], found.start, place(found)))
    reach = _reach(holding[0]) if holding else UNEXPLAINED
    return Extent(reach, tuple(holding), len(probes - explained))


def qualify(windows: Iterable[Window], regional: Sequence[RegionalWindow]) -> list[Window]:
    """``windows``, each whole-network one of a kind regional detection judges carrying its extent."""
    return [replace(window, extent=extent_of(window, regional)) for window in windows]
