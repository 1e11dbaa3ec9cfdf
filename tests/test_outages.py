"""Outage windows from synthetic time series: one series per rule, each with its exact expected windows.

Rounds are ten minutes apart from ``BASE``; in round ``n`` the targets are measured ``n*600 + i``
seconds after it (``i`` their position) and the network controls at ``+0`` (start) and ``+300``
(end). ``Series`` writes what the probe would have (runs, rounds, network contexts, measurements
with their verdicts) into an in-memory database; the tests read it back through ``find_outages``.
Also used by the report and export tests (``from test_outages import Series``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from probe.analysis import Hysteresis, OutageQuery, Window, find_outages, kinds, observe
from probe.analysis.sources import Span, down_runs, network_points
from probe.storage import Database, open_database

BASE = 1_795_219_200  # 2026-11-21T00:00:00Z
ROUND = 600
TWITTER = "http://twitter.com/"
GULJAN = "http://guljan.org/"
RIDUS = "http://ridus.ru/"
TARGETS = (TWITTER, GULJAN, RIDUS)

# What a target's measurement was: (verdict, blocking, blocking_detail, failure, failed_step, confirmed)
OUTCOMES: dict[str, tuple[str | None, str | None, str | None, str | None, str | None, int]] = {
    "ok": ("accessible", None, None, None, None, 0),
    "dns": ("blocked", "dns", "dns_nxdomain", "dns_nxdomain_error", "dns", 0),
    "page": ("blocked", "http-diff", "http_blockpage:kz", None, None, 1),
    "reset": ("blocked", "http-failure", "http_reset", "connection_reset", "http", 0),
    "down": ("site_down", None, None, "generic_timeout_error", "tcp", 0),
    "net": ("network_down", None, None, "dns_servfail_error", "dns", 0),
    "inc": ("inconclusive", "tcp_ip", None, "generic_timeout_error", "tcp", 0),
    "fail": (None, None, None, "generic_timeout_error", "tcp", 0),
    "bug": ("inconclusive", None, None, "unknown_failure boom", "http", 0),
    "reached": (None, None, None, None, None, 0),
}


def at(seconds: float) -> str:
    from probe.analysis.times import iso

    return iso(BASE + seconds)


def t(round_number: int, offset: float = 0) -> str:
    """The time of round ``round_number`` plus ``offset`` seconds."""
    return at(round_number * ROUND + offset)


@dataclass
class Series:
    """A probe's (or a collector's) database, written round by round."""

    db: Database = field(default_factory=lambda: open_database(":memory:"))
    _ids: Iterator[int] = field(default_factory=lambda: iter(range(1, 1_000_000)))

    def round(
        self,
        number: int,
        outcomes: dict[str, str],
        *,
        network: str | Sequence[str | None] | None = None,
        probe: str | None = None,
        asn: str = "AS9198",
        cc: str = "KZ",
        experiment: str = "web",
        heartbeat: bool = True,
        control_runtime: float = 0.5,
    ) -> str:
        """Round ``number``: each target's outcome (``OUTCOMES`` keys, or ``sms:<detail>``); its run id.

        ``network``: the controls' state at the round's start and end (one state: both).
        """
        run_id = f"run-{probe or 'self'}-{number}-{experiment}"
        started = t(number)
        conn = self.db.db.conn
        conn.execute(
            "insert into runs (id, started_at, finished_at, status, experiment, probe_asn, probe_cc, probe_id, "
            "measurements) values (?, ?, ?, 'finished', ?, ?, ?, ?, ?)",
            (run_id, started, t(number, 400), experiment, asn, cc, probe, len(outcomes)),
        )
        states = [network, network] if network is None or isinstance(network, str) else list(network)
        for phase, state, offset in zip(("start", "end"), states, (0, 300), strict=True):
            if state is not None:
                runtime = control_runtime if state != "ok" else 0.5
                controls = [
                    {"url": "http://example.com/", "ok": state == "ok", "runtime": 0.1},
                    {"url": "http://x/", "ok": state == "ok", "runtime": runtime},
                ]
                conn.execute(
                    "insert into network_contexts (run_id, phase, measured_at, network_state, controls) "
                    "values (?, ?, ?, ?, ?)",
                    (run_id, phase, t(number, offset + runtime), state, json.dumps(controls)),
                )
        reached = 0
        for position, (target, outcome) in enumerate(outcomes.items(), start=1):
            if outcome.startswith("sms:"):
                verdict = {"sms:sms_ok": "accessible", "sms:radio_unavailable": "network_down"}.get(
                    outcome, "inconclusive"
                )
                fields: tuple[Any, ...] = (
                    verdict,
                    None,
                    outcome,
                    None if verdict == "accessible" else outcome,
                    None,
                    0,
                )
            else:
                fields = OUTCOMES[outcome]
            verdict, blocking, detail, failure, step, confirmed = fields
            reached += failure is None
            state = states[0] if outcome != "net" else "shutdown"
            conn.execute(
                "insert into measurements (id, run_id, experiment, input, started_at, runtime, failure, failed_step, "
                "verdict, blocking, blocking_detail, confirmed, network_state, probe_asn, probe_cc, probe_id, "
                "test_name, test_keys, annotations) values (?, ?, ?, ?, ?, 1.0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "'{}', '{}')",
                (
                    f"m{next(self._ids):07d}",
                    run_id,
                    experiment,
                    target,
                    t(number, position),
                    failure,
                    step,
                    verdict,
                    blocking,
                    detail,
                    confirmed,
                    state,
                    asn,
                    cc,
                    probe,
                    "web_connectivity" if experiment == "web" else experiment,
                ),
            )
        if heartbeat:
            conn.execute(
                "insert into rounds (id, probe_id, group_name, experiment, run_id, started_at, finished_at, status, "
                "targets, measured, failed, reached) values (?, ?, ?, ?, ?, ?, ?, 'finished', ?, ?, ?, ?)",
                (
                    f"round-{run_id}",
                    probe,
                    experiment,
                    experiment,
                    run_id,
                    started,
                    t(number, 400),
                    len(outcomes),
                    len(outcomes),
                    len(outcomes) - reached,
                    reached,
                ),
            )
        conn.commit()
        return run_id

    def rounds(self, plan: dict[str, str], *, first: int = 0, **options: Any) -> None:
        """Many rounds from one string per target: ``{"http://t/": "oo dd o"}`` (see ``CODES``), spaces ignored."""
        columns = {target: code.replace(" ", "") for target, code in plan.items()}
        network = columns.pop(kinds.NETWORK_TARGET, None)
        length = len(next(iter(columns.values()))) if columns else len(network or "")
        for index in range(length):
            state = None if network is None else STATES[network[index]]
            self.round(
                first + index,
                {target: CODES[code[index]] for target, code in columns.items()},
                network=state,
                **options,
            )

    def find(self, **query: Any) -> list[Window]:
        return find_outages(self.db.db.conn, OutageQuery(**query))


CODES = {
    "o": "ok",
    "d": "dns",
    "p": "page",
    "r": "reset",
    "x": "down",
    "n": "net",
    "i": "inc",
    "f": "fail",
    "b": "bug",
    "+": "reached",
}
STATES = {"o": "ok", "s": "shutdown", "c": "international_cut", "l": "local_fault", "g": "degraded", "-": None}


def bounds(window: Window) -> tuple[str | None, str, str | None, str | None]:
    return window.start_min, window.start_max, window.end_min, window.end_max


def shape(window: Window) -> tuple[str, str, str | None, str | None]:
    return window.target, window.kind, window.blocking, window.blocking_detail


# --- one series per rule --------------------------------------------------------------------------


def test_targeted_block_with_flapping_is_one_window_with_exact_bounds() -> None:
    series = Series()
    # twitter: ok ok B B ok B B B ok ok ok; the others always fine; the network ok throughout.
    series.rounds({TWITTER: "oodd oddd ooo", GULJAN: "oooo oooo ooo", "network": "oooo oooo ooo"})
    [window] = series.find()
    assert shape(window) == (TWITTER, kinds.TARGETED_BLOCK, "dns", "dns_nxdomain")
    assert bounds(window) == (t(1, 1), t(2, 1), t(7, 1), t(8, 1))
    assert (window.measurements, window.failing, window.probes, window.probes_total) == (6, 5, 1, 1)
    assert (window.network, window.region, window.basis, window.ongoing) == ("AS9198", "KZ", kinds.VERDICT, False)
    # 5 bad points of a verdict (0.85): 0.85 × (1 − 1/32); severity: 5 of 6 points bad × 60 minutes.
    assert window.confidence == pytest.approx(0.85 * (1 - 0.5**5), abs=1e-3)
    assert window.severity == pytest.approx(5 / 6 * 60, abs=0.1)


def test_flapping_that_never_holds_for_two_rounds_opens_nothing() -> None:
    series = Series()
    series.rounds({TWITTER: "odododo", GULJAN: "ooooooo", "network": "ooooooo"})
    assert series.find() == []


def test_a_single_flaky_failure_opens_no_window() -> None:
    series = Series()
    series.rounds({TWITTER: "oooo i oooo", GULJAN: "oo f oooooo", RIDUS: "oooooo d ooo", "network": "ooo g ooooooo"})
    assert series.find() == []
    # ... unless the analyst asks for windows of a single round.
    found = series.find(hysteresis=Hysteresis(open_after=1, close_after=1))
    assert sorted((w.target, w.kind) for w in found) == [
        (GULJAN, kinds.TARGETED_BLOCK),
        (RIDUS, kinds.TARGETED_BLOCK),
        (TWITTER, kinds.TARGETED_BLOCK),
        ("network", kinds.DEGRADED),
    ]


def test_shutdown_is_one_network_window_and_no_target_window() -> None:
    series = Series()
    series.rounds({TWITTER: "ooo nnn ooo", GULJAN: "ooo nnn ooo", RIDUS: "ooo nnn ooo", "network": "ooo sss ooo"})
    [window] = series.find()
    assert shape(window) == ("network", kinds.NETWORK_SHUTDOWN, None, "shutdown")
    # Controls at +0 and +300 of each round: last good at round 2's end, first bad at round 3's start, ...
    assert bounds(window) == (t(2, 300), t(3), t(5, 300), t(6))
    assert (window.measurements, window.failing, window.basis) == (6, 6, kinds.CONTROLS)
    assert window.confidence == pytest.approx(0.85 * (1 - 0.5**6), abs=1e-3)
    assert window.severity == pytest.approx(30.0, abs=0.1)  # total loss from mid-bound to mid-bound: 30 minutes


def test_shutdown_that_begins_mid_round_is_bounded_by_the_round_end_context() -> None:
    series = Series()
    series.round(0, {TWITTER: "ok", GULJAN: "ok"}, network="ok")
    series.round(1, {TWITTER: "ok", GULJAN: "ok"}, network=("ok", "shutdown"))
    series.round(2, {TWITTER: "net", GULJAN: "net"}, network="shutdown")
    series.round(3, {TWITTER: "ok", GULJAN: "ok"}, network="ok")
    series.round(4, {TWITTER: "ok", GULJAN: "ok"}, network="ok")
    [window] = series.find()
    assert (window.kind, *bounds(window)) == (kinds.NETWORK_SHUTDOWN, t(1), t(1, 300), t(2, 300), t(3))


def test_network_points_count_from_when_their_controls_started() -> None:
    # A context is stored when its slowest control gave up (a 20 s timeout in a shutdown); what it saw
    # began when the controls started: that is the time the bounds use.
    series = Series()
    series.rounds({TWITTER: "oo nn oo", GULJAN: "oo nn oo", "network": "oo ss oo"}, control_runtime=20.0)
    [window] = series.find()
    assert bounds(window) == (t(1, 300), t(2), t(3, 300), t(4))
    stored = series.db.db.conn.execute("select min(measured_at) from network_contexts where network_state != 'ok'")
    assert stored.fetchone()[0] == t(2, 20)


def test_international_cut_is_its_own_kind() -> None:
    series = Series()
    series.rounds({TWITTER: "oo nnnn oo", GULJAN: "oo nnnn oo", "network": "oo cccc oo"})
    [window] = series.find()
    assert (window.target, window.kind, *bounds(window)) == (
        "network",
        kinds.INTERNATIONAL_CUT,
        t(1, 300),
        t(2),
        t(5, 300),
        t(6),
    )


def test_local_fault_and_degraded_networks() -> None:
    series = Series()
    series.rounds({TWITTER: "oo nn oo ii oo", GULJAN: "oo nn oo ii oo", "network": "oo ll oo gg oo"})
    found = series.find()
    assert [(w.kind, *bounds(w)) for w in found] == [
        (kinds.LOCAL_FAULT, t(1, 300), t(2), t(3, 300), t(4)),
        (kinds.DEGRADED, t(5, 300), t(6), t(7, 300), t(8)),
    ]


def test_site_down_everywhere_is_not_censorship() -> None:
    series = Series()
    series.rounds({TWITTER: "oo", RIDUS: "oo", "network": "oo"})
    series.rounds({TWITTER: "ooo oo", RIDUS: "xxx oo", "network": "ooo oo"}, first=2)
    [window] = series.find()
    assert shape(window) == (RIDUS, kinds.SITE_DOWN, None, None)
    assert bounds(window) == (t(1, 2), t(2, 2), t(4, 2), t(5, 2))


def test_a_block_hidden_by_a_shutdown_keeps_honest_bounds() -> None:
    # twitter blocked, then the whole network dark, then everything back: during the shutdown nobody
    # can tell whether twitter was still blocked, so its end lies between its last bad and first good.
    series = Series()
    series.rounds({TWITTER: "oo ddd nnn oo", GULJAN: "oo ooo nnn oo", "network": "oo ooo sss oo"})
    block, shutdown = series.find()
    assert (block.kind, *bounds(block)) == (kinds.TARGETED_BLOCK, t(1, 1), t(2, 1), t(4, 1), t(8, 1))
    assert (block.measurements, block.failing) == (6, 3)
    assert (shutdown.kind, *bounds(shutdown)) == (kinds.NETWORK_SHUTDOWN, t(4, 300), t(5), t(7, 300), t(8))


def test_ongoing_window_has_no_end() -> None:
    series = Series()
    series.rounds({TWITTER: "ooo ddd o", GULJAN: "ooo ooo o", "network": "ooo ooo o"})
    [window] = series.find()
    assert window.ongoing and (window.end_min, window.end_max, window.last_bad) == (None, None, t(5, 1))
    assert window.to_dict()["ongoing"] is True


def test_a_confirmed_blockpage_counts_most() -> None:
    series = Series()
    series.rounds({TWITTER: "o pp oo", GULJAN: "o oo oo", "network": "o oo oo"})
    [window] = series.find()
    assert shape(window) == (TWITTER, kinds.TARGETED_BLOCK, "http-diff", "http_blockpage:kz")
    assert window.basis == kinds.CONFIRMED and window.confidence == pytest.approx(0.95 * 0.75, abs=1e-3)


def test_the_probes_own_faults_and_inconclusive_pages_are_neutral() -> None:
    series = Series()
    # A probe bug in the middle of a block neither breaks it nor counts as a failure.
    series.rounds({TWITTER: "oo d b d oo", GULJAN: "oo b o o oo", "network": "oo o o o oo"})
    [window] = series.find()
    assert (window.target, window.measurements, window.failing) == (TWITTER, 3, 2)
    assert bounds(window) == (t(1, 1), t(2, 1), t(4, 1), t(5, 1))


def test_kinds_and_methods_follow_the_majority_of_points() -> None:
    series = Series()
    series.rounds({TWITTER: "o dd rrr oo", GULJAN: "o oo ooo oo", "network": "o oo ooo oo"})
    [window] = series.find()
    assert shape(window) == (TWITTER, kinds.TARGETED_BLOCK, "http-failure", "http_reset")


# --- without controls, and at a collector ----------------------------------------------------------


def test_without_controls_a_round_where_every_target_fails_is_a_shutdown() -> None:
    series = Series()
    # No network contexts and no verdicts (a dns or tcp experiment, or unjudged rows): failures only.
    series.rounds({TWITTER: "++ fff ++", GULJAN: "++ fff ++", RIDUS: "++ fff ++"})
    [window] = series.find()
    assert (window.target, window.kind, window.basis) == ("network", kinds.NETWORK_SHUTDOWN, kinds.HEARTBEAT)
    assert bounds(window) == (t(1), t(2), t(4), t(5))
    assert window.confidence == pytest.approx(0.5 * (1 - 0.5**3), abs=1e-3)


def test_without_controls_one_failing_target_is_a_suspected_block_of_low_confidence() -> None:
    series = Series()
    series.rounds({TWITTER: "++ ff ++", GULJAN: "++ ++ ++"})
    [window] = series.find()
    assert (window.target, window.kind, window.blocking, window.basis) == (
        TWITTER,
        kinds.TARGETED_BLOCK,
        "tcp_ip",
        kinds.FAILURE,
    )
    assert window.confidence_label == "low"


def test_manual_runs_without_heartbeats_are_judged_from_their_own_counts() -> None:
    series = Series()
    series.rounds({TWITTER: "+ fff +", GULJAN: "+ fff +"}, heartbeat=False)
    [window] = series.find()
    assert (window.target, window.kind) == ("network", kinds.NETWORK_SHUTDOWN)


def test_the_runs_the_database_picks_as_down_are_those_the_network_series_marks_down() -> None:
    series = Series()
    plan = {TWITTER: "++ fff + ff +", GULJAN: "++ fff + f+ +"}  # round 7: one target of two failed
    series.rounds(plan, probe="a" * 32, asn="AS9198")  # heartbeats
    series.rounds(plan, probe="b" * 32, asn="AS21299", heartbeat=False)  # manual runs: their own counts
    series.rounds({**plan, "network": "oo sss o oo o"}, probe="c" * 32, asn="AS9198")  # controls say it
    series.rounds({TWITTER: "f f"}, probe="d" * 32, asn="AS9198")  # one target: too few to tell
    conn = series.db.db.conn
    for span, network in ((Span(), None), (Span(t(3), t(9)), None), (Span(), "9198"), (Span(since=t(4)), "AS21299")):
        marked = {
            point.run_id
            for point in network_points(conn, span, network=network)
            if point.mark is observe.Mark.BAD and not point.from_controls
        }
        assert down_runs(conn, span, network=network) == marked
    assert len(down_runs(conn, Span())) == 8  # rounds 2 to 4 and 6 of a and of b; none of c's (controls), nor d's


def collector() -> Series:
    """Three probes in two networks of one region; two of AS9198's see twitter blocked."""
    series = Series()
    for probe, asn, plan in (
        ("a" * 32, "AS9198", {TWITTER: "oo dddd oo", GULJAN: "oo oooo oo"}),
        ("b" * 32, "AS9198", {TWITTER: "ooo ddd oo", GULJAN: "ooo ooo oo"}),
        ("c" * 32, "AS9198", {TWITTER: "oooo oooo", GULJAN: "oooo oooo"}),
        ("d" * 32, "AS21299", {TWITTER: "oo ffff oo", GULJAN: "oo ffff oo"}),
    ):
        series.rounds(plan, probe=probe, asn=asn)
    return series


