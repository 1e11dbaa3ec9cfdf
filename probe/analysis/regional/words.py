"""A window's confidence, and its basis in words: how many probes, how many down, how likely by chance.

For a shutdown (national, regional, mobile) and for too few probes, the confidence is one minus
the chance that as many probes of the group failed together at that hour by chance, each at its
own usual rate (``availability``, ``chance``), taken at the window's worst bin. A probe's own
window (probe_dark) is one minus the chance its usual failures last that many bins; device_off and
local_fault are what the probe itself recorded. SMS and targeted blocks: the share of probes
that saw it, raised by repetition (``share × (1 − ½ⁿ)`` for n bins).
"""

from __future__ import annotations

from collections.abc import Mapping

from probe.analysis.regional import chance, kinds
from probe.analysis.regional.availability import Availability, hour_of
from probe.analysis.regional.groups import ALL
from probe.analysis.regional.rules import Rules
from probe.analysis.regional.runs import Run


def confidence(run: Run, usual: Mapping[str, Availability], rules: Rules) -> float:
    peak, kind = run.peak, run.key.kind
    assert peak is not None
    hour = hour_of(run.peak_bin, rules.bin_seconds)
    if kind in kinds.GROUP_EVENTS:
        odds = peak.tail
    elif kind == kinds.TOO_FEW_PROBES:
        odds = chance.tail([usual[p].down_at(hour) for p in peak.failing], len(peak.failing))
    elif kind == kinds.PROBE_DARK:
        odds = usual[run.key.probe].down_at(hour) ** run.bins
    elif kind in (kinds.DEVICE_OFF, kinds.LOCAL_FAULT):
        odds = 0.0
    else:
        share = len(peak.failing) / peak.considered if peak.considered else 0.0
        return round(share * (1 - 0.5**run.bins), 3)
    return round(1 - odds, 6)


def basis(run: Run, usual: Mapping[str, Availability], bin_seconds: float) -> str:
    peak, key = run.peak, run.key
    assert peak is not None
    hour = hour_of(run.peak_bin, bin_seconds)
    where = key.group.name + ("" if key.part == ALL else f" ({key.part})")
    if key.kind == kinds.DEVICE_OFF:
        return f"{key.probe} made no round for {run.bins} bins of a span it uploaded (its machine was off)"
    if key.kind == kinds.LOCAL_FAULT:
        return f"{key.probe}'s own link was down for {run.bins} bins: evidence of nothing about the network"
    if key.kind == kinds.PROBE_DARK:
        return f"{key.probe} network_down for {run.bins} bins, alone of its group {key.group.name} (others up or off)"
    if key.kind == kinds.SMS_AFFECTED:
        return f"SMS failed for {len(peak.failing)} of {peak.considered} probes in {where} while their network worked"
    if key.kind == kinds.TARGETED_BLOCK:
        return f"{key.target} blocked for {len(peak.failing)} of {peak.considered} working probes in {where}"
    failing = "down or silent" if peak.silent else "down"
    if key.kind == kinds.INTERNATIONAL_CUT:
        failing = "cut from abroad (domestic controls working) or down" + (" or silent" if peak.silent else "")
    text = f"{len(peak.failing)} of {peak.considered} probes that could say {failing} in {where} at worst"
    text += f" ({peak.members} in the group)"
    if peak.silent:
        text += f" ({peak.silent} silent: uploads overdue against their schedules)"
    if key.kind == kinds.TOO_FEW_PROBES:
        return text + ": fewer than 3 probes in the group, no regional label"
    odds = peak.tail
    return text + (
        f"; chance of that many failing together at {hour:02d}h UTC, given each probe's usual availability"
        f" then: {odds:.2g}"
    )
