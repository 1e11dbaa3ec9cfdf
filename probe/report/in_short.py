"""The report's "In short" on a collector whose probes declared their places: the regional windows first, in words
a rights group can cite (what was cut, where, when, seen by how many probes, how sure), then the windows per
network, each saying how far it reached (``probe.analysis.extent``): three probes of a district cut off, merged
per network, are not the network down, and the page does not say they are.
"""

from __future__ import annotations

from html import escape

from probe.analysis import extent, kinds, times
from probe.analysis.regional import RegionalWindow
from probe.analysis.regional import kinds as rk
from probe.analysis.scoring import label
from probe.analysis.windows import Window
from probe.report.regional import Regional, place_words
from probe.report.regional_timeline import kind_words

EVENTS = (
    rk.NATIONAL_SHUTDOWN,
    rk.REGIONAL_SHUTDOWN,
    rk.MOBILE_SHUTDOWN,
    rk.INTERNATIONAL_CUT,
    rk.TARGETED_BLOCK,
    rk.SMS_AFFECTED,
)
"""The regional windows "In short" names, in this order: the events a rights group reports."""
WHAT = {
    rk.NATIONAL_SHUTDOWN: "every network cut across the country (national shutdown)",
    rk.REGIONAL_SHUTDOWN: "every network cut, fixed and mobile (regional shutdown)",
    rk.MOBILE_SHUTDOWN: "mobile networks cut while fixed ones worked (mobile shutdown)",
    rk.INTERNATIONAL_CUT: "sites abroad cut off while the country's own network worked (international cut)",
    rk.SMS_AFFECTED: "SMS failing while the network worked",
}
SHOWN = 8
"""Regional windows named one by one; the others are in the section's table."""
REACH = {
    extent.NATIONAL: "the whole country: {} (see Areas and districts)",
    extent.PARTIAL: "not the whole network: {} (see Areas and districts)",
    extent.PROBES: "not the whole network: {}",
    extent.UNEXPLAINED: "no area, district or network type was cut as a whole (its probes declared no place, or it was "
    "too short)",
}
"""A whole-network window's extent in words (``{}``: the regional windows that hold its probes)."""


def _when(window: RegionalWindow) -> str:
    start = times.short(times.iso(window.start))
    if window.end is None:
        return f"from about {start}, still ongoing"
    return f"from about {start} until about {times.short(times.iso(window.end))}"


def _probes(window: RegionalWindow) -> str:
    kind = f"{window.network_type} " if window.network_type else ""
    if window.kind == rk.TARGETED_BLOCK:
        return f"{len(window.probes)} of {window.probes_total} working probes"
    return f"{len(window.probes)} of {window.probes_total} {kind}probes there"


def event_line(window: RegionalWindow) -> str:
    """``<strong>Mangystau Region (KZ-47), Zhanaozen</strong>: every network cut, ... (3 of 3 probes there; ...)``."""
    what = WHAT.get(window.kind) or f"{escape(window.target)} blocked (targeted block)"
    provisional = (
        "; provisional: its probes stopped uploading together, and their late uploads will confirm or drop it"
        if window.provisional
        else ""
    )
    return (
        f"<strong>{escape(place_words(window))}</strong>: {escape(what)}, {_when(window)} "
        f"({_probes(window)}; {label(window.confidence)} confidence, {window.confidence:.2f}{provisional})."
    )


def regional_lines(regional: Regional) -> list[str]:
    """The regional events, the widest kinds first, then whether any was national."""
    rank = {kind: index for index, kind in enumerate(EVENTS)}
    events = sorted(
        (window for window in regional.windows if window.kind in rank),
        key=lambda window: (rank[window.kind], window.start, place_words(window)),
    )
    if not events:
        return ["No area, district or network type was cut, and no target blocked across the country."]
    lines = [event_line(window) for window in events[:SHOWN]]
    if len(events) > SHOWN:
        lines.append(f"{len(events) - SHOWN} more in the table of the section Areas and districts.")
    cuts = [window for window in events if window.kind in rk.SHUTDOWNS]
    if cuts and all(window.scope != "country" for window in cuts):
        lines.append(
            "None of these cuts was national: while each lasted, probes elsewhere in the country, or on its other "
            "networks, kept working."
        )
    return lines


def network_target(window: Window) -> str:
    """What a window was about: a target, the whole network, or the network of some of its probes only."""
    if window.target != kinds.NETWORK_TARGET:
        return window.target
    reach = window.extent.reach if window.extent else extent.NATIONAL
    if reach in (extent.NATIONAL, extent.NOT_JUDGED) or window.scope == "probe":
        return "the whole network"
    return f"the network of {window.probes} of {window.probes_total} probes"


def _named(window: RegionalWindow) -> str:
    """``the regional shutdown of Mangystau Region (KZ-47), Zhanaozen``; a probe's own: what, then which."""
    if window.kind in rk.GROUP_EVENTS:
        return f"the {window.kind.replace('_', ' ')} of {place_words(window)}"
    return f"{kind_words(window.kind).lower()} ({place_words(window)})"


def extent_words(window: Window) -> str:
    """How far a whole-network window reached, as the regional windows tell it; "" when they do not speak."""
    found = window.extent
    if found is None or found.reach == extent.NOT_JUDGED:
        return ""
    return REACH[found.reach].format(" and ".join(_named(one) for one in found.regional))
