"""A collector's own outage is no shutdown: every probe is silent while it is down, and backs off after, so a
probe's silence counts only from when it could have reached a listening collector (``listening``); a district
that stays silent beyond that is still a provisional cut, and without sessions detection is as it was."""

from __future__ import annotations

import random

import pytest
from support.regional import Fleet, at, kz, simulation

from probe.analysis.regional import Batch, Listening, RegionalWindow, Rules, detect
from probe.analysis.regional.listening import gaps, silence_from
from probe.config import UploadSection
from probe.upload.uploader import Backoff

DOWN, UP = 20.0, 23.0
"""The collector's outage, in hours after the fleet's start."""
SESSIONS = [Listening(at(0), at(DOWN)), Listening(at(UP), at(40))]


def shutdowns(windows: list[RegionalWindow]) -> list[tuple[str, str, bool]]:
    return [(w.kind, w.district, w.provisional) for w in windows if w.kind.endswith("shutdown")]


def through_an_outage(fleet: Fleet, hours: float, held: frozenset[str] = frozenset()) -> list[Batch]:
    """The fleet's batches when the collector was down from ``DOWN`` to ``UP``: an upload tried then is received
    after the resume and a backoff of up to an hour (each probe its own); ``held`` probes' uploads tried then
    only when their network returns, at ``hours`` - 1."""
    waits = {d.probe: random.Random(d.probe).uniform(0, 3600) for d in fleet.declarations}

    def stall(probe: str, attempt: float) -> float:
        if not at(DOWN) <= attempt < at(UP):
            return 0.0
        back = at(hours - 1) if probe in held else at(UP) + waits[probe]
        return back - attempt

    batches: list[Batch] = simulation().play(fleet.declarations, fleet.state_of, at(0), at(hours), stall)
    return batches


def test_a_collector_outage_raises_no_provisional_shutdown_and_without_its_sessions_it_would() -> None:
    fleet, *_ = kz()
    batches = through_an_outage(fleet, 30)
    assert ("national_shutdown", "", True) in shutdowns(detect(batches, at(UP + 0.1)))  # the false alarm of before
    for tenth in range(0, 60):
        moment = at(UP + tenth / 10)
        assert shutdowns(detect(batches, moment, listening=SESSIONS)) == [], tenth
    assert detect(batches, at(30), listening=SESSIONS) == []


def test_a_district_that_stays_silent_beyond_the_grace_after_the_resume_is_still_a_provisional_cut() -> None:
    fleet, zhanaozen, _, _ = kz()
    fleet.happen(zhanaozen, "network_down", DOWN + 1, 29)
    batches = through_an_outage(fleet, 30, held=frozenset(zhanaozen))
    grace = UP + 1  # a backoff of at most resume_grace (an hour) after the resume
    # Before it could have reached the collector again and been overdue (an upload interval and a round later): nothing.
    for tenth in range(0, 22):
        assert shutdowns(detect(batches, at(UP + tenth / 10), listening=SESSIONS)) == [], tenth
    [live] = [w for w in detect(batches, at(grace + 2), listening=SESSIONS) if w.kind.endswith("shutdown")]
    assert (live.kind, live.district, live.provisional, live.ongoing) == ("regional_shutdown", "Zhanaozen", True, True)
    assert live.start_min is not None and live.start_min < at(DOWN + 1) <= live.start_max
    [final] = [w for w in detect(batches, at(30), listening=SESSIONS) if w.kind.endswith("shutdown")]
    assert (final.district, final.provisional) == ("Zhanaozen", False)
    assert final.start_min is not None and final.start_min < at(DOWN + 1) <= final.start_max


def test_a_district_silent_before_the_collector_went_down_stays_a_provisional_cut_through_the_outage() -> None:
    fleet, zhanaozen, _, _ = kz()
    fleet.happen(zhanaozen, "network_down", 10, 29)
    batches = simulation().play(fleet.declarations, fleet.state_of, at(0), at(30))
    sessions = [Listening(at(0), at(14)), Listening(at(15), at(40))]
    for hours in (13, 15.2, 16, 17):
        found = shutdowns(detect(batches, at(hours), listening=sessions))
        assert found == [("regional_shutdown", "Zhanaozen", True)], hours


