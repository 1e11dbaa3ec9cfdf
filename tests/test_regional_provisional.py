"""Silence first, rounds later: a provisional window from missing uploads, confirmed or dropped when the late
batches arrive, the same whatever order they arrive in (issue 21)."""

from __future__ import annotations

import random

from support.regional import Fleet, at, simulation

from probe.analysis.regional import Batch, detect


def _kz() -> tuple[Fleet, list[str]]:
    fleet = Fleet()
    zhanaozen = fleet.district("KZ-47", "Zhanaozen", fixed=3, mobile=3)
    fleet.district("KZ-47", "Aktau", fixed=3, mobile=3)
    fleet.district("KZ-75", "Almaty", fixed=3, mobile=3)
    return fleet, zhanaozen


def test_a_district_that_stops_uploading_is_a_provisional_cut_within_a_few_upload_intervals_then_confirmed() -> None:
    fleet, zhanaozen = _kz()
    fleet.happen(zhanaozen, "network_down", 10, 16)
    batches = fleet.batches(30)
    # Their uploads were due at 10:00; overdue a round interval later, not before.
    assert [w for w in detect(batches, at(10.1)) if w.kind.endswith("shutdown")] == []
    [soon] = [w for w in detect(batches, at(10.5)) if w.kind.endswith("shutdown")]
    assert (soon.kind, soon.district, soon.provisional, soon.ongoing) == ("regional_shutdown", "Zhanaozen", True, True)
    [live] = [w for w in detect(batches, at(13)) if w.kind.endswith("shutdown")]
    assert (live.kind, live.district, live.provisional, live.ongoing) == ("regional_shutdown", "Zhanaozen", True, True)
    assert live.start_min is not None and live.start_min < at(10) <= live.start_max
    assert "silent: uploads overdue" in live.basis
    [final] = [w for w in detect(batches, at(30)) if w.kind.endswith("shutdown")]
    assert (final.kind, final.district, final.provisional, final.ongoing) == (
        "regional_shutdown",
        "Zhanaozen",
        False,
        False,
    )
    assert final.start_max - (final.start_min or 0) <= 1200 and final.end_max is not None
    assert final.end_min is not None and final.end_min < at(16) <= final.end_max


def test_a_provisional_cut_is_dropped_when_the_late_batches_show_the_machines_were_off() -> None:
    fleet, zhanaozen = _kz()
    fleet.happen(zhanaozen, None, 10, 16)  # a power cut: every device of the district off
    batches = fleet.batches(30)
    [live] = [w for w in detect(batches, at(13)) if w.kind.endswith("shutdown")]
    assert live.provisional and live.district == "Zhanaozen"
    final = detect(batches, at(30))
    assert {w.kind for w in final} == {"device_off"} and len(final) == len(zhanaozen)


def _batches(seed: int) -> list[Batch]:
    bench = simulation()
    world = bench.world(seed, days=3, areas=2, districts=2, per_district=4)
    end = bench.BASE + 3 * bench.DAY
    return list(bench.play(world.declarations, world.state_of, bench.BASE, end, world.stall_of))


def test_the_windows_are_the_same_whatever_order_the_batches_arrive_in_and_when_asked_twice() -> None:
    batches = _batches(7)
    moments = [at(hours) for hours in (30, 55, 70)]
    expected = [detect(batches, moment) for moment in moments]
    assert [detect(batches, moment) for moment in moments] == expected
    shuffler = random.Random(21)
    for _ in range(3):
        shuffled = batches[:]
        shuffler.shuffle(shuffled)
        assert [detect(shuffled, moment) for moment in moments] == expected


def test_a_batch_received_twice_changes_nothing() -> None:
    batches = _batches(8)
    shuffler = random.Random(8)
    again = batches + shuffler.sample(batches, k=len(batches) // 4)
    shuffler.shuffle(again)
    assert detect(again, at(70)) == detect(batches, at(70))


def test_laptops_silent_at_the_hour_they_are_always_off_say_nothing_and_routers_silent_then_do() -> None:
    fleet = Fleet()
    laptops = fleet.district("KZ-47", "Zhanaozen", fixed=3, mobile=0)
    routers = fleet.district("KZ-47", "Aktau", fixed=3, mobile=0)
    fleet.district("KZ-75", "Almaty", fixed=3, mobile=3)
    for night in range(8):
        fleet.happen(laptops, None, 24 * night + 18, 24 * night + 26)
    fleet.happen(routers, "network_down", 24 * 7 + 18, 24 * 7 + 26)
    live = [w for w in detect(fleet.batches(24 * 9), at(24 * 7 + 22)) if w.kind.endswith("shutdown")]
    assert [(w.district, w.provisional) for w in live] == [("Aktau", True)]
    assert "3 silent" in live[0].basis


def test_probes_that_went_silent_hours_apart_are_no_provisional_cut() -> None:
    fleet = Fleet()
    zhanaozen = fleet.district("KZ-47", "Zhanaozen", fixed=3, mobile=0)
    fleet.district("KZ-47", "Aktau", fixed=3, mobile=3)
    fleet.district("KZ-75", "Almaty", fixed=3, mobile=3)
    for probe, since in zip(zhanaozen, (82, 86, 90), strict=True):  # stalled uploads, dead laptops: one by one
        fleet.happen([probe], None, since, 100)
    assert [w for w in detect(fleet.batches(110), at(93)) if w.kind.endswith("shutdown")] == []
    fleet.happen(zhanaozen, None, 82, 100)  # the same three stopping together: a cut, as far as silence can tell
    [live] = [w for w in detect(fleet.batches(110), at(93)) if w.kind.endswith("shutdown")]
    assert (live.district, live.provisional) == ("Zhanaozen", True)


def test_a_national_shutdown_seen_first_where_probes_upload_often_becomes_one_national_window_revising_those() -> None:
    fleet = Fleet()
    often = fleet.district("KZ-47", "Zhanaozen", fixed=3, mobile=3, upload=1800.0)
    often += fleet.district("KZ-47", "Aktau", fixed=3, mobile=3, upload=1800.0)
    rarely = fleet.district("KZ-75", "Almaty", fixed=3, mobile=3, upload=7200.0)
    rarely += fleet.district("KZ-75", "Medeu", fixed=3, mobile=3, upload=7200.0)
    fleet.happen(often + rarely, "network_down", 11, 20)  # the rare uploaders' last upload was at 10:00
    batches = fleet.batches(30)
    early = [w for w in detect(batches, at(11.75)) if w.kind.endswith("shutdown")]
    assert [(w.kind, w.area, w.provisional) for w in early] == [("regional_shutdown", "KZ-47", True)]
    [later] = [w for w in detect(batches, at(13.5)) if w.kind.endswith("shutdown")]
    assert (later.kind, later.provisional, later.ongoing) == ("national_shutdown", True, True)
    assert later.revises == ("regional_shutdown|area|KZ|KZ-47|||",)
    assert later.start_max <= early[0].start_max
    [final] = [w for w in detect(batches, at(30)) if w.kind.endswith("shutdown")]
    assert (final.kind, final.provisional, final.revises) == ("national_shutdown", False, ())
