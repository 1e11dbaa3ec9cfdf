"""A probe's own trouble is never a shutdown: its machine off, its Wi-Fi off, its own line down (issue 21)."""

from __future__ import annotations

from support.regional import Fleet, at

from probe.analysis.regional import RegionalWindow, detect


def _mangystau() -> tuple[Fleet, list[str]]:
    fleet = Fleet()
    zhanaozen = fleet.district("KZ-47", "Zhanaozen", fixed=3, mobile=3)
    fleet.district("KZ-75", "Almaty", fixed=3, mobile=3)
    return fleet, zhanaozen


def _kinds(windows: list[RegionalWindow]) -> list[tuple[str, str]]:
    return [(w.kind, w.probe) for w in windows]


def test_a_laptop_switched_off_is_device_off_with_bounds_from_its_rounds_and_no_shutdown() -> None:
    fleet, zhanaozen = _mangystau()
    fleet.happen(zhanaozen[:1], None, 10, 14)
    windows = detect(fleet.batches(24), at(24))
    [off] = windows
    assert (off.kind, off.scope, off.probe, off.district) == ("device_off", "probe", zhanaozen[0], "Zhanaozen")
    assert off.start_min is not None and off.end_min is not None and off.end_max is not None
    assert off.start_min < at(10) <= off.start_max and off.end_min < at(14) <= off.end_max


def test_a_laptop_with_its_wifi_off_is_a_local_fault_and_evidence_of_nothing() -> None:
    fleet, zhanaozen = _mangystau()
    fleet.happen(zhanaozen[:1], "local_fault", 10, 12)
    assert _kinds(detect(fleet.batches(24), at(24))) == [("local_fault", zhanaozen[0])]


def test_a_single_probe_down_while_its_district_works_is_probe_dark() -> None:
    fleet, zhanaozen = _mangystau()
    fleet.happen(zhanaozen[:1], "network_down", 10, 12)
    [dark] = detect(fleet.batches(24), at(24))
    assert (dark.kind, dark.probe, dark.network_type) == ("probe_dark", zhanaozen[0], "fixed")
    assert "alone of its group" in dark.basis


def test_two_probes_down_in_a_district_of_two_is_too_few_probes_never_a_regional_label() -> None:
    fleet, _ = _mangystau()
    shetpe = fleet.district("KZ-47", "Shetpe", fixed=1, mobile=1)
    fleet.happen(shetpe, "network_down", 10, 13)
    windows = detect(fleet.batches(24), at(24))
    [few] = windows
    assert (few.kind, few.scope, few.district, few.probes) == ("too_few_probes", "district", "Shetpe", tuple(shetpe))
    assert "fewer than 3 probes in the group, no regional label" in few.basis


def test_laptops_switched_off_together_every_night_raise_no_shutdown() -> None:
    fleet, zhanaozen = _mangystau()
    for night in range(3):
        fleet.happen(zhanaozen[:4], None, 24 * night + 18, 24 * night + 26)
    windows = detect(fleet.batches(72), at(72))
    assert {w.kind for w in windows} == {"device_off"}