def test_collector_windows_are_merged_per_network_with_probe_counts() -> None:
    found = collector().find()
    assert [(w.target, w.kind, w.network, w.probes, w.probes_total) for w in found] == [
        ("network", kinds.NETWORK_SHUTDOWN, "AS21299", 1, 1),
        (TWITTER, kinds.TARGETED_BLOCK, "AS9198", 2, 3),
    ]
    twitter = found[1]
    # Probe a: bad rounds 2-5; probe b: 3-5: the merged start is a's, the end the latest.
    assert bounds(twitter) == (t(1, 1), t(2, 1), t(5, 1), t(6, 1))
    one = 0.85 * (1 - 0.5**4)
    two = 0.85 * (1 - 0.5**3)
    assert twitter.confidence == pytest.approx((1 - (1 - one) * (1 - two)) * (0.5 + 0.5 * 2 / 3), abs=1e-3)


def test_collector_windows_per_probe_and_per_region() -> None:
    series = collector()
    per_probe = series.find(by="probe")
    assert sorted((w.probe[:1], w.target) for w in per_probe) == [("a", TWITTER), ("b", TWITTER), ("d", "network")]
    per_region = series.find(by="region")
    assert [(w.target, w.region, w.network, w.probes, w.probes_total) for w in per_region] == [
        ("network", "KZ", "AS21299", 1, 4),
        (TWITTER, "KZ", "AS9198", 2, 4),
    ]


