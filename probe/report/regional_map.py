"""The map of a country's subdivisions, each shaded by what its regional windows say, over the whole period and in
small multiples over time.

Plain inline SVG (no script): a subdivision is a ``<g class="area" data-area=... data-state=...>`` holding its
outline, or a circle at its centre when the shipped map has no outline for it (``boundaries``), with a ``<title>``
tooltip. States, most severe first: ``cut`` (a national or regional shutdown of the whole area), ``district``
(a district in it cut off: the map has no district outlines), ``mobile`` (mobile networks cut), ``abroad``
(international links cut, the domestic network working), ``few`` (probes
down together, too few to call it regional), ``up`` (probes, none of that), ``none`` (no probe declared there).
A state that rests on silence only (provisional windows) is hatched. device_off, local_fault and a single
probe's windows are never shaded: they are no shutdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from probe.analysis import times
from probe.analysis.regional import RegionalWindow
from probe.analysis.regional import kinds as rk
from probe.place import area_country
from probe.report.boundaries import Boundary, Projection, Subdivision
from probe.report.regional import Regional, network_types

CUT, DISTRICT, MOBILE, ABROAD, FEW = "cut", "district", "mobile", "abroad", "few"
UP, NONE = "up", "none"
STATES = (CUT, DISTRICT, MOBILE, ABROAD, FEW, UP, NONE)
SEVERE = STATES[:5]
"""The states a window gives, most severe first; ``up`` and ``none`` are the absence of one."""
STATE_COLORS = {
    CUT: "#1A1A1A",
    DISTRICT: "#5E5E5E",
    MOBILE: "#E69F00",
    ABROAD: "#CC79A7",
    FEW: "#A9A9A9",
    UP: "#CFE8DC",
    NONE: "#F4F4F4",
}
STATE_WORDS = {
    CUT: "cut off: every network down in the whole area",
    DISTRICT: "a district cut off (every network down there)",
    MOBILE: "mobile networks cut, fixed ones working",
    ABROAD: "international links cut, the country's own network working",
    FEW: "probes down together, too few to call it regional",
    UP: "probes here, no shutdown",
    NONE: "no probe declared here",
}
LABEL_DARK = frozenset({CUT, DISTRICT})
MAP_WIDTH = 1000
PANEL_WIDTH = 240
PANELS = 8
SYMBOL_RADIUS = 6.0


@dataclass(frozen=True)
class AreaState:
    state: str
    provisional: bool
    windows: tuple[RegionalWindow, ...]


def _state_of(window: RegionalWindow, country: str, area: str) -> str | None:
    """What ``window`` makes of ``area``'s shade, or None when it says nothing about it."""
    if window.country != country or (window.scope != "country" and window.area != area):
        return None
    if window.kind in (rk.NATIONAL_SHUTDOWN, rk.REGIONAL_SHUTDOWN):
        if window.network_type == "mobile":
            return MOBILE
        return DISTRICT if window.scope == "district" else CUT
    if window.kind == rk.MOBILE_SHUTDOWN:
        return MOBILE
    if window.kind == rk.INTERNATIONAL_CUT:
        return ABROAD
    if window.kind == rk.TOO_FEW_PROBES:
        return FEW
    return None


def area_state(
    regional: Regional, country: str, area: str, start: float | None = None, end: float | None = None
) -> AreaState:
    """The most severe state of ``area`` over ``[start, end)`` (the whole period when not given)."""
    by_state: dict[str, list[RegionalWindow]] = {}
    for window in regional.windows:
        ended = window.end if window.end is not None else float("inf")
        if (end is not None and window.start >= end) or (start is not None and ended <= start):
            continue
        state = _state_of(window, country, area)
        if state is not None:
            by_state.setdefault(state, []).append(window)
    for state in SEVERE:
        if state in by_state:
            found = tuple(by_state[state])
            return AreaState(state, all(window.provisional for window in found), found)
    return AreaState(UP if regional.members(country, area) else NONE, False, ())


def _tooltip(regional: Regional, area: Subdivision, state: AreaState) -> str:
    members = regional.members(area_country(area.code), area.code)
    text = f"{area.name} ({area.code})"
    if area.symbol and area.centre:
        text += f", drawn at {area.centre}" + (f" ({area.note})" if area.note else "")
    text += f": {len(members)} probe(s)" + (f" ({network_types(members)})" if members else "")
    text += f"; {STATE_WORDS[state.state]}" + (" (provisional: from silence)" if state.provisional else "")
    for window in state.windows[:4]:
        where = f" {window.district}" if window.district else ""
        ended = "ongoing" if window.end is None else times.short(times.iso(window.end))
        text += f"; {window.kind}{where} {times.short(times.iso(window.start))} to {ended}"
    return text


def _short(area: Subdivision, boundary: Boundary) -> str:
    """The name without "Region", unless another subdivision has that name (Almaty Region and Almaty)."""
    short = area.name.removesuffix(" Region")
    return short if short == area.name or all(other.name != short for other in boundary.areas.values()) else area.name


def _area(projection: Projection, area: Subdivision, state: AreaState, tip: str, hatch: str) -> tuple[str, str]:
    """The area's outline and its symbol (drawn after every outline, so that none hides one)."""
    color = STATE_COLORS[state.state]
    head = f'<g class="area" data-area="{escape(area.code)}" data-state="{state.state}"'
    head += f' data-provisional="{str(state.provisional).lower()}">'
    title = f"<title>{escape(tip)}</title>"
    outline = symbol = ""
    if area.rings:
        d = projection.path(area.rings)
        outline = f'{head}<path d="{d}" fill="{color}" fill-rule="evenodd" stroke="#FFFFFF" stroke-width="0.8">'
        outline += f"{title}</path>"
        if state.provisional:
            outline += f'<path d="{d}" fill="url(#{hatch})" fill-rule="evenodd" class="provisional"/>'
        outline += "</g>"
    if area.symbol:
        x, y = projection.xy(area.symbol)
        r = SYMBOL_RADIUS * (1 if projection.width >= MAP_WIDTH / 2 else 0.6)
        symbol = (
            f'{head}<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{color}" stroke="#333333" stroke-width="1">'
        )
        symbol += f"{title}</circle>"
        if state.provisional:
            symbol += f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="url(#{hatch})" class="provisional"/>'
        symbol += "</g>"
    return outline, symbol


