"""The per-area timeline: one row per area (its districts' rows under it, the whole country's on top), the regional
windows drawn on the report's time axis as bars by kind.

A bar is solid where the window surely was (``start_max`` to ``end_min``) and pale where it may have been (its
bounds); a provisional window (resting on silence) is hatched and dashed; its ``<title>`` gives the kind, the
place, the bounds, the probes and the confidence with its basis. Windows that overlap in a row take lanes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from probe.analysis import times
from probe.analysis.regional import RegionalWindow
from probe.analysis.regional import kinds as rk
from probe.place import area_name, country_name
from probe.report.boundaries import Boundary
from probe.report.regional import Regional, network_types
from probe.report.svg import AXIS, LABEL, WIDTH, Axis

KIND_COLORS = {
    rk.NATIONAL_SHUTDOWN: "#1A1A1A",
    rk.REGIONAL_SHUTDOWN: "#1A1A1A",
    rk.MOBILE_SHUTDOWN: "#E69F00",
    rk.INTERNATIONAL_CUT: "#CC79A7",
    rk.TOO_FEW_PROBES: "#A9A9A9",
    rk.PROBE_DARK: "#882255",
    rk.DEVICE_OFF: "#C8C8C8",
    rk.LOCAL_FAULT: "#0072B2",
    rk.SMS_AFFECTED: "#56B4E9",
    rk.TARGETED_BLOCK: "#D55E00",
}
KIND_WORDS = {
    rk.NATIONAL_SHUTDOWN: "National shutdown",
    rk.REGIONAL_SHUTDOWN: "Regional shutdown (every network)",
    rk.MOBILE_SHUTDOWN: "Mobile networks cut",
    rk.INTERNATIONAL_CUT: "International links cut (the country's own network works)",
    rk.TOO_FEW_PROBES: "Probes down together, too few to say",
    rk.PROBE_DARK: "One probe's network down",
    rk.DEVICE_OFF: "A probe's machine off (no shutdown)",
    rk.LOCAL_FAULT: "A probe's own link down (no shutdown)",
    rk.SMS_AFFECTED: "SMS failing",
    rk.TARGETED_BLOCK: "A target blocked",
}
LANE = 12
GAP = 3
ROW_PAD = 8


@dataclass(frozen=True)
class Row:
    label: str
    detail: str
    level: int
    """0: the country or an area; 1: a district."""
    windows: tuple[RegionalWindow, ...]
    key: str


def kind_words(kind: str) -> str:
    return KIND_WORDS.get(kind, kind)


def rows(regional: Regional, country: str, boundary: Boundary | None) -> list[Row]:
    """The country's row (when it has windows), then each area with probes or windows, its districts under it."""

    def name(area: str) -> str:
        shipped = boundary.areas.get(area) if boundary else None
        return shipped.name if shipped else area_name(area) or area

    mine = [window for window in regional.windows if window.country == country]
    found = []
    national = tuple(window for window in mine if window.scope == "country")
    if national:
        members = regional.members(country)
        detail = f"{len(members)} probe(s): {network_types(members)}"
        found.append(Row(f"{country_name(country) or country}, whole country", detail, 0, national, country))
    for area in regional.areas(country):
        members = regional.members(country, area)
        own = tuple(w for w in mine if w.scope != "country" and w.area == area and not w.district)
        detail = f"{len(members)} probe(s)" + (f": {network_types(members)}" if members else "")
        found.append(Row(f"{area} {name(area)}", detail, 0, own, area))
        for district in regional.districts(area):
            members = regional.members(country, area, district)
            own = tuple(w for w in mine if w.scope != "country" and w.area == area and w.district == district)
            detail = f"{len(members)} probe(s)" + (f": {network_types(members)}" if members else "")
            found.append(Row(district, detail, 1, own, f"{area}/{district}"))
    return found


def _span(window: RegionalWindow, axis: Axis) -> tuple[float, float]:
    first = window.start_min if window.start_min is not None else window.start_max
    last = window.end_max if window.end_max is not None else axis.end
    return axis.x(first), axis.x(last)


def lanes(windows: Sequence[RegionalWindow], axis: Axis) -> list[int]:
    """A lane per window, the lowest free one: windows that overlap on the page never share one."""
    ends: list[float] = []
    found = []
    for window in windows:
        left, right = _span(window, axis)
        lane = next((i for i, end in enumerate(ends) if end <= left), len(ends))
        if lane == len(ends):
            ends.append(right)
        ends[lane] = right + 1
        found.append(lane)
    return found


