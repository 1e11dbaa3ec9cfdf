# ruff: noqa: F811  (pytest fixtures imported from other test modules are parameters here)
"""A collector's other views agree with its regional windows (issue 21): ``probe outages`` per network, per country
and per probe, ``probe report``'s "In short" and its windows table, and the classic alerts tell a district cut off
and a mobile-only cut from a national shutdown, on one collector.

The collector is filled as tests/test_regional_collector.py fills it (twelve probes' rounds, written by the daemon's
heartbeat with their declared places and uploaded over loopback), with a national cut first: every probe's network
down in hours 1-3; then Zhanaozen (KZ-47) cut off in hours 4-7, KZ-47's mobile probes cut in hours 8-10, a laptop
in Almaty (KZ-75) off in hours 5-8. Per network (AS9198) each of the three cuts is a ``network_shutdown``: of 12
probes, then of 3, then of 3. Only the first is the whole network.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.pgcluster import pg_cluster, pg_url  # noqa: F401  (fixtures)
from test_collector_alerts import Receiver, receiver  # noqa: F401  (fixture)
from test_outages import GULJAN, TWITTER, Series
from test_regional_collector import (
    PROBES,
    ROUND,
    ROUNDS,
    Probe,
    World,
    make_world,
    names,
    postgres_collector,
    sqlite_collector,
    write_rounds,
)

from probe.analysis import OutageQuery, Window, extent, find_outages, times
from probe.analysis.extent import extent_of
from probe.analysis.regional import RegionalWindow
from probe.analysis.windows import FIELDS
from probe.cli.main import cli
from probe.collector.alert_worker import AlertWorker
from probe.collector.alerts import AlertState
from probe.collector.webhooks import Sender
from probe.config import AlertsSection
from probe.identity import load_or_create
from probe.report.build import ReportQuery
from probe.report.page import build_report
from probe.storage.store import open_store

NATIONAL_CUT = range(6, 18)
ZHANAOZEN = ["zhanaozen-fixed0", "zhanaozen-fixed1", "zhanaozen-mobile0"]
KZ47_MOBILE = ["aktau-mobile0", "aktau-mobile1", "zhanaozen-mobile0"]


@dataclass(frozen=True)
class Nationwide(Probe):
    """A probe of tests/test_regional_collector.py's world, whose network was also down with every other's."""

    def down(self, k: int) -> bool:
        return k in NATIONAL_CUT or super().down(k)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    places = {probe.name: Nationwide(probe.name, probe.area, probe.district, probe.network_type) for probe in PROBES}
    return make_world(tmp_path_factory.mktemp("views"), places, ROUNDS * ROUND, write_rounds)


@pytest.fixture(scope="module")
def collector(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("collector") / "collector.db"
    sqlite_collector(world, path)
    return path


def outages(collector: Path, world: World, *more: str) -> str:
    result = CliRunner().invoke(cli, ["outages", "--db", str(collector), "--until", world.until, *more])
    assert result.exit_code == 0, result.output
    return result.output


def by_extent(rows: list[dict[str, Any]], world: World) -> list[tuple[str, int, int, list[str], list[str]]]:
    """(extent, probes, of, regional windows, the probes' names) of each whole-network window, in order."""
    who = names(world)
    return [
        (
            row["extent"],
            row["probes"],
            row["probes_total"],
            row["extent_windows"],
            sorted(who[p] for p in row["probe_ids"]),
        )
        for row in rows
        if row["target"] == "network"
    ]


@pytest.mark.parametrize("by", [None, "network", "region"])
def test_outages_per_network_and_per_country_name_the_district_and_mobile_cuts_not_the_whole_network(
    collector: Path, world: World, by: str | None
) -> None:
    rows = json.loads(outages(collector, world, *(("--by", by) if by else ()), "--format", "json"))
    assert {row["kind"] for row in rows} == {"network_shutdown"}
    assert by_extent(rows, world) == [
        ("national", 12, 12, ["national_shutdown KZ"], sorted(names(world).values())),
        ("partial", 3, 12, ["regional_shutdown KZ/KZ-47/Zhanaozen"], ZHANAOZEN),
        ("partial", 3, 12, ["mobile_shutdown KZ/KZ-47 (mobile)"], KZ47_MOBILE),
    ]
    assert all(row["extent_unexplained"] == 0 for row in rows)
    assert tuple(rows[0]) == (*FIELDS, *extent.FIELDS)


def test_outages_table_and_csv_carry_each_windows_extent(collector: Path, world: World) -> None:
    lines = outages(collector, world).splitlines()
    assert lines[0].split()[-1] == "extent"
    extents = [line.split("  ")[-1].strip() for line in lines[2:]]
    assert extents == [
        "national: national_shutdown KZ",
        "partial: regional_shutdown KZ/KZ-47/Zhanaozen",
        "partial: mobile_shutdown KZ/KZ-47 (mobile)",
    ]
    csv = outages(collector, world, "--format", "csv").splitlines()
    assert csv[0].split(",") == [*FIELDS, *extent.FIELDS]
    assert ",partial,regional_shutdown KZ/KZ-47/Zhanaozen,0," in csv[2]


def test_each_probes_window_of_the_district_cut_is_that_district_not_the_network(collector: Path, world: World) -> None:
    rows = json.loads(outages(collector, world, "--by", "probe", "--format", "json"))
    who = names(world)
    seen = {
        (row["extent"], tuple(row["extent_windows"]), who[row["probe"]]) for row in rows if row["target"] == "network"
    }
    district = {name for reach, windows, name in seen if windows == ("regional_shutdown KZ/KZ-47/Zhanaozen",)}
    mobile = {name for reach, windows, name in seen if windows == ("mobile_shutdown KZ/KZ-47 (mobile)",)}
    national = {name for reach, windows, name in seen if reach == "national"}
    assert (sorted(district), sorted(mobile), len(national)) == (ZHANAOZEN, KZ47_MOBILE, 12)
    assert {reach for reach, windows, _ in seen if windows != ("national_shutdown KZ",)} == {"partial"}


def in_short(page: str) -> list[str]:
    """The lines of the report's "In short", as text."""
    section = page.split('<h2 id="summary">In short</h2>', 1)[1].split("</ul>", 1)[0]
    return [re.sub(r"<[^>]+>", "", line).strip() for line in section.split("<li>")[1:]]


def test_the_reports_in_short_leads_with_the_regional_windows_and_says_which_network_windows_are_not_national(
    collector: Path,
) -> None:
    db = open_store(collector, read_only_ok=True)
    try:
        page = build_report(db.conn, ReportQuery(verify=False))
    finally:
        db.close()
    lines = in_short(page)
    regional = [n for n, line in enumerate(lines) if "probes there" in line]
    per_network = [n for n, line in enumerate(lines) if " in AS9198: network shutdown" in line]
    assert len(regional) == 3 and len(per_network) == 3 and max(regional) < min(per_network)
    assert lines[regional[0]].startswith("Kazakhstan: every network cut across the country (national shutdown)")
    assert lines[regional[1]].startswith(
        "Mangystau Region (KZ-47), Zhanaozen: every network cut, fixed and mobile (regional shutdown)"
    )
    assert lines[regional[2]].startswith(
        "Mangystau Region (KZ-47): mobile networks cut while fixed ones worked (mobile shutdown)"
    )
    assert "(3 of 3 mobile probes there; high confidence" in lines[regional[2]]
    whole, district, mobile = (lines[n] for n in per_network)
    assert whole.startswith("the whole network in AS9198") and "the whole country: the national shutdown" in whole
    assert district.startswith("the network of 3 of 12 probes in AS9198")
    assert "not the whole network: the regional shutdown of Mangystau Region (KZ-47), Zhanaozen" in district
    assert mobile.startswith("the network of 3 of 12 probes in AS9198")
    assert "not the whole network: the mobile shutdown of Mangystau Region (KZ-47)" in mobile
    windows = page.split('<table id="windows">', 1)[1].split("</table>", 1)[0]
    assert windows.count("<td>the whole network<br/>") == 1 and windows.count("<td>the network of 3 of 12 probes") == 2
    assert windows.count("not the whole network: the ") == 2
    chart = page.split('id="chart-network"', 1)[1].split("</svg>", 1)[0]
    bands = [float(height) for height in re.findall(r'height="([0-9.]+)"[^>]*class="window"', chart)]
    assert bands[1] == bands[2] == bands[0] / 4  # 3 of 12 probes: a quarter of the whole network's band


def test_classic_alerts_send_the_national_shutdown_and_leave_the_district_and_mobile_cuts_to_the_regional_ones(
    collector: Path, world: World, receiver: Receiver, tmp_path: Path
) -> None:
    sent = alerted(collector, world, receiver, tmp_path, regional=True)
    assert sent["outage_window"] == [("opened", "national"), ("closed", "national")]
    kinds = sorted({kind for _, kind in sent["regional_window"]})
    assert kinds == ["mobile_shutdown", "national_shutdown", "regional_shutdown"]


def test_with_the_regional_alerts_off_the_classic_ones_still_say_which_cuts_were_not_national(
    collector: Path, world: World, receiver: Receiver, tmp_path: Path
) -> None:
    sent = alerted(collector, world, receiver, tmp_path, regional=False)
    assert sent["outage_window"] == [
        (transition, reach) for reach in ("national", "partial", "partial") for transition in ("opened", "closed")
    ]
    assert sent["regional_window"] == []


def alerted(
    collector: Path, world: World, receiver: Receiver, tmp_path: Path, *, regional: bool
) -> dict[str, list[tuple[str, str]]]:
    """One look of the alert worker that ``probe collector serve`` runs, alerting since the world's first round:
    each body received as (transition, the classic window's extent or the regional window's kind), by type."""
    settings = AlertsSection(webhooks=[receiver.url], lookback=2 * 86400, regional=regional)  # type: ignore[list-item]
    identity = load_or_create(tmp_path / "collector.key")
    state = AlertState(tmp_path / "alerts.db")
    state.started_at(times.iso(world.start))
    sender = Sender(identity, timeout=10, backoff_min=1, backoff_max=1, max_attempts=1)
    try:
        AlertWorker(collector, settings, identity, tmp_path / "alerts.db").once(state, sender)
    finally:
        sender.close()
        state.close()
    found: dict[str, list[tuple[str, str]]] = {"outage_window": [], "regional_window": []}
    for body in sorted(receiver.accepted(), key=lambda body: body["alert_id"]):
        window = body["window"]
        said = window["extent"] if body["type"] == "outage_window" else window["kind"]
        found[body["type"]].append((body["transition"], said))
    return found


def test_a_postgres_collector_gives_the_same_windows_and_extents_as_a_sqlite_one(
    collector: Path, world: World, pg_url: str
) -> None:
    postgres_collector(world, pg_url)
    query = OutageQuery(until=world.until)
    found = []
    for target in (collector, pg_url):
        db = open_store(target, read_only_ok=True)
        try:
            found.append([window.to_dict() for window in find_outages(db.conn, query)])
        finally:
            db.close()
    assert found[0] == found[1] and [row["extent"] for row in found[0]] == ["national", "partial", "partial"]


def network_window(probes: tuple[str, ...], start: str = "2026-11-21T10:00:00.000000Z") -> Window:
    return Window(
        "network", "network", "network_shutdown", None, "every target failed", None, start, None, None, start,
        12, 12, len(probes), 10, "AS9198", "KZ", "", 0.5, 0.0, "round", seen_by=probes,
    )  # fmt: skip


def regional_window(kind: str, scope: str, probes: tuple[str, ...], probe: str = "") -> RegionalWindow:
    start = times.seconds("2026-11-21T09:55:00Z")
    return RegionalWindow(
        kind, scope, "KZ", "KZ-47", "Aktau", "", start, start - 300, start, None, None, None, probes, 3, False, 1.0,
        "test", probe,
    )  # fmt: skip


def test_a_window_only_probes_own_windows_hold_is_those_probes_alone_and_one_no_window_holds_is_unexplained() -> None:
    dark = regional_window("probe_dark", "probe", ("a",), probe="a")
    alone = extent_of(network_window(("a",)), [dark])
    assert (alone.reach, alone.windows, alone.unexplained, alone.leaves_to_regional) == (
        "probes",
        ("probe_dark KZ/KZ-47/Aktau a",),
        0,
        False,
    )
    nothing = extent_of(network_window(("a", "b")), [regional_window("regional_shutdown", "district", ("c", "d"))])
    assert (nothing.reach, nothing.unexplained, nothing.leaves_to_regional) == ("unexplained", 2, False)
    cut = regional_window("regional_shutdown", "district", ("b", "c", "d"))
    mixed = extent_of(network_window(("a", "b")), [dark, cut])
    assert (mixed.reach, mixed.unexplained, mixed.leaves_to_regional) == ("partial", 0, True)
    later = extent_of(network_window(("b",), start="2026-11-22T10:00:00.000000Z"), [cut])
    assert later.reach == "partial"  # the district's cut is ongoing: it holds a later window of its probes
    other = extent_of(network_window(("b",)), [regional_window("international_cut", "district", ("b",))])
    assert other.reach == "unexplained"  # an international cut does not explain a full network shutdown


def test_a_probes_own_database_has_no_extent_and_its_outputs_are_as_before() -> None:
    series = Series()
    series.rounds({TWITTER: "ooo nnn ooo", GULJAN: "ooo xxx ooo", "network": "ooo sss ooo"})
    windows = find_outages(series.db.db.conn, OutageQuery())
    assert [window.kind for window in windows] == ["network_shutdown"]
    assert all(window.extent is None and tuple(window.to_dict()) == FIELDS for window in windows)
