"""Does regional detection tell a district cut off from a dead laptop? A seeded month of many probes.

The world (``world``): 60 probes in 6 areas of one country, two districts of five probes each per
area, half of them mobile; rounds every 10 minutes, uploads every 30 minutes to 2 hours. A third of
the probes are laptops switched off most nights; districts lose power now and then (most devices
off, a fixed probe left on loses its router: a local fault); single devices die for hours, lose
their Wi-Fi, or their own line goes down (``probe_dark``); 0.3% of rounds fail on their own; about
1% of uploads stall for up to 48 hours. Injected in it: district and area cuts (30 minutes to a
day), mobile-only cuts of an area or a district, a national shutdown, country-wide blocks of one
target for a day, an area whose SMS fail while its network works, and the nested case of 2011 (a
district cut off inside an area whose mobile network is cut, on a day a target is blocked
nationwide). A cut reaches each probe of its group within ``--stagger`` seconds of its start (5 minutes), and
leaves each as unevenly; a cut probe keeps measuring and uploads when the cut ends. The true start is the first
probe's onset, the true end the last probe's return.

``play`` turns any such world into the batches a collector would receive (also used by
``tests/test_regional_*.py``). Then ``probe.analysis.regional.detect`` runs once on everything (as of
three days after the month: every late batch in) and, for the cuts of two hours or more, as of 1, 2, 3,
4 and 6 hours after each started (live: what silence says). Printed per seed: recall and precision on
regional cuts of 30 minutes or more, how often a detected cut has the right type (mobile-only vs
full), false alarms per 30 days (and how many of them on a power cut, a night or a single device),
how often the true start and end lie inside the reported bounds, and how soon a live window appeared.

    .venv/bin/python benchmarks/regional_simulation.py [--seeds 1,2,3] [--days 30] [--stagger 300]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from probe.analysis.regional import Batch, Declaration, RegionalWindow, Round, Rules, Schedule, detect
from probe.analysis.regional import kinds as regional_kinds
from probe.analysis.regional.availability import Availability, estimate_all
from probe.analysis.regional.timeline import timelines

BASE = 1_795_219_200  # 2026-11-21T00:00:00Z
ROUND = 600.0
HOUR = 3600.0
DAY = 86400.0
TARGET = "http://twitter.com/"
STAGGER = 300.0
"""A cut reaches each of its probes within 5 minutes of its start, and leaves each within 5 minutes of its end."""
LIVE_HOURS = (1, 2, 3, 4, 6)
"""When, after a cut began, live detection is asked (uploads come every 30 minutes to 2 hours)."""
LOOK_EVERY = 3 * HOUR
"""How often, through the month, live detection is asked for the provisional alarms that are dropped after."""
LOOK_BACK = 6 * HOUR
"""Each of those looks builds this many hours of bins (and reads a week of batches), as a collector's look would."""

State = tuple[str, bool | None, tuple[str, ...]] | None
"""A probe's state at a moment: (round state, SMS ok or None, blocked targets), or None when it is off."""


def play(
    declarations: Sequence[Declaration],
    state_of: Callable[[str, float], State],
    start: float,
    end: float,
    stall_of: Callable[[str, float], float] | None = None,
    flush: bool = True,
) -> list[Batch]:
    """The batches a collector receives from these probes between ``start`` and ``end``.

    Each probe rounds every ``round_interval`` (at a phase of its own) while ``state_of`` says it is
    on, and tries to upload every ``upload_interval``: an attempt succeeds when it is on and its
    network works (up or blocked), carrying every round since its last upload. ``stall_of`` gives
    an attempt's extra delay (a stalled upload holds back the ones after it). With ``flush``, every
    probe uploads what is left at ``end``.
    """
    batches: list[Batch] = []
    for index, declaration in enumerate(declarations):
        probe, schedule = declaration.probe, declaration.schedule
        rounds: list[Round] = []
        was_off = False
        moment = start + (index * 37) % int(schedule.round_interval)
        while moment < end:
            state = state_of(probe, moment)
            if state is None:
                was_off = True
            else:
                rounds.append(Round(moment, state[0], machine_off=was_off, sms_ok=state[1], blocked=state[2]))  # type: ignore[arg-type]
                was_off = False
            moment += schedule.round_interval
        sent_until, received, taken = start, start, 0
        attempt = start + (index * 53) % int(schedule.upload_interval) + schedule.upload_interval
        while attempt < end or (flush and sent_until < end):
            last = attempt >= end
            if last:
                attempt = end
            state = state_of(probe, attempt) if not last else ("up", None, ())
            if state is not None and state[0] in ("up", "blocked"):
                stall = stall_of(probe, attempt) if stall_of is not None else 0.0
                received = max(received, attempt + stall)
                upto = taken
                while upto < len(rounds) and rounds[upto].start < attempt:
                    upto += 1
                batches.append(Batch(declaration, sent_until, attempt, received, tuple(rounds[taken:upto])))
                sent_until, taken = attempt, upto
            if last:
                break
            attempt += schedule.upload_interval
    return batches