def test_while_the_collector_is_down_no_silence_counts() -> None:
    fleet, *_ = kz()
    batches = [b for b in simulation().play(fleet.declarations, fleet.state_of, at(0), at(30)) if b.received < at(20)]
    assert shutdowns(detect(batches, at(23))) == [("national_shutdown", "", True)]
    assert shutdowns(detect(batches, at(23), listening=[Listening(at(0), at(20))])) == []
    beating = [Listening(at(0), at(23) - Rules().listening_slack / 2)]  # its heartbeat is recent: it listens
    assert shutdowns(detect(batches, at(23), listening=beating)) == [("national_shutdown", "", True)]


def test_without_sessions_detection_is_as_before_and_sessions_in_any_order_give_the_same_windows() -> None:
    fleet, zhanaozen, _, _ = kz()
    fleet.happen(zhanaozen, "network_down", DOWN + 1, 29)
    batches = through_an_outage(fleet, 30, held=frozenset(zhanaozen))
    for hours in (UP + 0.5, 26, 30):
        assert detect(batches, at(hours), listening=[]) == detect(batches, at(hours))
        many = [Listening(at(0), at(5)), Listening(at(4), at(DOWN)), Listening(at(UP), at(40)), *SESSIONS]
        expected = detect(batches, at(hours), listening=SESSIONS)
        for seed in range(3):
            random.Random(seed).shuffle(many)
            assert detect(batches, at(hours), listening=many) == expected


def test_gaps_are_the_times_between_sessions_known_then_and_the_time_since_a_stale_heartbeat() -> None:
    rules = Rules()
    sessions = [Listening(300, 900), Listening(100, 400), Listening(1000, 2000), Listening(5000, 6000)]
    assert gaps(sessions, 3000, rules) == ((900, 1000), (2000, 3000))
    assert gaps(sessions, 2100, rules) == ((900, 1000),)  # its last heartbeat 100 s ago: still listening
    assert gaps(sessions, 5500, rules) == ((900, 1000), (2000, 5000))
    assert gaps(sessions, 50, rules) == gaps([], 50, rules) == gaps(None, 50, rules) == ()


def test_a_probes_clock_starts_after_the_resume_plus_the_backoff_it_may_have_reached() -> None:
    rules = Rules()
    assert silence_from(1000, 3600, (), rules) == 1000
    assert silence_from(1000, 3600, ((2000, 2100),), rules) == 2100 + 2 * 100 + 30  # a short outage: short backoff
    assert silence_from(1000, 3600, ((2000, 12000),), rules) == 12000 + 3600  # a long one: backoff_max at most
    assert silence_from(1000, 3600, ((500, 900),), rules) == 1000  # over before its last upload
    assert silence_from(1000, 3600, ((7000, 8000),), rules) == 1000  # overdue at 6400, before it went down
    # A second outage while the probe may still be backing off from the first: one streak of failures.
    assert silence_from(1000, 3600, ((2000, 2100), (2200, 2300)), rules) == 2300 + 2 * 300 + 30


def test_the_grace_holds_the_shipped_probes_backoff_after_any_outage() -> None:
    shipped = UploadSection()
    rules = Rules()
    assert (rules.resume_backoff_min, rules.resume_grace) == (shipped.backoff_min, shipped.backoff_max)
    chooser = random.Random(21)
    for _ in range(400):
        down = chooser.choice([5.0, 60.0, 600.0, 3600.0, 6 * 3600.0]) * chooser.uniform(0.5, 1.5)
        backoff = Backoff(shipped.backoff_min, shipped.backoff_max, random.Random(chooser.random()))
        attempt = chooser.uniform(0, down)  # its first attempt after the collector went down at 0
        while attempt < down:
            attempt += backoff.failed()
        assert attempt <= silence_from(-1.0, 3600, ((0.0, down),), rules), down


@pytest.mark.parametrize("grace", [600.0, 7200.0])
def test_the_grace_is_a_rule(grace: float) -> None:
    rules = Rules(resume_grace=grace)
    assert silence_from(1000, 3600, ((2000, 12000),), rules) == 12000 + grace
