"""Which kinds of window one time bin holds, from the widest group to a single probe (nested events at once).

In one bin, for each country, in this order:

1. the whole country down (every network type and every area that can say): ``national_shutdown``,
   and nothing narrower;
2. else each area, then each district of an area not labelled, down with every network type and
   every district it has that can say failing (``Rules.down_share``): ``regional_shutdown``;
3. mobile probes down and fixed ones working (at least ``Rules.min_per_type`` of each), the probes
   of regionally cut groups set aside: ``mobile_shutdown`` at the widest scope where it holds, each
   narrower group's mobile probes that can say down too (so a district cut inside an area whose mobile
   network is cut reads as both, and one district's mobile cut is not its area's);
4. each group whose probes reach domestic controls and no international one, those of the cuts above set aside,
   at least ``Rules.min_witnesses`` of them in rounds that say so (never from silence alone), judged as a
   shutdown is (its probes cut from abroad or down as failing, each district it has that can say failing too):
   ``international_cut`` at the widest scope where it holds (a national intranet is the country's);
5. the probes down that nothing above explains: ``too_few_probes`` for two or more of a group with
   fewer than ``Rules.min_probes`` observed probes, else ``probe_dark`` each;
6. per probe, ``device_off`` and ``local_fault`` (never shutdowns); per area, ``sms_affected``
   (SMS failing while the network works); per country, ``targeted_block`` per target.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace

from probe.analysis.regional import kinds
from probe.analysis.regional.availability import Availability
from probe.analysis.regional.groups import ALL, FIXED, INTERNATIONAL, MOBILE, Group
from probe.analysis.regional.rules import Rules
from probe.analysis.regional.verdicts import FAILING, UNKNOWN, Judged, Status, Tally, judge


@dataclass(frozen=True, order=True)
class Key:
    """What a window is about: its kind, its group (a probe's narrowest for its own windows) and part."""

    kind: str
    group: Group
    part: str = ALL
    probe: str = ""
    target: str = ""


@dataclass(frozen=True)
class Seen:
    """One probe in one bin."""

    probe: str
    state: str
    groups: tuple[Group, ...]
    part: str
    sms_ok: bool | None
    blocked: tuple[str, ...]


class Bin:
    """The tallies of one bin and the verdicts drawn from them, each judged once."""

    def __init__(
        self, hour: int, seen: list[Seen], tallies: Mapping[tuple[Group, str], Tally], usual: Mapping[str, Availability]
    ) -> None:
        self.hour = hour
        self.seen = seen
        self.tallies = tallies
        self.usual = usual
        self._judged: dict[tuple[Group, str], Judged] = {}

    def judged(self, group: Group, part: str, rules: Rules) -> Judged:
        key = (group, part)
        if key not in self._judged:
            tally = self.tallies.get(key)
            self._judged[key] = UNKNOWN if tally is None else judge(tally, self.hour, self.usual, rules)
        return self._judged[key]


def label(current: Bin, rules: Rules) -> dict[Key, Judged]:
    """The labels of one bin: each key with the verdict behind it."""
    found: dict[Key, Judged] = {}
    explained: set[str] = set()
    groups = sorted({group for group, _ in current.tallies})
    for country in (group for group in groups if group.scope == "country"):
        inside = [group for group in groups if group.country == country.country and group.scope != "country"]
        verdict = current.judged(country, ALL, rules)
        if verdict.status in FAILING and _every_part_failing(current, country, rules):
            found[Key(kinds.NATIONAL_SHUTDOWN, country)] = verdict
            explained.update(verdict.failing)
            continue
        cut: set[Group] = set()
        for group in inside:
            if group.parent in cut:
                continue
            verdict = current.judged(group, ALL, rules)
            if verdict.status in FAILING and _every_part_failing(current, group, rules):
                found[Key(kinds.REGIONAL_SHUTDOWN, group)] = verdict
                explained.update(verdict.failing)
                cut.add(group)
        mobile: set[Group] = set()
        for group in [country, *inside]:
            if group.parent in mobile or group in cut or group.parent in cut:
                continue
            cut_mobile = _mobile(current, group, explained, rules)
            if cut_mobile is not None:
                found[Key(kinds.MOBILE_SHUTDOWN, group, MOBILE)] = cut_mobile
                mobile.add(group)
        for key in found:
            if key.kind == kinds.MOBILE_SHUTDOWN:
                explained.update(found[key].failing)
        _international(current, [country, *inside], explained, found, rules)
    _unexplained(current, explained, found, rules)
    _own(current, found)
    _sms(current, found, rules)
    _blocks(current, found, rules)
    return found


def _every_part_failing(current: Bin, group: Group, rules: Rules) -> bool:
    """Each network type, and each narrower group (a country's areas, an area's districts), that can say is down.

    Without it, a district cut at night, when its neighbour's laptops are off, would read as its whole
    area cut; and a district cut inside an area whose mobile network is cut, as the area cut. And of a group
    with two narrower groups or more, at least two must say: one district that can say (its neighbour's laptops
    off at their usual hour, silent) is that district, not its area.
    """
    children = [tally for (child, part), tally in current.tallies.items() if part == ALL and child.parent == group]
    if len(children) >= 2 and sum(1 for tally in children if tally.considered) < 2:
        return False
    parts = [current.tallies.get((group, part)) for part in (MOBILE, FIXED)]
    for tally in [*parts, *children]:
        if tally is None:
            continue
        if tally.considered and len(tally.down) + len(tally.silent) < rules.down_share * tally.considered:
            return False
    return True


def _mobile(current: Bin, group: Group, explained: set[str], rules: Rules) -> Judged | None:
    mobiles = current.tallies.get((group, MOBILE))
    fixed = current.tallies.get((group, FIXED))
    if mobiles is None or fixed is None:
        return None
    fixed = fixed.without(explained)
    observed = len(fixed.working) + len(fixed.down)
    if len(fixed.working) < rules.min_per_type or len(fixed.working) < rules.up_share * observed:
        return None
    verdict = judge(mobiles.without(explained), current.hour, current.usual, _least(rules, rules.min_per_type))
    if verdict.status not in FAILING or not _children_failing(current, group, explained, rules, MOBILE):
        return None  # a district's mobile cut, with another district's mobile probes silent or off, is not its area's
    return verdict


def _international(
    current: Bin, groups: list[Group], explained: set[str], found: dict[Key, Judged], rules: Rules
) -> None:
    """International cuts of a country's groups (``groups``: the country, then its areas, then its districts)."""
    cut: set[Group] = set()
    states = {seen.probe: seen.state for seen in current.seen}
    for group in groups:
        if _ancestors(group) & cut:
            continue
        tally = current.tallies.get((group, INTERNATIONAL))
        if tally is None:
            continue
        tally = tally.without(explained)
        witnesses = sum(1 for probe in tally.down if states.get(probe) == kinds.INTERNATIONAL_CUT)
        if witnesses < rules.min_witnesses:
            continue
        verdict = judge(tally, current.hour, current.usual, rules)
        if verdict.status in FAILING and _children_failing(current, group, explained, rules, INTERNATIONAL):
            found[Key(kinds.INTERNATIONAL_CUT, group)] = verdict
            explained.update(verdict.failing)
            cut.add(group)


def _ancestors(group: Group) -> set[Group]:
    found = set()
    parent = group.parent
    while parent is not None:
        found.add(parent)
        parent = parent.parent
    return found


def _children_failing(current: Bin, group: Group, explained: set[str], rules: Rules, part: str) -> bool:
    """Each narrower group that can say (a country's areas, an area's districts) has that part failing too: its
    mobile probes for a mobile cut, its reach abroad for an international one."""
    for (child, its), tally in current.tallies.items():
        if its != part or child.parent != group:
            continue
        rest = tally.without(explained)
        if rest.considered and len(rest.down) + len(rest.silent) < rules.down_share * rest.considered:
            return False
    return True


def _least(rules: Rules, probes: int) -> Rules:
    return replace(rules, min_probes=probes)


def _unexplained(current: Bin, explained: set[str], found: dict[Key, Judged], rules: Rules) -> None:
    dark: dict[Group, list[Seen]] = defaultdict(list)
    for seen in current.seen:
        if seen.state == kinds.NETWORK_DOWN and seen.probe not in explained:
            dark[seen.groups[-1]].append(seen)
    for group, members in dark.items():
        verdict = current.judged(group, ALL, rules)
        if len(members) >= 2 and verdict.status is Status.FEW:
            found[Key(kinds.TOO_FEW_PROBES, group)] = verdict
            continue
        for seen in members:
            found[Key(kinds.PROBE_DARK, group, seen.part, seen.probe)] = Judged(Status.DOWN, (seen.probe,), 1, 1.0)


def _own(current: Bin, found: dict[Key, Judged]) -> None:
    for seen in current.seen:
        if seen.state in (kinds.DEVICE_OFF, kinds.LOCAL_FAULT):
            key = Key(seen.state, seen.groups[-1], seen.part, seen.probe)
            found[key] = Judged(Status.DOWN, (seen.probe,), 1, 1.0)


def _sms(current: Bin, found: dict[Key, Judged], rules: Rules) -> None:
    sent: dict[Group, list[Seen]] = defaultdict(list)
    for seen in current.seen:
        if seen.state in kinds.WORKING and seen.sms_ok is not None:
            sent[seen.groups[min(1, len(seen.groups) - 1)]].append(seen)
    for group, members in sent.items():
        failed = tuple(sorted(seen.probe for seen in members if not seen.sms_ok))
        if len(failed) >= rules.sms_min_probes and len(failed) >= rules.sms_fail_share * len(members):
            found[Key(kinds.SMS_AFFECTED, group)] = Judged(Status.DOWN, failed, len(members), 1.0)


def _blocks(current: Bin, found: dict[Key, Judged], rules: Rules) -> None:
    working: dict[Group, list[Seen]] = defaultdict(list)
    for seen in current.seen:
        if seen.state in kinds.WORKING:
            working[seen.groups[0]].append(seen)
    for country, members in working.items():
        targets = sorted({target for seen in members for target in seen.blocked})
        for target in targets:
            seeing = tuple(sorted(seen.probe for seen in members if target in seen.blocked))
            if len(seeing) >= rules.min_probes and len(seeing) >= rules.block_share * len(members):
                key = Key(kinds.TARGETED_BLOCK, country, target=target)
                found[key] = Judged(Status.DOWN, seeing, len(members), 1.0)


def is_good(key: Key, current: Bin, states: Mapping[str, Seen], rules: Rules) -> bool:
    """Whether a bin speaks against the key (closes its window), beside not labelling it."""
    if key.probe:
        seen = states.get(key.probe)
        if seen is None:
            return False
        if key.kind == kinds.DEVICE_OFF:
            return seen.state not in (kinds.DEVICE_OFF, kinds.SILENT, kinds.ABSENT)
        if key.kind == kinds.LOCAL_FAULT:
            return seen.state in kinds.WORKING or seen.state in kinds.INTERNATIONAL_FAILING
        return seen.state in kinds.WORKING
    if key.kind == kinds.SMS_AFFECTED:
        sent = [s for s in current.seen if s.sms_ok is not None and s.state in kinds.WORKING and key.group in s.groups]
        return bool(sent) and sum(1 for s in sent if not s.sms_ok) * 4 < len(sent)
    if key.kind == kinds.TARGETED_BLOCK:
        working = [s for s in current.seen if s.state in kinds.WORKING and key.group in s.groups]
        return bool(working) and sum(1 for s in working if key.target in s.blocked) * 4 < len(working)
    if key.kind == kinds.INTERNATIONAL_CUT:
        return current.judged(key.group, INTERNATIONAL, rules).status is Status.UP
    if key.kind in (kinds.REGIONAL_SHUTDOWN, kinds.NATIONAL_SHUTDOWN):
        # Over as soon as one network type works again: what is left is a mobile-only cut, say, not this.
        parts = (ALL, MOBILE, FIXED)
        return any(current.judged(key.group, part, rules).status is Status.UP for part in parts)
    return current.judged(key.group, key.part, rules).status is Status.UP
