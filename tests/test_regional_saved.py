"""``probe outages --by district|area --save``: a collector's regional windows kept in ``outage_windows`` with their
place, probes and whether they rest on silence, on SQLite and on PostgreSQL (issue 21).

The fleet of ``support.regional_live`` uploads to a real collector in phases; after each, the windows are saved
as an analyst would, and the table holds each window once: saved twice, one row; a provisional window confirmed by
the late batches, one row, confirmed; one the late batches disprove, none; the other windows' rows untouched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.pgcluster import pg_cluster, pg_url  # noqa: F401  (fixtures)
from support.regional_live import BACK, CUT, Fleet, arrived_on_time

from probe.analysis.times import iso
from probe.cli.main import cli
from probe.collector.service import running_collector
from probe.storage.connection import rows
from probe.storage.store import open_store


def saved(target: Path | str) -> list[dict[str, Any]]:
    db = open_store(target, read_only_ok=True)
    try:
        cursor = rows(db.conn, "select * from outage_windows order by regional, start_max, kind, district, probe")
        found = list(cursor)
        names = [
            "id", "saved_at", "scope", "target", "kind", "blocking", "blocking_detail", "start_min", "start_max",
            "end_min", "end_max", "ongoing", "last_bad", "measurements", "failing", "probes", "probes_total",
            "network", "region", "probe", "confidence", "confidence_label", "severity", "basis", "regional", "area",
            "district", "network_type", "probe_ids", "provisional",
        ]  # fmt: skip
        return [dict(zip(names, row, strict=True)) for row in found]
    finally:
        db.close()


def save(target: Path | str, *options: str) -> str:
    result = CliRunner().invoke(cli, ["outages", "--db", str(target), "--save", *options])
    assert result.exit_code == 0, result.output
    return result.output


def regional(target: Path | str) -> list[tuple[str, str, str, int, int]]:
    """The saved regional windows: (kind, district, probe's name, provisional, ongoing)."""
    return [
        (row["kind"], row["district"], row["probe"], row["provisional"], row["ongoing"])
        for row in saved(target)
        if row["regional"] == 1
    ]


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "collector.db")
    url: str = request.getfixturevalue("pg_url")
    return url


def test_saved_regional_windows_are_kept_once_and_a_provisional_one_is_replaced_when_confirmed_or_dropped(
    target: str, tmp_path: Path
) -> None:
    fleet = Fleet(tmp_path / "probes")
    fleet.register(target)
    who = fleet.names()
    with running_collector(target) as server:
        fleet.upload(server, "history")
        arrived_on_time(target)
        fleet.upload(server, "silence")
        assert "2 regional windows saved in outage_windows" in save(target, "--by", "district")
        live = regional(target)
        assert live == [("regional_shutdown", "Beineu", "", 1, 1), ("regional_shutdown", "Zhanaozen", "", 1, 1)]
        save(target)  # the other windows' save leaves the regional ones
        save(target, "--by", "district")  # saved twice: still one row each
        assert regional(target) == live
        fleet.upload(server, "late")
        save(target, "--by", "district")
        laptop = fleet.identities["laptop"].probe_id
        assert regional(target) == [
            ("regional_shutdown", "Zhanaozen", "", 0, 1),
            ("device_off", "Almaty", laptop, 0, 0),
        ]
        save(target, "--by", "area", "--area", "KZ-47")  # the area's windows only: the district's row stays
        assert len(regional(target)) == 2
        fleet.upload(server, "back")
        save(target, "--by", "district")
    [cut, off] = [row for row in saved(target) if row["regional"] == 1]
    assert (cut["kind"], cut["scope"], cut["region"], cut["area"], cut["district"], cut["network_type"]) == (
        "regional_shutdown",
        "district",
        "KZ",
        "KZ-47",
        "Zhanaozen",
        "",
    )
    assert sorted(who[probe] for probe in json.loads(cut["probe_ids"])) == [
        "zhanaozen-fixed0",
        "zhanaozen-fixed1",
        "zhanaozen-mobile0",
    ]
    assert (cut["probes"], cut["probes_total"], cut["provisional"], cut["ongoing"]) == (3, 3, 0, 0)
    assert cut["confidence"] > 0.99 and cut["confidence_label"] == "high" and "3 of 3 probes" in cut["basis"]
    assert cut["start_min"] < iso(fleet.at(CUT)) <= cut["start_max"]
    assert cut["end_min"] < iso(fleet.at(BACK)) <= cut["end_max"] and cut["last_bad"] == cut["end_min"]
    assert (cut["measurements"], cut["failing"]) == (0, 0) and 60 < cut["severity"] < 80  # all 3 probes, ~70 min
    assert (off["kind"], off["scope"], who[off["probe"]], off["provisional"]) == ("device_off", "probe", "laptop", 0)
    listed = CliRunner().invoke(cli, ["outages", "--db", target, "--by", "district", "--format", "json"])
    shown = json.loads(listed.output)
    assert [(w["kind"], w["start_max"], w["end_max"]) for w in shown] == [
        (row["kind"], row["start_max"], row["end_max"]) for row in (cut, off)
    ]


def test_regional_save_still_refuses_a_target_or_a_network(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["outages", "--db", str(tmp_path / "c.db"), "--by", "district", "--save", "--network", "AS9198"]
    )
    assert result.exit_code != 0 and "takes no --target or --network" in result.output