def test_filters_by_target_network_and_time() -> None:
    series = collector()
    assert [w.network for w in series.find(target="twitter.com")] == ["AS9198"]
    assert [w.target for w in series.find(target=TWITTER)] == [TWITTER]
    assert [w.target for w in series.find(target="network")] == ["network"]
    assert [w.target for w in series.find(network="21299")] == ["network"]
    assert series.find(target="guljan.org") == []
    # Windows overlapping the period are kept, with bounds read beyond it.
    [late] = series.find(since=t(4), target=TWITTER)
    assert late.start_max == t(2, 1)
    assert series.find(since=t(7), target=TWITTER) == []
    assert series.find(until=t(2), target=TWITTER) == []


# --- SMS -----------------------------------------------------------------------------------------


def test_sms_needs_one_more_round_and_a_radio_gone_is_a_shutdown_of_that_target() -> None:
    series = Series()
    plan = [
        "sms:sms_ok",
        "sms:gateway_unreachable:tcp",
        "sms:gateway_unreachable:tcp",
        "sms:sms_ok",
        "sms:radio_unavailable",
        "sms:radio_unavailable",
        "sms:radio_unavailable",
        "sms:probe_fault",
        "sms:sms_ok",
        "sms:sms_ok",
    ]
    for number, outcome in enumerate(plan):
        series.round(number, {"self-loop": outcome}, experiment="sms")
    [window] = series.find()
    assert shape(window) == ("self-loop", kinds.NETWORK_SHUTDOWN, "sms", "sms:radio_unavailable")
    assert bounds(window) == (t(3, 1), t(4, 1), t(6, 1), t(8, 1))


