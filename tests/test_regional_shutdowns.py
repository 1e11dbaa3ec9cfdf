"""Regional detection tells a district cut off, a mobile-only cut and a national shutdown apart (issue 21)."""

from __future__ import annotations

from dataclasses import replace

from support.regional import Fleet, at, kz

from probe.analysis.regional import RegionalWindow, detect


def _alarms(windows: list[RegionalWindow]) -> list[RegionalWindow]:
    return [w for w in windows if w.kind.endswith("_shutdown")]


def test_a_district_cut_off_is_a_regional_shutdown_of_that_district_with_bounds_around_the_truth() -> None:
    fleet, zhanaozen, _, _ = kz()
    fleet.happen(zhanaozen, "network_down", 10, 14)
    windows = detect(fleet.batches(24), at(24))
    [cut] = _alarms(windows)
    assert (cut.kind, cut.scope, cut.area, cut.district, cut.network_type) == (
        "regional_shutdown",
        "district",
        "KZ-47",
        "Zhanaozen",
        "",
    )
    assert cut.probes == tuple(sorted(zhanaozen))
    assert cut.start_min is not None and cut.end_min is not None and cut.end_max is not None
    assert cut.start_min < at(10) <= cut.start_max and cut.end_min < at(14) <= cut.end_max
    assert cut.start_max - cut.start_min <= 1200 and not cut.provisional
    assert cut.confidence > 0.999 and "6 of 6 probes" in cut.basis
    assert [w for w in windows if w.kind == "probe_dark"] == []


def test_a_mobile_only_cut_with_two_mobile_and_two_fixed_probes_is_a_mobile_shutdown() -> None:
    fleet = Fleet()
    fixed = [fleet.add(f"f{i}", "KZ-47") for i in range(2)]
    mangystau = fixed + [fleet.add(f"m{i}", "KZ-47", "", "mobile") for i in range(2)]
    fleet.district("KZ-75", "Almaty", fixed=3, mobile=3)
    fleet.happen(mangystau[2:], "network_down", 10, 13)
    [cut] = _alarms(detect(fleet.batches(24), at(24)))
    assert (cut.kind, cut.scope, cut.area, cut.network_type) == ("mobile_shutdown", "area", "KZ-47", "mobile")
    assert cut.probes == ("m0", "m1")


def test_a_national_shutdown_is_one_window_of_the_country_and_no_regional_ones() -> None:
    fleet, zhanaozen, aktau, almaty = kz()
    fleet.happen([*zhanaozen, *aktau, *almaty], "network_down", 5, 8)
    [cut] = _alarms(detect(fleet.batches(24), at(24)))
    assert (cut.kind, cut.scope, cut.country, len(cut.probes)) == ("national_shutdown", "country", "KZ", 18)


def test_nested_events_are_reported_at_once_a_district_cut_inside_a_mobile_cut_on_a_day_of_a_block() -> None:
    fleet, zhanaozen, aktau, almaty = kz()
    fleet.happen([*zhanaozen, *aktau, *almaty], "blocked", 0, 24, blocked=("http://twitter.com/",))
    fleet.happen([p for p in [*zhanaozen, *aktau] if "-m" in p], "network_down", 6, 20)
    fleet.happen(zhanaozen, "network_down", 8, 18)
    windows = detect(fleet.batches(30), at(30))
    found = {(w.kind, w.scope, w.district, w.network_type, w.target) for w in windows if w.kind != "probe_dark"}
    assert found == {
        ("regional_shutdown", "district", "Zhanaozen", "", ""),
        ("mobile_shutdown", "area", "", "mobile", ""),
        ("targeted_block", "country", "", "", "http://twitter.com/"),
    }


def test_an_area_where_sms_fail_while_the_network_works_is_sms_affected() -> None:
    fleet, zhanaozen, aktau, almaty = kz()
    mobile = [p for p in [*zhanaozen, *aktau, *almaty] if "-m" in p]
    fleet.happen(mobile, "up", 0, 24, sms_ok=True)
    fleet.happen([p for p in mobile if p not in almaty], "up", 9, 15, sms_ok=False)
    windows = detect(fleet.batches(24), at(24))
    [sms] = [w for w in windows if w.kind == "sms_affected"]
    assert (sms.scope, sms.area, len(sms.probes)) == ("area", "KZ-47", 6)
    assert _alarms(windows) == []


def test_a_window_reads_as_json_with_its_place_its_probes_and_iso_times() -> None:
    fleet, zhanaozen, _, _ = kz()
    fleet.happen(zhanaozen, "network_down", 10, 14)
    [cut] = _alarms(detect(fleet.batches(24), at(24)))
    data = cut.to_dict()
    assert {key: data[key] for key in ("area", "district", "network_type", "probes_total", "provisional")} == {
        "area": "KZ-47",
        "district": "Zhanaozen",
        "network_type": "",
        "probes_total": 6,
        "provisional": False,
    }
    assert data["probes"] == sorted(zhanaozen) and data["ongoing"] is False
    assert data["start_max"].startswith("2026-11-21T10:") and data["end_max"].startswith("2026-11-21T14:")


def test_the_bounds_hold_the_first_onset_and_last_return_of_a_cut_that_reaches_its_probes_over_minutes() -> None:
    fleet, zhanaozen, _, _ = kz()
    for index, probe in enumerate(zhanaozen):  # onsets 10:00 to 10:08, returns 14:00 to 14:08
        fleet.happen([probe], "network_down", 10 + index * 0.027, 14 + index * 0.027)
    fleet.happen(zhanaozen[:1], "network_down", 14, 14.2)  # its own line down, right as the cut ends
    [cut] = _alarms(detect(fleet.batches(24), at(24)))
    assert cut.start_min is not None and cut.end_min is not None and cut.end_max is not None
    assert cut.start_min < at(10) <= cut.start_max and cut.end_min < at(14 + 5 * 0.027) <= cut.end_max


def test_a_cut_that_strikes_while_rounds_run_is_bounded_by_when_they_saw_it_not_by_their_starts() -> None:
    """Rounds take minutes (their controls run at their start and end): one that started before the cut and saw
    it at its end is bad, and bounds the start from above by when it saw it."""
    fleet, zhanaozen, _, _ = kz()
    fleet.happen(zhanaozen, "network_down", 10, 14)
    took = 240.0  # each round saw its state at its end, 4 minutes after it started
    batches = [
        replace(batch, rounds=tuple(replace(item, start=item.start - took, seen=item.start) for item in batch.rounds))
        for batch in fleet.batches(24)
    ]
    [cut] = _alarms(detect(batches, at(24)))
    assert cut.start_min is not None and cut.end_min is not None and cut.end_max is not None
    assert cut.start_min < at(10) <= cut.start_max and cut.end_min < at(14) <= cut.end_max
