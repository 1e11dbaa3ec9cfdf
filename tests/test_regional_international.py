"""An international cut (domestic controls working, international ones not) is its own kind of window, never a full
network shutdown; a degraded round (controls failing with no pattern) is up, never down (issue 21)."""

from __future__ import annotations

from support.regional import at, kz

from probe.analysis.regional import RegionalWindow, detect
from probe.export.stop import ABROAD, stop_rows


def _events(windows: list[RegionalWindow]) -> set[tuple[str, str, str, str]]:
    return {(w.kind, w.scope, w.area, w.district) for w in windows if not w.probe}


def test_a_country_whose_probes_reach_domestic_controls_only_is_an_international_cut_not_a_shutdown() -> None:
    fleet, zhanaozen, aktau, almaty = kz()
    fleet.happen([*zhanaozen, *aktau, *almaty], "international_cut", 5, 11)
    windows = detect(fleet.batches(24), at(24))
    assert _events(windows) == {("international_cut", "country", "", "")}
    [cut] = windows
    assert len(cut.probes) == 18 and cut.network_type == "" and not cut.provisional
    assert cut.start_min is not None and cut.end_min is not None and cut.end_max is not None
    assert cut.start_min < at(5) <= cut.start_max and cut.end_min < at(11) <= cut.end_max
    assert cut.confidence > 0.999 and "18 of 18 probes that could say cut from abroad" in cut.basis
    [row] = stop_rows(windows)  # for rights groups: service-based, every site abroad, never a full network
    assert (row["shutdown_extent"], row["other_affected"], row["area_name"]) == ("Service-based", ABROAD, "Nationwide")


def test_an_area_cut_from_abroad_while_the_rest_of_the_country_is_not_is_the_areas_international_cut() -> None:
    fleet, zhanaozen, aktau, _ = kz()
    fleet.happen([*zhanaozen, *aktau], "international_cut", 5, 9)
    assert _events(detect(fleet.batches(24), at(24))) == {("international_cut", "area", "KZ-47", "")}


def test_a_district_cut_off_inside_a_country_cut_from_abroad_is_a_regional_shutdown_and_an_international_cut() -> None:
    fleet, zhanaozen, aktau, almaty = kz()
    fleet.happen([*aktau, *almaty], "international_cut", 4, 16)
    fleet.happen(zhanaozen, "network_down", 4, 16)
    assert _events(detect(fleet.batches(24), at(24))) == {
        ("regional_shutdown", "district", "KZ-47", "Zhanaozen"),
        ("international_cut", "country", "", ""),
    }


def test_a_national_shutdown_is_still_one_and_no_international_cut_beside_it() -> None:
    fleet, zhanaozen, aktau, almaty = kz()
    fleet.happen([*zhanaozen, *aktau, *almaty], "network_down", 5, 8)
    assert _events(detect(fleet.batches(24), at(24))) == {("national_shutdown", "country", "", "")}


def test_degraded_rounds_count_as_up_never_as_down() -> None:
    fleet, zhanaozen, aktau, almaty = kz()
    fleet.happen([*zhanaozen, *aktau, *almaty], "degraded", 5, 11)
    fleet.happen(zhanaozen, "network_down", 6, 10)
    windows = detect(fleet.batches(24), at(24))
    assert _events(windows) == {("regional_shutdown", "district", "KZ-47", "Zhanaozen")}