# --- the pieces --------------------------------------------------------------------------------------


def test_observe_marks() -> None:
    said = observe.measurement
    common: dict[str, Any] = {"blocking": None, "detail": None, "failed_step": "dns", "confirmed": False}
    assert said(experiment="web", verdict=None, failure=None, network_state=None, **common)[0] is observe.Mark.GOOD
    assert said(experiment="web", verdict="blocked", failure="x", network_state="shutdown", **common) == observe.NEUTRAL
    assert said(experiment="dns", verdict=None, failure="x", network_state=None, round_down=True, **common) == (
        observe.NEUTRAL
    )
    mark, found = said(experiment="dns", verdict=None, failure="dns_nxdomain_error", network_state=None, **common)
    assert mark is observe.Mark.BAD and found is not None and (found.blocking, found.basis) == ("dns", kinds.FAILURE)
    assert observe.heartbeat(1, 0) == observe.NEUTRAL and observe.heartbeat(1, 1) == observe.GOOD
    assert observe.controls_summary('[{"ok": true, "runtime": 0.2}, {"ok": false, "runtime": 2.5}]') == (0.5, 2.5)
    assert observe.controls_summary("not json") == (None, 0.0)


def test_hysteresis_must_open_and_close_with_at_least_one_round() -> None:
    with pytest.raises(ValueError, match="at least one round"):
        Hysteresis(open_after=0)


def test_unknown_grouping_is_refused() -> None:
    from probe.errors import ProbeError

    with pytest.raises(ProbeError, match="grouped by"):
        OutageQuery(by="planet")
