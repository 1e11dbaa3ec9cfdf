# ruff: noqa: F811  (pytest fixtures imported from other test modules are parameters here)
"""``probe export --format stop``: a collector's shutdown events as rows of Access Now's STOP dataset.

The collector is test_regional_collector's world (twelve probes in three districts, their rounds uploaded by the
daemon's uploader to a collector on loopback): Zhanaozen cut off, KZ-47's mobile network cut, a laptop off.
"""

from __future__ import annotations

import csv
import io
import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_regional_collector import World, sqlite_windows, world  # noqa: F401  (fixtures)

from probe.analysis.regional import RegionalWindow, query
from probe.cli.main import cli
from probe.config import load_config
from probe.errors import ProbeError
from probe.export import Selection, export
from probe.export.stop import COLUMNS, STOP_COLUMNS, platform, stop_rows
from probe.place import area_name
from probe.report.regional import gather_regional
from probe.storage.store import open_store

Collector = tuple[Path, list[RegionalWindow]]


def stop_csv(path: Path, world: World, *extra: str) -> list[dict[str, str]]:
    args = ["export", "--db", str(path), "--format", "stop", "--until", world.until, *extra]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_stop_rows_name_the_district_cut_the_mobile_cut_and_nothing_for_a_laptop_off(
    world: World, sqlite_windows: Collector
) -> None:
    path, windows = sqlite_windows
    rows = stop_csv(path, world)
    events = {(row["geo_scope"], row["district"], row["affected_network"]) for row in rows}
    assert events == {
        ("It only affected one city, county, or village", "Zhanaozen", "Broadband, Mobile"),
        ("It affected more than one city in the same state, province, or region", "", "Mobile"),
    }
    [district] = [row for row in rows if row["district"] == "Zhanaozen"]
    mangystau = area_name("KZ-47")
    assert mangystau
    assert (district["country"], district["country_code"], district["area_name"], district["area_code"]) == (
        "Kazakhstan",
        "KZ",
        f"Zhanaozen, {mangystau}",
        "KZ-47",
    )
    assert (district["shutdown_type"], district["shutdown_extent"], district["shutdown_status"]) == (
        "Shutdown",
        "Full network",
        "Ended",
    )
    assert (district["window_kind"], district["evidence_status"]) == ("regional_shutdown", "confirmed")
    assert district["event"].startswith(f"Every network down in Zhanaozen, {mangystau} (KZ), ")
    assert (district["probes_affected"], district["probes_in_group"]) == ("3", "3")
    assert "3 of 3 probes" in district["confidence_basis"] and float(district["confidence"]) > 0.99
    assert district["start_earliest"] < district["start"] <= district["start_latest"] < district["end"]
    assert district["end_earliest"] < district["end"] <= district["end_latest"]
    start = datetime.strptime(district["start"], "%Y-%m-%dT%H:%M:%SZ")
    assert district["start_date"] == f"{start.month}/{start.day}/{start.year}"  # as STOP's sheet writes dates
    assert district["source"] == "zhanaozen-probe collector" and district["software_version"]
    unmeasured = ("ordered_by", "actual_cause", "info_source", "info_source_link", "gov_justification", "an_link")
    assert [district[column] for column in unmeasured] == [""] * len(unmeasured)  # for a person to fill
    [mobile] = [row for row in rows if row["affected_network"] == "Mobile"]
    assert (mobile["area_name"], mobile["area_code"], mobile["shutdown_extent"], mobile["window_kind"]) == (
        mangystau,
        "KZ-47",
        "Full network",
        "mobile_shutdown",
    )
    assert mobile["probes_affected"] == "3" and mobile["sms_affected"] == ""  # unknown
    assert "device_off" in {window.kind for window in windows}  # the laptop's window exists, and is no event
    assert len(rows) == len(stop_rows(windows))


