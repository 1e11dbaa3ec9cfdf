"""Issue 21's lab proof as one scenario: a district cut at its ISP, its neighbour's mobile probes cut, a probe's
machine switched off, in a ``probe.lab.districts.Country`` of real daemons uploading to one collector.

Eleven probes in three districts of Mangystau (KZ-47), rounds every ``ROUND`` seconds, uploads every ``UPLOAD``:

    Zhanaozen  2 fixed, 2 mobile   cut at its ISP's router (nothing forwarded, the path to the collector included)
    Aktau      2 fixed, 2 mobile   its mobile probes cut, at the same moment
    Beineu     2 fixed, 1 mobile   up; one fixed probe's daemon SIGKILLed then (its machine off), started again
                                   when the cuts end

``run`` waits for ``BASELINE_ROUNDS`` rounds of every probe at the collector, applies the three events, waits
for a provisional ``regional_shutdown`` of Zhanaozen (asking ``windows`` about the collector's database, as an
analyst asks ``probe outages --by district --format json``), keeps the cuts for ``CUT_SECONDS`` at least, lifts
them, starts the dead probe again, waits for ``AFTER_ROUNDS`` rounds of every probe after that, and asks again.
Every wait is on a condition, bounded; what it returns says when each event was applied, to the second, so the
windows' bounds can be held to the truth (``tests/lab/test_lab_districts.py``, ``benchmarks/regional_lab.py``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from probe.analysis.times import iso
from probe.lab.districts import Country, Member
from probe.lab.errors import LabError

AREA = "KZ-47"
CUT = "Zhanaozen"
MOBILE_CUT = "Aktau"
KILLED = "beineu-fixed2"
ROUND = 8.0
UPLOAD = 4.0
BASELINE_ROUNDS = 4
"""Rounds every probe has uploaded before the events: its usual availability is learned from them."""
CUT_SECONDS = 40.0
"""At least this long a cut: several bins, so that the window opens (two bins) from the probes' rounds too."""
AFTER_ROUNDS = 4
"""Rounds after the cuts every probe must have uploaded before the final answer (every window closed)."""
LIVE_LIMIT = 120.0
"""Seconds after the cut within which the provisional window must appear (a few upload intervals; slack for a
loaded machine)."""
WAIT_LIMIT = 180.0
POLL = 1.0

MEMBERS = (
    *(Member(f"zhanaozen-{kind}{i}", AREA, CUT, kind) for kind in ("fixed", "mobile") for i in (1, 2)),
    *(Member(f"aktau-{kind}{i}", AREA, MOBILE_CUT, kind) for kind in ("fixed", "mobile") for i in (1, 2)),
    Member("beineu-fixed1", AREA, "Beineu", "fixed"),
    Member(KILLED, AREA, "Beineu", "fixed"),
    Member("beineu-mobile1", AREA, "Beineu", "mobile"),
)

Rows = list[dict[str, Any]]
Windows = Callable[[Path], Rows]
"""The collector's regional windows as ``probe outages --by district --format json`` rows, from its database."""


@dataclass(frozen=True)
class Proof:
    cut: tuple[float, float]
    """When the cuts (and the kill) were applied: before and after the commands (seconds since the epoch)."""
    lifted: tuple[float, float]
    """When the cuts were lifted."""
    restarted: float
    """When the dead probe's daemon was started again (its machine back on), just after the cuts were lifted."""
    live: Rows
    """The windows when the provisional regional_shutdown first appeared."""
    live_after: float
    """Seconds from the cut to then."""
    final: Rows
    """The windows once every probe uploaded its rounds after the cuts."""
    seconds: float
    """The scenario's wall time, the country's start and removal included."""
    probe_ids: dict[str, str]
    """Probe name -> id."""


def run(workdir: Path, windows: Windows, log: Callable[[str], None] = lambda line: None) -> Proof:
    began = time.monotonic()
    with Country(MEMBERS, workdir, round_every=ROUND, upload_every=UPLOAD) as country:
        log(f"{len(MEMBERS)} daemons up in {time.monotonic() - began:.0f} s")
        _wait(lambda: min(_rounds(country, 0).values()) >= BASELINE_ROUNDS, "baseline rounds", WAIT_LIMIT)
        log(f"baseline of {BASELINE_ROUNDS} rounds each after {time.monotonic() - began:.0f} s")
        cut_from = time.time()
        country.cut(AREA, CUT)
        country.cut_mobile(AREA, MOBILE_CUT)
        country.kill(KILLED)
        cut_to = time.time()

        def provisional() -> Rows:
            found = windows(country.collector_db)
            return found if any(_live_cut(window) for window in found) else []

        live = _wait(provisional, f"a provisional regional_shutdown of {CUT} while it is cut", LIVE_LIMIT)
        live_after = time.time() - cut_to
        log(f"provisional regional_shutdown of {CUT} {live_after:.0f} s after the cut")
        time.sleep(max(0.0, cut_to + CUT_SECONDS - time.time()))
        lift_from = time.time()
        country.restore(AREA, CUT)
        country.restore(AREA, MOBILE_CUT)
        lift_to = time.time()
        restarted = time.time()
        country.start(KILLED)
        _wait(lambda: min(_rounds(country, lift_to).values()) >= AFTER_ROUNDS, "rounds after the cuts", WAIT_LIMIT)
        final = windows(country.collector_db)
        ids = {name: daemon.probe_id for name, daemon in country.daemons.items()}
    seconds = time.monotonic() - began
    log(f"done in {seconds:.0f} s")
    return Proof((cut_from, cut_to), (lift_from, lift_to), restarted, live, live_after, final, seconds, ids)


def _live_cut(window: dict[str, Any]) -> bool:
    kind, district = window["kind"], window["district"]
    return bool(kind == "regional_shutdown" and district == CUT and window["provisional"] and window["ongoing"])


def _rounds(country: Country, since: float) -> dict[str, int]:
    """Each probe's finished rounds started after ``since`` that the collector holds, by probe name."""
    conn = sqlite3.connect(f"file:{country.collector_db}?mode=ro", uri=True, timeout=30)
    try:
        rows = conn.execute(
            "select probe_id, count(*) from rounds where status != 'running' and started_at > ? group by probe_id",
            (iso(since),),
        ).fetchall()
    finally:
        conn.close()
    counts = {str(probe): int(count) for probe, count in rows}
    return {name: counts.get(daemon.probe_id, 0) for name, daemon in country.daemons.items()}


def _wait(condition: Callable[[], Any], what: str, limit: float) -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(POLL)
    raise LabError(f"lab: not within {limit:g} s: {what}")