def title(window: RegionalWindow) -> str:
    where = "/".join(part for part in (window.country, window.area, window.district) if part)
    if window.probe:
        where += f" probe {window.probe[:12]}"
    network = window.network_type or "every network"
    started = times.between(
        None if window.start_min is None else times.iso(window.start_min), times.iso(window.start_max)
    )
    ended = (
        "ongoing"
        if window.end_max is None
        else times.between(None if window.end_min is None else times.iso(window.end_min), times.iso(window.end_max))
    )
    provisional = " (provisional: from silence, until the probes' rounds arrive)" if window.provisional else ""
    return (
        f"{kind_words(window.kind)}{provisional}, {where} ({network}): started {started}, ended {ended}; "
        f"{len(window.probes)} of {window.probes_total} probe(s); confidence {window.confidence:.2f}: {window.basis}"
    )


def _bar(window: RegionalWindow, axis: Axis, top: float, hatch: str) -> str:
    color = KIND_COLORS.get(window.kind, "#555555")
    left, right = _span(window, axis)
    sure_from = axis.x(window.start_max)
    sure_to = axis.x(window.end_min) if window.end_min is not None else right
    provisional = "true" if window.provisional else "false"
    dash = ' stroke="#333333" stroke-dasharray="3 2" stroke-width="1"' if window.provisional else ""
    parts = [
        f'<g class="bar" data-kind="{window.kind}" data-provisional="{provisional}">',
        f"<title>{escape(title(window))}</title>",
        f'<rect x="{left:.1f}" y="{top:.1f}" width="{max(right - left, 1.0):.1f}" height="{LANE}" fill="{color}" '
        'fill-opacity="0.3"/>',
        f'<rect class="sure" x="{sure_from:.1f}" y="{top:.1f}" width="{max(sure_to - sure_from, 1.0):.1f}" '
        f'height="{LANE}" fill="{color}"{dash}/>',
    ]
    if window.provisional:
        parts.append(
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{max(right - left, 1.0):.1f}" height="{LANE}" '
            f'fill="url(#{hatch})"/>'
        )
    return "".join(parts) + "</g>"


def timeline_svg(regional: Regional, country: str, boundary: Boundary | None, axis: Axis) -> str:
    found = rows(regional, country, boundary)
    parts, y = [], 4.0
    for number, row in enumerate(found):
        ordered = sorted(row.windows, key=lambda w: (w.start_min or w.start_max, w.kind))
        placed = lanes(ordered, axis)
        height = max(max(placed, default=0) + 1, 2) * (LANE + GAP) + ROW_PAD
        shade = "#F7F7F7" if number % 2 == 0 else "#FFFFFF"
        indent = 14 * row.level
        weight = "bold" if row.level == 0 else "normal"
        parts.append(f'<g class="row" data-row="{escape(row.key)}" data-level="{row.level}">')
        parts.append(f'<rect x="0" y="{y:.1f}" width="{WIDTH}" height="{height:.1f}" fill="{shade}"/>')
        parts.append(
            f'<text x="{6 + indent}" y="{y + 15:.1f}" font-size="12" font-weight="{weight}">{escape(row.label)}</text>'
            f'<text x="{6 + indent}" y="{y + 28:.1f}" font-size="10" fill="#555555">{escape(row.detail)}</text>'
        )
        for window, lane in zip(ordered, placed, strict=True):
            parts.append(_bar(window, axis, y + ROW_PAD / 2 + lane * (LANE + GAP), f"hatch-timeline-{country}"))
        parts.append("</g>")
        y += height
    ticks = "".join(
        f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{y:.1f}" class="grid"/>'
        f'<text x="{x:.1f}" y="{y + 14:.1f}" font-size="10" text-anchor="middle">{escape(text)}</text>'
        for x, text in axis.ticks()
    )
    total = y + AXIS
    hatch = (
        f'<defs><pattern id="hatch-timeline-{escape(country)}" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#FFFFFF" stroke-width="2.2"/>'
        "</pattern></defs>"
    )
    return (
        f'<svg id="timeline-{escape(country)}" class="chart" viewBox="0 0 {WIDTH} {total:.0f}" width="{WIDTH}" '
        f'height="{total:.0f}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="Regional windows of each area of {escape(country)} over time">'
        f'{hatch}{"".join(parts)}<line x1="{LABEL}" y1="0" x2="{LABEL}" y2="{y:.1f}" class="grid"/>{ticks}</svg>'
    )


def timeline_legend() -> str:
    def swatch(color: str) -> str:
        return (
            f'<svg width="14" height="12" viewBox="0 0 14 12" xmlns="http://www.w3.org/2000/svg">'
            f'<rect width="14" height="12" fill="{color}"/></svg>'
        )

    words = {**KIND_WORDS, rk.REGIONAL_SHUTDOWN: "Shutdown of every network (of an area, a district, the country)"}
    keys = "".join(
        f'<span class="key">{swatch(color)} {escape(words[kind])}</span>'
        for kind, color in KIND_COLORS.items()
        if kind != rk.NATIONAL_SHUTDOWN
    )
    return (
        f'<p class="legend">{keys}</p><p class="legend">Solid: surely; pale: the range of its start and end; hatched '
        "with a dashed edge: provisional. Hover a bar for the probes, the confidence and what it rests on.</p>"
    )