@dataclass(frozen=True)
class Event:
    kind: str
    scope: str
    area: str
    district: str
    start: float
    end: float


@dataclass
class World:
    declarations: list[Declaration]
    truth: list[Event]
    """The group events (shutdowns), what detection must find."""
    power: list[Event]
    nights: dict[str, list[tuple[float, float]]]
    dead: dict[str, list[tuple[float, float]]]
    own_down: dict[str, list[tuple[float, float]]]
    wifi: dict[str, list[tuple[float, float]]]
    blocks: list[tuple[float, float]]
    sms: list[Event]
    noise: float
    seed: int
    off_in_power: dict[int, set[str]] = field(default_factory=dict)
    stalls: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    stagger: float = 0.0
    """A cut reaches each probe of its group up to this many seconds after it begins, and leaves it as late."""

    def struck(self, event: Event, probe: str) -> tuple[float, float]:
        """When an event cut this probe off and when it gave it back (its own moments, within the stagger)."""
        return (
            event.start + self.stagger * _noise(self.seed, f"{probe}/on", event.start),
            event.end + self.stagger * _noise(self.seed, f"{probe}/back", event.end),
        )

    def hits(self, event: Event, declaration: Declaration) -> bool:
        if not _covers(event, declaration):
            return False
        return event.kind != regional_kinds.MOBILE_SHUTDOWN or declaration.network_type == "mobile"

    def true_span(self, event: Event) -> tuple[float, float]:
        """The event's first onset and last return over the probes it hits."""
        moments = [self.struck(event, d.probe) for d in self.declarations if self.hits(event, d)]
        return min(on for on, _ in moments), max(back for _, back in moments)

    def stall_of(self, probe: str, moment: float) -> float:
        for low, high in self.stalls.get(probe, ()):
            if low <= moment < high:
                return high - moment
        return 0.0

    def state_of(self, probe: str, moment: float) -> State:
        declaration = self._by_probe[probe]
        if _inside(self.nights[probe], moment) or _inside(self.dead[probe], moment):
            return None
        router_off = False
        for number, cut in enumerate(self.power):
            if cut.start <= moment < cut.end and cut.district == declaration.district and cut.area == declaration.area:
                if probe in self.off_in_power[number]:
                    return None
                router_off = declaration.network_type == "fixed"
        for event in self.truth:
            if event.start <= moment < event.end + self.stagger and self.hits(event, declaration):
                on, back = self.struck(event, probe)
                if on <= moment < back:
                    return ("network_down", None, ())
        if router_off or _inside(self.wifi[probe], moment):
            return ("local_fault", None, ())
        if _inside(self.own_down[probe], moment):
            return ("network_down", None, ())
        if _noise(self.seed, probe, moment) < self.noise:
            return (
                ("network_down", None, ()) if _noise(self.seed + 1, probe, moment) < 0.5 else ("local_fault", None, ())
            )
        sms: bool | None = None
        if declaration.network_type == "mobile":
            sms = not any(e.start <= moment < e.end and e.area == declaration.area for e in self.sms)
        if any(low <= moment < high for low, high in self.blocks):
            return ("blocked", sms, (TARGET,))
        return ("up", sms, ())

    @property
    def _by_probe(self) -> dict[str, Declaration]:
        cached: dict[str, Declaration] | None = getattr(self, "_cache", None)
        if cached is None:
            cached = {declaration.probe: declaration for declaration in self.declarations}
            self._cache = cached
        return cached


