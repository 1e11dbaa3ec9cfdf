"""Inline SVG charts: the networks' reachability over time, and a status strip per target.

Plain SVG, drawn once: no script, no external font or image, tooltips as ``<title>`` elements.
Both charts share one time axis; windows are drawn on them with their bounds: a solid bar where
the window surely was (first to last bad point), a pale one where it may have been (the bounds).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from probe.analysis import extent, kinds, times
from probe.analysis.timeline import STATUSES, Timeline
from probe.analysis.windows import Window
from probe.report.words import STATUS_WORDS, kind_words

WIDTH = 1000
LABEL = 250
RIGHT = 16
PLOT = WIDTH - LABEL - RIGHT
AXIS = 26
NETWORK_ROW = 64
STRIP = 14
BAR = 5
TARGET_ROW = STRIP + BAR + 9
MAX_NETWORKS = 12
MAX_TARGETS = 60

STATUS_COLORS = {
    "ok": "#009E73",
    "blocked": "#D55E00",
    "failed": "#E69F00",
    "site_down": "#56B4E9",
    "network_down": "#222222",
    "inconclusive": "#B8B8B8",
    "nodata": "#EFEFEF",
}
KIND_COLORS = {
    kinds.TARGETED_BLOCK: "#D55E00",
    kinds.SITE_DOWN: "#56B4E9",
    kinds.NETWORK_SHUTDOWN: "#222222",
    kinds.INTERNATIONAL_CUT: "#CC79A7",
    kinds.LOCAL_FAULT: "#0072B2",
    kinds.DEGRADED: "#C9B400",
}
_PRIORITY = {
    status: rank for rank, status in enumerate(("blocked", "site_down", "network_down", "failed", "inconclusive", "ok"))
}
_TICKS = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400)


class Axis:
    """Seconds to x, over the report's period."""

    def __init__(self, since: str, until: str) -> None:
        self.start = times.seconds(since)
        self.end = max(times.seconds(until), self.start + 1)

    def x(self, moment: float) -> float:
        moment = min(max(moment, self.start), self.end)
        return LABEL + (moment - self.start) / (self.end - self.start) * PLOT

    def at(self, text: str) -> float:
        return self.x(times.seconds(text))

    def ticks(self) -> list[tuple[float, str]]:
        span = self.end - self.start
        step = next((tick for tick in _TICKS if span / tick <= 8), _TICKS[-1])
        first = (int(self.start) // step + 1) * step
        fmt = "%H:%M:%S" if span <= 600 else "%d %b %H:%M" if span <= 3 * 86400 else "%d %b %Y"
        return [
            (self.x(moment), datetime.fromtimestamp(moment, UTC).strftime(fmt))
            for moment in range(first, int(self.end), step)
        ]


def _text(x: float, y: float, text: str, *, size: int = 12, anchor: str = "start", weight: str = "normal") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}">'
        f"{escape(text)}</text>"
    )


def _rect(x: float, y: float, width: float, height: float, fill: str, *, title: str = "", extra: str = "") -> str:
    tip = f"<title>{escape(title)}</title>" if title else ""
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width, 0.8):.1f}" height="{height:.1f}" fill="{fill}"{extra}>'
        f"{tip}</rect>"
    )


