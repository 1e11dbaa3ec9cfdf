"""When rounds are due: after restarts, suspends and clock changes, never a burst of missed rounds."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from conftest import loopback_config

from probe.daemon.rounds import groups_from, read_inputs
from probe.daemon.schedule import Group, Schedule, due_after, first_due
from probe.errors import ConfigError
from probe.experiments import EXPERIMENTS

HOUR = 3600.0
NOW = 1_800_000_000.0


def group(name: str = "web", every: float = HOUR, jitter: float = 0.0) -> Group:
    return Group(name, "web", every, jitter, None, ("http://x.test/",))


def test_group_that_never_ran_is_due_after_the_first_delay() -> None:
    assert first_due(None, now=NOW, every=HOUR, jitter=0, first_delay=60) == NOW + 60


def test_group_that_ran_recently_is_due_one_interval_after_that_round() -> None:
    assert first_due(NOW - 600, now=NOW, every=HOUR, jitter=0, first_delay=60) == NOW - 600 + HOUR


def test_restart_after_many_missed_rounds_runs_one_round_then_keeps_the_interval() -> None:
    schedule = Schedule([group()], {"web": NOW - 10 * HOUR}, now=NOW, first_delay=60, rng=random.Random(1))
    _, due = schedule.next()
    assert due == NOW + 60  # one round, once the first delay is over: not ten
    schedule.completed("web", started=due, now=due + 30)
    assert schedule.next()[1] == due + HOUR


def test_laptop_waking_after_a_day_runs_one_round_not_the_missed_ones() -> None:
    schedule = Schedule([group()], {}, now=NOW, first_delay=0, rng=random.Random(1))
    schedule.completed("web", started=NOW, now=NOW + 5)
    woke = NOW + 24 * HOUR  # the wall clock moved on while the machine slept
    assert schedule.limit("web", woke) <= woke  # due now: one round
    schedule.completed("web", started=woke, now=woke + 5)
    assert schedule.next()[1] == woke + HOUR


def test_round_longer_than_its_interval_is_followed_at_once_never_overlapping() -> None:
    assert due_after(NOW, now=NOW + 2 * HOUR, every=HOUR, jitter=0) == NOW + 2 * HOUR


def test_clock_set_backwards_never_pushes_a_round_beyond_one_interval() -> None:
    schedule = Schedule([group()], {"web": NOW + 30 * 24 * HOUR}, now=NOW, first_delay=0, rng=random.Random(1))
    assert schedule.next()[1] <= NOW + HOUR
    schedule.completed("web", started=NOW, now=NOW)
    earlier = NOW - 7 * 24 * HOUR
    assert schedule.limit("web", earlier) <= earlier + HOUR


def test_jitter_spreads_rounds_within_its_bound() -> None:
    rng = random.Random(7)
    schedule = Schedule([group(jitter=300)], {"web": NOW - 60}, now=NOW, first_delay=0, rng=rng)
    dues = []
    for _ in range(200):
        schedule.completed("web", started=NOW, now=NOW)
        dues.append(schedule.next()[1] - NOW - HOUR)
    assert min(dues) >= 0 and max(dues) <= 300 and max(dues) - min(dues) > 200


def test_groups_take_turns_by_due_time() -> None:
    schedule = Schedule(
        [group("web", every=HOUR), group("dns", every=600)], {}, now=NOW, first_delay=0, rng=random.Random(1)
    )
    first, _ = schedule.next()
    schedule.completed(first.name, started=NOW, now=NOW + 1)
    second, _ = schedule.next()
    assert {first.name, second.name} == {"web", "dns"}
    schedule.completed(second.name, started=NOW + 1, now=NOW + 2)
    assert schedule.next()[0].name == "dns"


def test_a_group_may_name_any_registered_experiment() -> None:
    groups = {name: {"experiment": name, "inputs": ["x"]} for name in EXPERIMENTS}
    config = loopback_config("udp://127.0.0.1:53", schedule={"groups": {f"g-{n}": g for n, g in groups.items()}})
    assert {group.experiment for group in groups_from(config)} == set(EXPERIMENTS)


def test_unknown_experiment_is_a_config_error_naming_the_key() -> None:
    config = loopback_config(
        "udp://127.0.0.1:53", schedule={"groups": {"sms": {"experiment": "smss", "inputs": ["x"]}}}
    )
    with pytest.raises(ConfigError, match=r"schedule\.groups\.sms\.experiment: unknown experiment 'smss'"):
        groups_from(config)


def test_no_group_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no experiment group"):
        groups_from(loopback_config("udp://127.0.0.1:53"))


def test_list_of_one_input_a_line_suits_non_web_experiments(tmp_path: Path) -> None:
    path = tmp_path / "names.txt"
    path.write_text("# the 2011 sites\nguljan.org\n\nridus.ru\nsmsc.example.kz:2775\n", encoding="utf-8")
    assert [target.input for target in read_inputs(path).targets] == ["guljan.org", "ridus.ru", "smsc.example.kz:2775"]