def _inside(spans: Sequence[tuple[float, float]], moment: float) -> bool:
    return any(low <= moment < high for low, high in spans)


def _covers(event: Event, declaration: Declaration) -> bool:
    if event.scope == "country":
        return True
    if event.area != declaration.area:
        return False
    return event.scope == "area" or event.district == declaration.district


def _noise(seed: int, probe: str, moment: float) -> float:
    return random.Random(f"{seed}/{probe}/{int(moment)}").random()


def world(
    seed: int, days: int = 30, areas: int = 6, districts: int = 2, per_district: int = 5, stagger: float = 0.0
) -> World:
    rng = random.Random(seed)
    declarations: list[Declaration] = []
    uploads = (1800.0, 3600.0, 3600.0, 7200.0)
    for a in range(areas):
        for d in range(districts):
            for i in range(per_district):
                mobile = i % 2 == 0 if (a * districts + d) % 2 == 0 else i % 2 == 1
                declarations.append(
                    Declaration(
                        probe=f"p{a}{d}{i}",
                        country="KZ",
                        area=f"KZ-{10 + a}",
                        district=f"d{a}{d}",
                        network_type="mobile" if mobile else "fixed",
                        schedule=Schedule(ROUND, rng.choice(uploads)),
                    )
                )
    end = BASE + days * DAY
    busy: dict[str, list[tuple[float, float]]] = {f"KZ-{10 + a}": [] for a in range(areas)}
    national: list[tuple[float, float]] = []

    def free(area: str | None, low: float, high: float) -> bool:
        margin = 6 * HOUR
        spans = [span for spans in busy.values() for span in spans] if area is None else busy[area]
        clash = any(low - margin < until and since < high + margin for since, until in [*spans, *national])
        return not clash and low >= BASE + DAY and high <= end - DAY

    def place(area: str | None, length: float) -> float | None:
        for _ in range(1000):
            low = BASE + rng.uniform(DAY, days * DAY - DAY - length)
            if free(area, low, low + length):
                if area is None:
                    national.append((low, low + length))
                else:
                    busy[area].append((low, low + length))
                return low
        return None  # a small world has no room left: the event is not injected

    truth: list[Event] = []
    area_names = sorted(busy)

    def length(low: float, high: float) -> float:
        return math.exp(rng.uniform(math.log(low), math.log(high)))

    def inject(kind: str, scope: str, area: str, district: str, span: float, into: list[Event]) -> None:
        low = place(None if scope == "country" else area, span)
        if low is not None:
            into.append(Event(kind, scope, area, district, low, low + span))

    def district_of(area: str) -> str:
        return f"d{area_names.index(area)}{rng.randrange(districts)}"

    # The nested case first: a district cut inside an area whose mobile network is cut, on a day of a block.
    nested_area, blocks = area_names[0], []
    day = place(None, DAY)
    if day is not None:
        national.pop()
        blocks.append((day, day + DAY))
        busy[nested_area].append((day, day + DAY))
        truth.append(Event(regional_kinds.MOBILE_SHUTDOWN, "area", nested_area, "", day + 6 * HOUR, day + 20 * HOUR))
        truth.append(
            Event(regional_kinds.REGIONAL_SHUTDOWN, "district", nested_area, "d00", day + 8 * HOUR, day + 18 * HOUR)
        )
    for _ in range(8):
        area = rng.choice(area_names)
        inject(
            regional_kinds.REGIONAL_SHUTDOWN, "district", area, district_of(area), length(0.5 * HOUR, 24 * HOUR), truth
        )
    for _ in range(3):
        inject(
            regional_kinds.REGIONAL_SHUTDOWN, "area", rng.choice(area_names), "", length(0.5 * HOUR, 12 * HOUR), truth
        )
    for scope in ("area", "area", "area", "district", "district"):
        area = rng.choice(area_names)
        district = district_of(area) if scope == "district" else ""
        inject(regional_kinds.MOBILE_SHUTDOWN, scope, area, district, length(1 * HOUR, 12 * HOUR), truth)
    inject(regional_kinds.NATIONAL_SHUTDOWN, "country", "", "", length(2 * HOUR, 8 * HOUR), truth)
    low = place(None, DAY)
    if low is not None:
        blocks.append((low, low + DAY))
    sms: list[Event] = []
    inject(regional_kinds.SMS_AFFECTED, "area", rng.choice(area_names), "", 6 * HOUR, sms)

    power: list[Event] = []
    off_in_power: dict[int, set[str]] = {}
    for number in range(2 * areas):
        area = rng.choice(area_names)
        district = f"d{area_names.index(area)}{rng.randrange(districts)}"
        span = rng.uniform(1 * HOUR, 4 * HOUR)
        low = BASE + rng.uniform(DAY, (days - 1) * DAY - span)
        power.append(Event("power_cut", "district", area, district, low, low + span))
        members = [d.probe for d in declarations if d.district == district]
        off_in_power[number] = {
            probe
            for probe in members
            if rng.random()
            < (0.5 if next(d for d in declarations if d.probe == probe).network_type == "mobile" else 0.9)
        }

    nights: dict[str, list[tuple[float, float]]] = {}
    dead: dict[str, list[tuple[float, float]]] = {}
    own_down: dict[str, list[tuple[float, float]]] = {}
    wifi: dict[str, list[tuple[float, float]]] = {}
    stalls: dict[str, list[tuple[float, float]]] = {}
    for declaration in declarations:
        probe = declaration.probe
        laptop = rng.random() < 1 / 3
        nights[probe] = []
        if laptop:
            for night in range(days):
                if rng.random() < 0.8:
                    off = BASE + night * DAY + 18 * HOUR + rng.gauss(0, HOUR)
                    nights[probe].append((off, off + rng.uniform(7, 9) * HOUR))
        dead[probe] = [_span(rng, BASE, end, 2 * HOUR, 30 * HOUR) for _ in range(_poisson(rng, 0.7 * days / 30))]
        own_down[probe] = [_span(rng, BASE, end, 1 * HOUR, 6 * HOUR) for _ in range(_poisson(rng, 0.3 * days / 30))]
        wifi[probe] = [_span(rng, BASE, end, 1 * HOUR, 4 * HOUR) for _ in range(_poisson(rng, 1.0 * days / 30))]
        stalls[probe] = []
        for _ in range(_poisson(rng, 1.5 * days / 30)):
            low = rng.uniform(BASE, end)
            stalls[probe].append((low, low + rng.uniform(0, 48 * HOUR)))
    return World(
        declarations,
        truth,
        power,
        nights,
        dead,
        own_down,
        wifi,
        blocks,
        sms,
        0.003,
        seed,
        off_in_power,
        stalls,
        stagger=stagger,
    )


