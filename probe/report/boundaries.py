"""The shipped maps of countries' subdivisions, and a projection of one onto the page.

A map is ``probe/report/maps/<CC>.json`` (made by ``scripts/make_boundaries.py`` from Natural Earth, public
domain; docs/method.md, "On the map", says how): per ISO 3166-2 subdivision, its rings (longitude, latitude), a
label point, and for a subdivision without a polygon of its own (formed after the boundary file's edition, or too
small to see) a symbol at its administrative centre. A country without a file gets no map (``load`` returns None).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

Point = tuple[float, float]
Ring = tuple[Point, ...]


@dataclass(frozen=True)
class Subdivision:
    code: str
    name: str
    rings: tuple[Ring, ...]
    label: Point | None
    symbol: Point | None
    """Where the subdivision is drawn as a symbol (its administrative centre), if it is."""
    centre: str
    within: str
    """The subdivision whose outline holds this one's symbol (it was formed from it after the edition)."""
    note: str


@dataclass(frozen=True)
class Boundary:
    country: str
    source: str
    edition: str
    areas: dict[str, Subdivision]


def _subdivision(item: dict[str, Any]) -> Subdivision:
    symbol = item.get("symbol") or {}
    at = symbol.get("at")
    label = item.get("label") or at
    return Subdivision(
        code=item["code"],
        name=item["name"],
        rings=tuple(tuple((float(x), float(y)) for x, y in ring) for ring in item["rings"]),
        label=(float(label[0]), float(label[1])) if label else None,
        symbol=(float(at[0]), float(at[1])) if at else None,
        centre=symbol.get("centre", ""),
        within=item.get("within", ""),
        note=item.get("note", ""),
    )


@cache
def load(country: str) -> Boundary | None:
    """The shipped map of ``country`` (ISO 3166-1 alpha-2), or None when none ships."""
    found = resources.files("probe.report").joinpath("maps", f"{country.upper()}.json")
    if not country.isalpha() or not found.is_file():
        return None
    data = json.loads(found.read_text(encoding="utf-8"))
    areas = {item["code"]: _subdivision(item) for item in data["areas"]}
    return Boundary(data["country"], data["source"], data.get("edition", ""), areas)


class Projection:
    """Longitude and latitude to page units: equirectangular, scaled by the cosine of the middle latitude (true
    shapes near it, fair for one country), fitted to ``width`` with ``pad`` around."""

    def __init__(self, boundary: Boundary, width: float, pad: float = 6.0) -> None:
        points = [point for area in boundary.areas.values() for ring in area.rings for point in ring]
        points += [area.symbol for area in boundary.areas.values() if area.symbol]
        lons, lats = [p[0] for p in points], [p[1] for p in points]
        self.west, self.north = min(lons), max(lats)
        self.squeeze = math.cos(math.radians((min(lats) + max(lats)) / 2))
        span_x = (max(lons) - self.west) * self.squeeze
        self.scale = (width - 2 * pad) / span_x
        self.pad = pad
        self.width = width
        self.height = (self.north - min(lats)) * self.scale + 2 * pad

    def xy(self, point: Point) -> Point:
        lon, lat = point
        return self.pad + (lon - self.west) * self.squeeze * self.scale, self.pad + (self.north - lat) * self.scale

    def path(self, rings: tuple[Ring, ...]) -> str:
        """An SVG path's ``d``: one closed subpath a ring (holes drawn with ``fill-rule="evenodd"``)."""
        parts = []
        for ring in rings:
            points = [self.xy(point) for point in ring]
            parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in points) + "Z")
        return "".join(parts)