def _axis(axis: Axis, top: float, bottom: float) -> str:
    parts = []
    for x, label in axis.ticks():
        parts.append(f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" class="grid"/>')
        parts.append(_text(x, bottom + 14, label, size=10, anchor="middle"))
    return "".join(parts)


def _window_title(window: Window) -> str:
    end = "ongoing" if window.ongoing else f"ended {times.short(window.end_min)} .. {times.short(window.end_max)}"
    start = f"{times.short(window.start_min)} .. " if window.start_min else "by "
    reach = ""
    if window.extent is not None and _part(window) < 1:
        reach = f"; {window.probes} of {window.probes_total} probes, {window.extent.words()}"
    return f"{kind_words(window.kind)}: started {start}{times.short(window.start_max)}, {end}{reach}"


def _part(window: Window) -> float:
    """The share of a network's probes a whole-network window held, where regional windows say it was not all of
    it (``probe.analysis.extent``); 1 where nothing says so."""
    if window.extent is None or window.extent.reach in (extent.NATIONAL, extent.NOT_JUDGED) or not window.probes_total:
        return 1.0
    return window.probes / window.probes_total


def _window_bar(axis: Axis, window: Window, y: float, height: float, *, opacity: float = 1.0) -> str:
    color = KIND_COLORS.get(window.kind, "#555555")
    title = _window_title(window)
    first = axis.at(window.start_min) if window.start_min else axis.at(window.start_max)
    sure_from = axis.at(window.start_max)
    sure_to = axis.at(window.end_min or window.last_bad)
    last = axis.at(window.end_max) if window.end_max else axis.x(axis.end)
    pale = f' fill-opacity="{0.3 * opacity:.2f}"'
    solid = f' fill-opacity="{opacity:.2f}" class="window"'
    return _rect(first, y, last - first, height, color, title=title, extra=pale) + _rect(
        sure_from, y, sure_to - sure_from, height, color, title=title, extra=solid
    )


def _dominant(counts: Counter[str]) -> str:
    if not counts:
        return "nodata"
    return min(counts, key=lambda status: (-counts[status], _PRIORITY.get(status, 99)))


def _tooltip(counts: Counter[str], start: float, size: int) -> str:
    when = times.short(times.iso(start))
    parts = ", ".join(f"{counts[status]} {STATUS_WORDS[status]}" for status in STATUSES if counts[status])
    return f"{when} (+{size} s): {parts or 'no measurement'}"


def network_chart(line: Timeline, windows: Sequence[Window], axis: Axis) -> str:
    """Reachability share per network (line), network windows as bands behind it."""
    networks = list(line.networks)[:MAX_NETWORKS]
    by_network: dict[str, list[Window]] = {}
    for window in windows:
        if window.target == kinds.NETWORK_TARGET:
            for name in window.network.split(","):
                by_network.setdefault(name, []).append(window)
    for name in by_network:
        if name not in networks and len(networks) < MAX_NETWORKS:
            networks.append(name)
    height = AXIS + len(networks) * NETWORK_ROW + 10
    parts = [
        f'<svg id="chart-network" class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Reachability of each network over time">'
    ]
    for row, name in enumerate(networks):
        top = row * NETWORK_ROW + 6
        plot_height = NETWORK_ROW - 16
        parts.append(f'<g class="network" data-network="{escape(name)}">')
        parts.append(_text(6, top + 18, name or "unknown network", size=13, weight="bold"))
        parts.append(_text(6, top + 34, "share of sites reached", size=10))
        parts.append(_rect(LABEL, top, PLOT, plot_height, "#F7F7F7"))
        for window in by_network.get(name, []):
            band = plot_height * _part(window)  # some of its probes only: that share of the height, from below
            parts.append(_window_bar(axis, window, top + plot_height - band, band, opacity=0.45))
        parts.append(_text(LABEL - 4, top + 9, "100%", size=9, anchor="end"))
        parts.append(_text(LABEL - 4, top + plot_height, "0%", size=9, anchor="end"))
        bins = line.networks.get(name, [])
        segment: list[str] = []
        segments: list[list[str]] = []
        for index, counts in enumerate(bins):
            total = sum(counts.values())
            if not total:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            share = counts["ok"] / total
            x = axis.x(line.bin_start(index) + line.bin / 2)
            y = top + (1 - share) * plot_height
            segment.append(f"{x:.1f},{y:.1f}")
            tip = _tooltip(counts, line.bin_start(index), line.bin)
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.6" class="point"><title>{escape(tip)}</title></circle>'
            )
        if segment:
            segments.append(segment)
        for points in segments:
            parts.append(f'<polyline points="{" ".join(points)}" class="share"/>')
        parts.append("</g>")
    parts.append(_axis(axis, 0, height - AXIS + 4))
    parts.append("</svg>")
    return "".join(parts)


def targets_chart(line: Timeline, windows: Sequence[Window], axis: Axis) -> tuple[str, int]:
    """A status strip per target, its windows under it; the SVG and how many targets were left out."""
    by_target: dict[str, list[Window]] = {}
    for window in windows:
        if window.target != kinds.NETWORK_TARGET:
            by_target.setdefault(window.target, []).append(window)
    names = sorted(set(line.targets) | set(by_target), key=lambda name: (name not in by_target, name))
    shown, hidden = names[:MAX_TARGETS], max(0, len(names) - MAX_TARGETS)
    height = AXIS + len(shown) * TARGET_ROW + 6
    parts = [
        f'<svg id="chart-targets" class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Status of each target over time">'
    ]
    for row, name in enumerate(shown):
        top = row * TARGET_ROW + 4
        label = name if len(name) <= 38 else name[:36] + "…"
        parts.append(f'<g class="strip" data-target="{escape(name)}">')
        parts.append(_text(LABEL - 8, top + STRIP - 3, label, size=11, anchor="end"))
        bins = line.targets.get(name, [Counter() for _ in range(line.bins)])
        for index, counts in enumerate(bins):
            start = line.bin_start(index)
            x0, x1 = axis.x(start), axis.x(start + line.bin)
            status = _dominant(counts)
            parts.append(
                _rect(
                    x0,
                    top,
                    x1 - x0 + 0.3,
                    STRIP,
                    STATUS_COLORS[status],
                    title=_tooltip(counts, start, line.bin),
                    extra=f' class="bin {status}"',
                )
            )
        for window in by_target.get(name, []):
            parts.append(_window_bar(axis, window, top + STRIP + 2, BAR))
        parts.append("</g>")
    parts.append(_axis(axis, 0, height - AXIS + 4))
    parts.append("</svg>")
    return "".join(parts), hidden


def legend() -> str:
    """The colours, as HTML (swatches are inline SVG so that they print)."""

    def swatch(color: str, opacity: float = 1.0) -> str:
        return (
            f'<svg width="14" height="12" viewBox="0 0 14 12" xmlns="http://www.w3.org/2000/svg">'
            f'<rect width="14" height="12" fill="{color}" fill-opacity="{opacity}"/></svg>'
        )

    statuses = "".join(
        f'<span class="key">{swatch(STATUS_COLORS[status])} {escape(STATUS_WORDS[status])}</span>'
        for status in (*STATUSES, "nodata")
    )
    windows = "".join(
        f'<span class="key">{swatch(color)} {escape(kind_words(kind))}</span>' for kind, color in KIND_COLORS.items()
    )
    return (
        f'<p class="legend"><strong>Measurements:</strong> {statuses}</p>'
        f'<p class="legend"><strong>Windows</strong> (solid: surely; pale: the range of its start and end): '
        f"{windows}</p>"
    )