def _span(rng: random.Random, low: float, high: float, shortest: float, longest: float) -> tuple[float, float]:
    start = rng.uniform(low, high - longest)
    return start, start + rng.uniform(shortest, longest)


def _poisson(rng: random.Random, mean: float) -> int:
    count, limit, product = 0, math.exp(-mean), rng.random()
    while product > limit and count < 100:
        count += 1
        product *= rng.random()
    return count


def _place(window: RegionalWindow) -> tuple[str, str, str]:
    return window.scope, window.area, window.district


def _event_place(event: Event) -> tuple[str, str, str]:
    return event.scope, event.area, event.district


def _overlaps(window: RegionalWindow, low: float, high: float, as_of: float) -> bool:
    start = window.start_min if window.start_min is not None else window.start_max
    end = window.end_max if window.end_max is not None else as_of
    return start < high and low < end


def _related(window: RegionalWindow, event: Event) -> bool:
    """The window's place contains, or lies in, the event's."""
    if "country" in (window.scope, event.scope):
        return True
    if window.area != event.area:
        return False
    return "area" in (window.scope, event.scope) or window.district == event.district


@dataclass
class Figures:
    seed: int
    regional: int = 0
    regional_found: int = 0
    regional_reported: int = 0
    regional_right: int = 0
    typed: int = 0
    typed_right: int = 0
    false_alarms: int = 0
    false_on_power: int = 0
    false_on_single: int = 0
    bounds: int = 0
    bounds_inside: int = 0
    fragmented: int = 0
    live: int = 0
    live_found: list[float] = field(default_factory=list)
    power_live: int = 0
    power_cuts: int = 0
    dropped: int = 0
    """Provisional shutdown alarms seen at a look that no true event explains (dropped when the batches came)."""
    dropped_on_power: int = 0
    probe_dark: int = 0
    device_off: int = 0
    sms_found: int = 0
    blocks_found: int = 0
    seconds: float = 0.0