def _hatch(ident: str) -> str:
    return (
        f'<defs><pattern id="{ident}" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="none"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#FFFFFF" stroke-width="2.2"/></pattern></defs>'
    )


def _label(projection: Projection, area: Subdivision, state: AreaState, regional: Regional, boundary: Boundary) -> str:
    if area.label is None:
        return ""
    at = area.symbol or area.label
    x, y = projection.xy(at)
    anchor = "middle"
    if area.symbol:
        x, anchor = x + SYMBOL_RADIUS + 3, "start"
    dark = state.state in LABEL_DARK and not area.symbol
    fill, halo = ("#FFFFFF", STATE_COLORS[state.state]) if dark else ("#222222", "#FFFFFF")
    count = len(regional.members(area_country(area.code), area.code))
    weight = "bold" if count else "normal"
    # A halo of the fill behind each letter: the name stays legible over borders and hatching.
    text = f'<text x="{x:.1f}" y="{y + 4:.1f}" font-size="11" text-anchor="{anchor}" fill="{fill}" '
    text += f'stroke="{halo}" stroke-width="3" stroke-opacity="0.85" paint-order="stroke" '
    text += f'font-weight="{weight}">{escape(_short(area, boundary))}'
    if count:
        text += f'<tspan x="{x:.1f}" dy="13" font-size="10" font-weight="normal">{count} probe(s)</tspan>'
    return text + "</text>"


def map_svg(
    regional: Regional,
    boundary: Boundary,
    ident: str,
    width: float = MAP_WIDTH,
    start: float | None = None,
    end: float | None = None,
    labels: bool = True,
) -> str:
    """One map: each subdivision shaded by its state over ``[start, end)`` (the whole period by default)."""
    projection = Projection(boundary, width)
    hatch = f"hatch-{ident}"
    outlines, symbols, texts = [], [], []
    for area in boundary.areas.values():
        state = area_state(regional, boundary.country, area.code, start, end)
        outline, symbol = _area(projection, area, state, _tooltip(regional, area, state), hatch)
        outlines.append(outline)
        symbols.append(symbol)
        if labels:
            texts.append(_label(projection, area, state, regional, boundary))
    size = f'viewBox="0 0 {width:.0f} {projection.height:.0f}" width="{width:.0f}" height="{projection.height:.0f}"'
    return (
        f'<svg id="{ident}" class="map" {size} xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="Subdivisions of {escape(boundary.country)} shaded by their regional windows">'
        f"{_hatch(hatch)}{''.join(outlines)}{''.join(symbols)}{''.join(texts)}</svg>"
    )


def slices(since: str, until: str, count: int = PANELS) -> list[tuple[float, float]]:
    start, end = times.seconds(since), times.seconds(until)
    step = max(end - start, 1.0) / count
    return [(start + i * step, start + (i + 1) * step) for i in range(count)]


def span_words(start: float, end: float) -> str:
    """``06 Dec 01:16–02:45`` (UTC), the day again only when it changes."""
    first, last = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
    until = last.strftime("%H:%M") if first.date() == last.date() else last.strftime("%d %b %H:%M")
    return f"{first.strftime('%d %b %H:%M')}–{until}"


def small_multiples(regional: Regional, boundary: Boundary, panels: Sequence[tuple[float, float]]) -> str:
    """The map again for each stretch of the period, side by side, captioned with its times."""
    figures = []
    for number, (start, end) in enumerate(panels, 1):
        ident = f"map-{boundary.country}-{number}"
        caption = span_words(start, end)
        figures.append(
            f'<figure class="panel">{map_svg(regional, boundary, ident, PANEL_WIDTH, start, end, labels=False)}'
            f"<figcaption>{escape(caption)}</figcaption></figure>"
        )
    return f'<div class="panels" id="map-{boundary.country}-over-time">{"".join(figures)}</div>'


def map_legend() -> str:
    def swatch(color: str, hatched: bool = False) -> str:
        lines = '<line x1="0" y1="12" x2="12" y2="0" stroke="#FFFFFF" stroke-width="2"/>' if hatched else ""
        return (
            f'<svg width="14" height="12" viewBox="0 0 14 12" xmlns="http://www.w3.org/2000/svg">'
            f'<rect width="14" height="12" fill="{color}" stroke="#999999" stroke-width="0.5"/>{lines}</svg>'
        )

    keys = "".join(f'<span class="key">{swatch(STATE_COLORS[s])} {escape(STATE_WORDS[s])}</span>' for s in STATES)
    hatched = f'<span class="key">{swatch(STATE_COLORS[CUT], True)} hatched: provisional (probes silent, '
    hatched += "their rounds not received yet)</span>"
    circle = (
        '<span class="key"><svg width="14" height="12" viewBox="0 0 14 12" xmlns="http://www.w3.org/2000/svg">'
        '<circle cx="7" cy="6" r="5" fill="#FFFFFF" stroke="#333333"/></svg> a subdivision drawn at its centre '
        "(no outline of its own in the shipped map)</span>"
    )
    return f'<p class="legend">{keys}{hatched}{circle}</p>'