def test_stop_has_one_header_row_of_stops_columns_then_the_evidence_and_a_json_variant_with_the_same_rows(
    world: World, sqlite_windows: Collector
) -> None:
    path, _ = sqlite_windows
    result = CliRunner().invoke(cli, ["export", "--db", str(path), "--format", "stop", "--until", world.until])
    lines = result.stdout.splitlines()
    assert lines[0] == ",".join(COLUMNS) and sum(1 for line in lines if line.startswith("start_date_type,")) == 1
    assert COLUMNS[: len(STOP_COLUMNS)] == STOP_COLUMNS and len(STOP_COLUMNS) == 36
    documented = Path(__file__).parent.parent / "docs"
    for page in ("method.md", "user-guide.md"):
        text = (documented / page).read_text(encoding="utf-8")
        assert [column for column in COLUMNS if f"`{column}`" not in text] == [], page
    args = ["export", "--db", str(path), "--format", "stop-json", "--until", world.until]
    items = json.loads(CliRunner().invoke(cli, args).stdout)
    assert [(item["district"], item["affected_network"], item["end_date"] is None) for item in items] == [
        (row["district"], row["affected_network"], False) for row in stop_csv(path, world)
    ]


def test_a_blocked_target_fills_its_platforms_column_and_any_other_target_other_affected() -> None:
    assert [platform(host) for host in ("twitter.com", "mobile.twitter.com", "x.com", "t.me", "guljan.org")] == [
        "twitter_affected",
        "twitter_affected",
        "twitter_affected",
        "telegram_affected",
        None,
    ]


def test_stop_area_and_since_select_as_probe_outages_by_district_does(world: World, sqlite_windows: Collector) -> None:
    path, _ = sqlite_windows
    assert stop_csv(path, world, "--area", "KZ-75") == []
    assert len(stop_csv(path, world, "--area", "kz-47")) == 2
    since = datetime.fromtimestamp(world.hour(8.5), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    late = stop_csv(path, world, "--since", since)
    assert [row["affected_network"] for row in late] == ["Mobile"]  # the district cut ended at hour 7


def test_probe_export_stop_writes_its_file_readable_by_its_owner_only(
    world: World, sqlite_windows: Collector, tmp_path: Path
) -> None:
    path, _ = sqlite_windows
    out = tmp_path / "stop.csv"
    args = ["export", "--db", str(path), "--format", "stop", "--until", world.until, "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "2 shutdown events written" in result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert len(list(csv.DictReader(out.open(encoding="utf-8")))) == 2


def test_filters_a_format_does_not_take_are_refused_before_anything_is_written(
    sqlite_windows: Collector, tmp_path: Path
) -> None:
    path, _ = sqlite_windows
    out = tmp_path / "m.csv"
    refused = CliRunner().invoke(
        cli, ["export", "--db", str(path), "--format", "csv", "--area", "KZ-47", "--out", str(out)]
    )
    assert isinstance(refused.exception, ProbeError) and "does not take area" in str(refused.exception)
    assert not out.exists()
    db = open_store(path, read_only_ok=True)
    try:
        with pytest.raises(ProbeError, match="does not take run_id"):
            export(db, io.StringIO(), fmt="stop", selection=Selection(run_id="r1"))
    finally:
        db.close()


def test_stop_rows_and_the_report_find_windows_with_the_collectors_regional_settings_as_probe_outages_does(
    world: World, sqlite_windows: Collector, tmp_path: Path
) -> None:
    path, _ = sqlite_windows
    config = tmp_path / "collector.toml"
    config.write_text("[collector.regional]\nbin_seconds = 300\n", encoding="utf-8")
    runner = CliRunner()

    def listed(*extra: str) -> set[tuple[str, str]]:
        args = ["outages", "--db", str(path), "--until", world.until, "--by", "district", "--format", "json", *extra]
        found = json.loads(runner.invoke(cli, args).output)
        return {(row["kind"], row["basis"]) for row in found if row["kind"].endswith("shutdown")}

    def exported(*extra: str) -> set[tuple[str, str]]:
        args = ["export", "--db", str(path), "--format", "stop-json", "--until", world.until, *extra]
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
        return {(row["window_kind"], row["confidence_basis"]) for row in json.loads(result.stdout)}

    configured = listed("--config", str(config))
    assert configured != listed()  # five-minute bins: another chance of that many failing together
    assert exported("--config", str(config)) == configured
    assert exported() == listed()
    db = open_store(path, read_only_ok=True)
    try:
        rules = query.configured(load_config(config).collector.regional)
        since = datetime.fromtimestamp(world.start, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        found = gather_regional(db.conn, since, world.until, rules)
    finally:
        db.close()
    assert found is not None
    shutdowns = {(window.kind, window.basis) for window in found.windows if window.kind.endswith("shutdown")}
    assert shutdowns == configured