def evaluate(seed: int, days: int, stagger: float = STAGGER) -> Figures:
    began = time.perf_counter()
    place = world(seed, days, stagger=stagger)
    end = BASE + days * DAY
    # The probes run three days past the month (no event is injected then), so that every late batch is in
    # and the world's end is no silence; windows are counted when they start inside the month.
    as_of = end + 3 * DAY
    batches = play(place.declarations, place.state_of, BASE, as_of, place.stall_of)
    rules = Rules()
    windows = [w for w in detect(batches, as_of, rules) if w.start_max < end]
    figures = Figures(seed)
    alarms = [w for w in windows if w.kind in regional_kinds.SHUTDOWNS]
    for event in place.truth:
        here = [w for w in alarms if _place(w) == _event_place(event) and _overlaps(w, event.start, event.end, as_of)]
        right = [w for w in here if w.kind == event.kind]
        if event.kind == regional_kinds.REGIONAL_SHUTDOWN and event.end - event.start >= 1800:
            figures.regional += 1
            figures.regional_found += bool(right)
        if event.kind in (regional_kinds.REGIONAL_SHUTDOWN, regional_kinds.MOBILE_SHUTDOWN) and here:
            figures.typed += 1
            figures.typed_right += bool(right)
        if right:
            figures.bounds += 1
            first = min(right, key=lambda w: w.start_max)
            last = max(right, key=lambda w: w.end_max or as_of)
            onset, back = place.true_span(event)
            starts = (first.start_min or -math.inf) < onset <= first.start_max
            ends = last.end_min is not None and last.end_max is not None and last.end_min < back <= last.end_max
            figures.bounds_inside += starts and ends
            figures.fragmented += len(right) > 1
    for window in alarms:
        if window.kind == regional_kinds.REGIONAL_SHUTDOWN:
            figures.regional_reported += 1
            figures.regional_right += any(
                e.kind == window.kind and _event_place(e) == _place(window) and _overlaps(window, e.start, e.end, as_of)
                for e in place.truth
            )
        if not any(_related(window, e) and _overlaps(window, e.start, e.end, as_of) for e in place.truth):
            figures.false_alarms += 1
            on_power = any(_overlaps(window, p.start, p.end, as_of) and window.area == p.area for p in place.power)
            figures.false_on_power += on_power
            figures.false_on_single += not on_power
    figures.probe_dark = sum(1 for w in windows if w.kind == regional_kinds.PROBE_DARK)
    figures.device_off = sum(1 for w in windows if w.kind == regional_kinds.DEVICE_OFF)
    figures.sms_found = sum(
        1
        for e in place.sms
        if any(w.kind == e.kind and w.area == e.area and _overlaps(w, e.start, e.end, as_of) for w in windows)
    )
    figures.blocks_found = sum(
        1
        for low, high in place.blocks
        if any(w.kind == regional_kinds.TARGETED_BLOCK and _overlaps(w, low, high, as_of) for w in windows)
    )
    usual = estimate_all(timelines(batches, as_of, rules), rules.bin_seconds)
    for event in [e for e in place.truth if e.end - e.start >= 2 * HOUR]:
        figures.live += 1
        for hours in LIVE_HOURS:
            moment = event.start + hours * HOUR
            live = detect(batches, moment, rules, since=event.start - DAY, usual=usual)
            if any(w.kind == event.kind and _place(w) == _event_place(event) and w.ongoing for w in live):
                figures.live_found.append(hours)
                break
    for cut in place.power:
        figures.power_cuts += 1
        moment = min(cut.end, cut.start + 3 * HOUR)
        live = detect(batches, moment, rules, since=cut.start - DAY, usual=usual)
        figures.power_live += any(
            w.kind in regional_kinds.SHUTDOWNS and w.provisional and w.area == cut.area for w in live
        )
    _dropped(figures, place, batches, rules, usual, end)
    figures.seconds = time.perf_counter() - began
    return figures


