"""What the report shows of regional detection: a collector's regional windows and the places its probes declared.

Present only when the database holds what regional detection reads: batches received (``batch_arrivals``) from
probes whose runs declared an area. A probe's own database, or a collector whose probes declared nothing, has
no regional section. The windows are ``find_regional``'s (``probe outages --by district``), the places are the
runs' declarations in the period: which areas and districts had probes, of which network types.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from probe.analysis import times
from probe.analysis.regional import RegionalWindow, Rules
from probe.analysis.regional.query import RegionalQuery, find_regional, has_places
from probe.place import area_country, area_name, country_name
from probe.report import boundaries
from probe.storage.connection import Connection

_PLACES = (
    "select distinct area, coalesce(district, ''), coalesce(network_type, 'unknown'), probe_id from runs "
    "where coalesce(area, '') != '' and probe_id is not null and started_at >= ? and started_at < ?"
)


@dataclass(frozen=True)
class Place:
    country: str
    area: str
    district: str


@dataclass
class Regional:
    since: str
    until: str
    windows: list[RegionalWindow]
    probes: dict[Place, dict[str, str]] = field(default_factory=dict)
    """Each area's and district's probes (the area's entry holds them all), probe id -> network type."""

    def countries(self) -> list[str]:
        found = {place.country for place in self.probes} | {window.country for window in self.windows}
        return sorted(country for country in found if country)

    def areas(self, country: str) -> list[str]:
        found = {place.area for place in self.probes if place.country == country}
        found |= {window.area for window in self.windows if window.country == country}
        return sorted(area for area in found if area)

    def districts(self, area: str) -> list[str]:
        found = {place.district for place in self.probes if place.area == area}
        found |= {window.district for window in self.windows if window.area == area}
        return sorted(district for district in found if district)

    def members(self, country: str, area: str = "", district: str = "") -> dict[str, str]:
        return self.probes.get(Place(country, area, district), {})


def gather_regional(conn: Connection, since: str, until: str, rules: Rules | None = None) -> Regional | None:
    """The regional windows overlapping ``[since, until)`` and the places; None when the database holds no declared
    places. The windows are as known now, not at ``until``: a report of a past period counts the batches that
    arrived late, which confirm or drop what silence alone suggested (``probe outages --until`` does not)."""
    if not has_places(conn):
        return None
    found = find_regional(conn, RegionalQuery("district", since=since, rules=rules))
    end = times.seconds(until)
    windows = [window for window in found if window.start_max < end]
    regional = Regional(since, until, windows)
    for area, district, network_type, probe in conn.execute(_PLACES, (since, until)):
        country = area_country(str(area))
        for place in (Place(country, "", ""), Place(country, str(area), ""), Place(country, str(area), str(district))):
            regional.probes.setdefault(place, {})[str(probe)] = str(network_type)
    regional.probes.pop(Place("", "", ""), None)
    return regional


def network_types(members: dict[str, str]) -> str:
    """``4 fixed, 3 mobile``: a group's probes by network type."""
    counts: dict[str, int] = defaultdict(int)
    for network_type in members.values():
        counts[network_type] += 1
    return ", ".join(f"{counts[kind]} {kind}" for kind in sorted(counts))


def place_words(window: RegionalWindow) -> str:
    """``Mangystau Region (KZ-47), Zhanaozen``: the names as the map has them, else as ISO 3166 does."""
    shipped = boundaries.load(window.country)
    if not window.area:
        place = country_name(window.country) or window.country
    else:
        found = shipped.areas.get(window.area) if shipped else None
        place = f"{found.name if found else area_name(window.area) or window.area} ({window.area})"
    place += f", {window.district}" if window.district else ""
    return f"{place}, probe {window.probe[:12]}" if window.probe else place
