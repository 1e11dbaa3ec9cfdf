"""The report's regional section: for each country its probes declared places in, a map of its subdivisions
(the whole period, then small multiples over time), the per-area timeline and the table of windows.

A country with no shipped map (``boundaries.load``) gets the timeline and the table, and a sentence saying why
there is no map.
"""

from __future__ import annotations

from collections import Counter
from html import escape

from probe.analysis import times
from probe.analysis.regional import RegionalWindow
from probe.analysis.regional import kinds as rk
from probe.place import country_name
from probe.report import boundaries
from probe.report.regional import Regional, place_words
from probe.report.regional_map import map_legend, map_svg, slices, small_multiples
from probe.report.regional_timeline import kind_words, timeline_legend, timeline_svg
from probe.report.svg import Axis

CSS = """
.map { width: 100%; height: auto; display: block; margin: 6px 0 4px; }
.map text { font-family: inherit; }
.panels { display: flex; flex-wrap: wrap; gap: 8px 12px; margin: 8px 0; }
.panel { margin: 0; width: 240px; }
.panel .map { margin: 0; }
.panel figcaption { font-size: 11px; color: #444; text-align: center; }
"""


def _when(epoch: float | None) -> str:
    return "ongoing" if epoch is None else times.short(times.iso(epoch))


def windows_table(windows: list[RegionalWindow]) -> str:
    if not windows:
        return "<p>No regional window in this period: no area, district or network type went dark together.</p>"
    rows = "".join(
        "<tr>"
        f"<td>{escape(kind_words(w.kind))}{' <em>(provisional)</em>' if w.provisional else ''}</td>"
        f"<td>{escape(place_words(w))}</td><td>{escape(w.network_type or 'every network')}</td>"
        f'<td class="when">{_when(w.start_min) if w.start_min else "?"}<br/>and {_when(w.start_max)}</td>'
        f'<td class="when">{_when(w.end_min)}<br/>and {_when(w.end_max)}</td>'
        f'<td class="num">{len(w.probes)} of {w.probes_total}</td>'
        f'<td>{w.confidence:.2f}<br/><span class="where">{escape(w.basis)}</span></td>'
        "</tr>"
        for w in windows
    )
    head = (
        "<tr><th>What</th><th>Where</th><th>Network</th><th>Started between</th><th>Ended between</th>"
        "<th>Probes</th><th>Confidence and its basis</th></tr>"
    )
    return f'<table id="regional-windows">{head}{rows}</table>'


def summary(regional: Regional) -> str:
    """How many probes declared places, in how many areas, and the windows of networks cut, in one sentence."""
    alarms = [w for w in regional.windows if w.kind in rk.GROUP_EVENTS]
    probes = len({probe for place, members in regional.probes.items() if not place.area for probe in members})
    text = f"{probes} probe(s) declared where they are, in {sum(len(regional.areas(c)) for c in regional.countries())}"
    text += " area(s). "
    if not alarms:
        return text + "No shutdown or international cut of an area, a district or a network type was found."
    counts = Counter(kind_words(w.kind).lower() for w in alarms)
    listed = ", ".join(f"{n} × {kind}" for kind, n in counts.items())
    return text + f"{len(alarms)} window(s) of networks cut: {listed}."


def section(regional: Regional, axis: Axis) -> str:
    parts = [
        '<h2 id="regional">Areas and districts</h2>',
        f"<p>{escape(summary(regional))} Probes say which area (ISO 3166-2) and district they are in and whether "
        "they are on a fixed or a mobile network; a collector that receives many tells a district cut off from a "
        "country blocked, a mobile-only cut from a laptop switched off (the method's page, Regional "
        "detection).</p>",
    ]
    for country in regional.countries():
        name = escape(country_name(country) or country)
        boundary = boundaries.load(country)
        parts.append(f'<h3 id="regional-{escape(country)}">{name}</h3>')
        if boundary is None:
            parts.append(
                f"<p>No map: no boundary file of {name}'s subdivisions ships with this program (only Kazakhstan's, "
                "from Natural Earth). The timeline below shows the same windows.</p>"
            )
        else:
            panels = slices(regional.since, regional.until)
            hours = (panels[0][1] - panels[0][0]) / 3600
            parts += [
                "<p>Each subdivision shaded by the worst its probes saw in the whole period; hover one for its "
                "probes and windows.</p>",
                map_legend(),
                map_svg(regional, boundary, f"map-{country}"),
                f"<p>Over time: the same map for each {hours:.3g} hour(s) of the period.</p>",
                small_multiples(regional, boundary, panels),
                f'<p class="where">Map: {escape(boundary.source)}. {escape(boundary.edition)}</p>',
            ]
        parts += [
            "<p>Each area with probes, its districts under it: the windows found, by kind.</p>",
            timeline_legend(),
            timeline_svg(regional, country, boundary, axis),
        ]
    parts.append(windows_table(regional.windows))
    return "\n".join(parts)