def _dropped(
    figures: Figures, place: World, batches: list[Batch], rules: Rules, usual: Mapping[str, Availability], end: float
) -> None:
    """Looks every ``LOOK_EVERY`` through the month: each provisional shutdown alarm (a group's ongoing provisional
    window, followed from look to look while it goes on) that overlaps no true event of a related place was dropped
    once the late batches came; counted once, and whether it overlapped a power cut of its area."""
    alarms: dict[tuple[str, str, str, str, str], RegionalWindow] = {}
    false: list[RegionalWindow] = []
    moment = BASE + DAY
    while moment < end:
        recent = [b for b in batches if b.received <= moment and b.covers_to >= moment - 7 * DAY]
        live = [
            w
            for w in detect(recent, moment, rules, since=moment - LOOK_BACK, usual=usual)
            if w.kind in regional_kinds.SHUTDOWNS and w.provisional and w.ongoing
        ]
        seen = {(w.kind, w.scope, w.area, w.district, w.network_type): w for w in live}
        for key, window in seen.items():
            if key not in alarms and not any(
                _related(window, e) and _overlaps(window, e.start, e.end, moment) for e in place.truth
            ):
                false.append(window)
        alarms = seen
        moment += LOOK_EVERY
    figures.dropped = len(false)
    figures.dropped_on_power = sum(
        any(_overlaps(w, p.start, p.end, end) and w.area == p.area for p in place.power) for w in false
    )


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} = {part / whole:.2f}" if whole else "n/a"


def report(figures: Figures, days: int) -> str:
    precision = _share(figures.regional_right, figures.regional_reported)
    live = sorted(figures.live_found)
    median = f"{live[len(live) // 2]:.0f} h" if live else "n/a"
    return "\n".join(
        (
            f"seed {figures.seed} ({figures.seconds:.0f} s)",
            f"  regional cuts >= 30 min: recall {_share(figures.regional_found, figures.regional)},"
            f" precision {precision}",
            f"  type right (mobile-only vs full): {_share(figures.typed_right, figures.typed)}",
            f"  false shutdown alarms: {figures.false_alarms * 30 / days:.1f} per 30 days "
            f"({figures.false_on_power} on a power cut, {figures.false_on_single} else: single devices, nights, noise)",
            f"  true start and end inside the bounds: {_share(figures.bounds_inside, figures.bounds)}"
            f" ({figures.fragmented} events in more than one window)",
            f"  live (cuts >= 2 h): {_share(len(live), figures.live)} within {LIVE_HOURS[-1]} h,"
            f" median {median} after the start;"
            " power cuts with a provisional alarm at the time, dropped after:"
            f" {_share(figures.power_live, figures.power_cuts)}",
            f"  provisional shutdown alarms dropped after (looks every {LOOK_EVERY / HOUR:.0f} h):"
            f" {figures.dropped * 30 / days:.1f} per 30 days ({figures.dropped_on_power} on a power cut)",
            f"  also: {figures.probe_dark} probe_dark, {figures.device_off} device_off windows;"
            f" SMS events found {figures.sms_found}/1; country-wide blocks found {figures.blocks_found}/2",
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--stagger", type=float, default=STAGGER, help="seconds over which a cut reaches its probes")
    args = parser.parse_args(argv)
    for seed in (int(text) for text in args.seeds.split(",")):
        print(report(evaluate(seed, args.days, args.stagger), args.days), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
