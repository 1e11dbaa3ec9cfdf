# ruff: noqa: F811  (pytest fixtures imported from other test modules are parameters here)
"""A collector's regional windows, from probes that declared their places and uploaded their rounds (issue 21).

Real parts on loopback: twelve probes' own databases, each round written by the daemon's heartbeat
(``probe.daemon.heartbeat``) in a run carrying the probe's declared place, consented, and sent by the daemon's
uploader (``upload_pending``) to a collector on SQLite and then to one on PostgreSQL (``pgcluster``); the
collector's windows read by ``probe outages --by district|area`` and by ``find_regional``.

The world, in rounds of 10 minutes over 12 hours ending now (times set explicitly, the same for both collectors):
Zhanaozen (KZ-47: 2 fixed, 1 mobile) cut off in hours 4-7; every mobile probe of KZ-47 (Zhanaozen's and Aktau's
2) cut in hours 8-10 while its 4 fixed ones work; Almaty
(KZ-75: 3 fixed, 2 mobile) up, but for one laptop that makes no round in hours 5-8 and comes back after a reboot,
its daemon started again.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.dnsserver import running_dns_server
from support.pgcluster import pg_cluster, pg_url  # noqa: F401  (fixtures)
from support.unattended import probe_identity
from test_collector_service import post
from test_probe_declares import probe_config, upload

from probe import consent
from probe.analysis.regional import RegionalWindow, sources
from probe.analysis.regional.query import RegionalQuery, find_regional
from probe.cli.main import cli
from probe.collector import registry
from probe.collector.service import running_collector
from probe.config import Config
from probe.daemon import heartbeat
from probe.identity import load_or_create
from probe.storage import open_database
from probe.storage.postgres.database import open_postgres
from probe.storage.store import open_store
from probe.upload.protocol import encode_batch
from probe.upload.queue import make_batch

ROUND = 600.0
ROUNDS = 72
ZHANAOZEN_CUT = range(24, 42)
MOBILE_CUT = range(48, 60)
LAPTOP_OFF = range(30, 48)


@dataclass(frozen=True)
class Probe:
    name: str
    area: str
    district: str
    network_type: str

    def down(self, k: int) -> bool:
        if self.district == "Zhanaozen" and k in ZHANAOZEN_CUT:
            return True
        return self.area == "KZ-47" and self.network_type == "mobile" and k in MOBILE_CUT

    def off(self, k: int) -> bool:
        return self.name == "laptop" and k in LAPTOP_OFF


PROBES = [
    *(Probe(f"zhanaozen-{kind}{i}", "KZ-47", "Zhanaozen", kind) for kind, i in (("fixed", 0), ("fixed", 1))),
    Probe("zhanaozen-mobile0", "KZ-47", "Zhanaozen", "mobile"),
    *(Probe(f"aktau-{kind}{i}", "KZ-47", "Aktau", kind) for kind in ("fixed", "mobile") for i in (0, 1)),
    *(Probe(f"almaty-fixed{i}", "KZ-75", "Almaty", "fixed") for i in (0, 1)),
    *(Probe(f"almaty-mobile{i}", "KZ-75", "Almaty", "mobile") for i in (0, 1)),
    Probe("laptop", "KZ-75", "Almaty", "fixed"),
]


@dataclass(frozen=True)
class World:
    start: float
    """The first round's start: rounds every 10 minutes from here, the last one 10 minutes before now."""
    until: str
    paths: dict[str, Path]
    configs: dict[str, Config]

    def hour(self, hours: float) -> float:
        return self.start + hours * 3600.0


def write_rounds(path: Path, probe: Probe, start: float) -> None:
    """The probe's rounds as its daemon writes them: a run with its place, the round's heartbeat, its counts."""
    db = open_database(path)
    try:
        back = False
        for k in range(ROUNDS):
            if probe.off(k):
                back = True
                continue
            at = start + k * ROUND
            run_id, round_id = str(uuid.uuid4()), str(uuid.uuid4())
            place = {"area": probe.area, "district": probe.district, "network_type": probe.network_type}
            db.start_run({"id": run_id, "started_at": heartbeat.iso(at), "experiment": "tcp", **place})
            db.set_run_network(run_id, asn="AS9198", cc="KZ", name="Kazakhtelecom", source="test")
            boot = "second-boot" if probe.off(k - 1) or (back and probe.name == "laptop") else "first-boot"
            heartbeat.start_round(
                db,
                round_id=round_id,
                group="reach",
                experiment="tcp",
                started_at=heartbeat.iso(at),
                every=ROUND,
                boot=boot,
                first_of_daemon=probe.off(k - 1),
            )
            reached = 0 if probe.down(k) else 3
            finished = heartbeat.iso(at + 5)
            db.finish_run(run_id, finished_at=finished, status="finished", measurements=0)
            heartbeat.finish_round(
                db, round_id, finished_at=finished, status="finished", run_id=run_id, targets=3, measured=3,
                reached=reached, failed=3 - reached,
            )  # fmt: skip
    finally:
        db.close()


def make_world(root: Path, places: dict[str, Probe], span: float, write: Callable[[Path, Probe, float], None]) -> World:
    """Each probe's database, consented with its place, its rounds written by ``write`` (path, probe, start) from
    ``span`` seconds before now."""
    now = time.time()
    start = float(int(now) - 30) - span
    paths, configs = {}, {}
    with running_dns_server({}) as dns:
        for name, probe in places.items():
            path = root / name / "probe.db"
            config = probe_config(
                dns.spec(), 9, area=probe.area, district=probe.district, network_type=probe.network_type
            )
            db = open_database(path)
            consent.record(db, config, how="test")
            db.close()
            write(path, probe, start)
            paths[name], configs[name] = path, config
    return World(start, heartbeat.iso(now + 60), paths, configs)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    places = {probe.name: probe for probe in PROBES}
    return make_world(tmp_path_factory.mktemp("regional"), places, ROUNDS * ROUND, write_rounds)


def upload_all(world: World, url: str) -> None:
    for name, path in world.paths.items():
        config = world.configs[name]
        upload(config.model_copy(update={"upload": config.upload.model_copy(update={"url": url})}), path)


def identities(world: World) -> list[str]:
    keys = []
    for path in world.paths.values():
        db = open_database(path)
        keys.append(probe_identity(db).public_key_b64)
        db.close()
    return keys


def names(world: World) -> dict[str, str]:
    """Probe id -> the test's name for it."""
    found = {}
    for name, path in world.paths.items():
        db = open_database(path)
        found[probe_identity(db).probe_id] = name
        db.close()
    return found


def sqlite_collector(world: World, path: Path) -> None:
    with running_collector(path) as server:
        db = open_database(path)
        for key in identities(world):
            registry.register(db, key, "test probe")
        db.close()
        upload_all(world, f"http://{server.host}:{server.port}")


def postgres_collector(world: World, url: str) -> None:
    with running_collector(url) as server:
        pg = open_postgres(url)
        try:
            for key in identities(world):
                registry.register(pg, key, "test probe")
        finally:
            pg.close()
        upload_all(world, f"http://{server.host}:{server.port}")


def regional(database: Path | str, world: World, by: str = "district", area: str | None = None) -> list[RegionalWindow]:
    db = open_store(database, read_only_ok=True)
    try:
        return find_regional(db.conn, RegionalQuery(by, area, until=world.until))
    finally:
        db.close()


def alarms(windows: list[RegionalWindow]) -> list[RegionalWindow]:
    return [window for window in windows if window.kind.endswith("_shutdown")]


def cut_of(windows: list[RegionalWindow], kind: str, scope: str) -> RegionalWindow:
    [found] = [window for window in alarms(windows) if window.kind == kind and window.scope == scope]
    return found


@pytest.fixture(scope="module")
def sqlite_windows(world: World, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[RegionalWindow]]:
    path = tmp_path_factory.mktemp("collector") / "collector.db"
    sqlite_collector(world, path)
    return path, regional(path, world)


def test_a_district_whose_probes_record_the_network_down_is_a_regional_shutdown_of_that_district(
    world: World, sqlite_windows: tuple[Path, list[RegionalWindow]]
) -> None:
    _, windows = sqlite_windows
    cut = cut_of(windows, "regional_shutdown", "district")
    assert (cut.scope, cut.country, cut.area, cut.district, cut.network_type) == (
        "district",
        "KZ",
        "KZ-47",
        "Zhanaozen",
        "",
    )
    who = names(world)
    assert sorted(who[probe] for probe in cut.probes) == ["zhanaozen-fixed0", "zhanaozen-fixed1", "zhanaozen-mobile0"]
    assert cut.start_min is not None and cut.end_min is not None and cut.end_max is not None
    assert cut.start_min < world.hour(4) <= cut.start_max and cut.end_min < world.hour(7) <= cut.end_max
    assert not cut.provisional and cut.confidence > 0.99


def test_mobile_probes_of_an_area_down_while_its_fixed_ones_work_is_a_mobile_shutdown(
    world: World, sqlite_windows: tuple[Path, list[RegionalWindow]]
) -> None:
    _, windows = sqlite_windows
    cut = cut_of(windows, "mobile_shutdown", "area")
    assert (cut.scope, cut.area, cut.network_type) == ("area", "KZ-47", "mobile")
    who = names(world)
    assert sorted(who[probe] for probe in cut.probes) == ["aktau-mobile0", "aktau-mobile1", "zhanaozen-mobile0"]
    assert cut.start_max is not None and cut.start_min is not None
    assert cut.start_min < world.hour(8) <= cut.start_max


def test_a_laptop_whose_rounds_stop_and_resume_after_a_reboot_is_device_off_never_a_shutdown(
    world: World, sqlite_windows: tuple[Path, list[RegionalWindow]]
) -> None:
    _, windows = sqlite_windows
    who = names(world)
    laptop = [window for window in windows if window.probe and who[window.probe] == "laptop"]
    assert [window.kind for window in laptop] == ["device_off"]
    [off] = laptop
    assert off.end_max is not None and off.start_max <= world.hour(5) + 1200 and off.end_max >= world.hour(8)
    assert not [window for window in alarms(windows) if "laptop" in {who[probe] for probe in window.probes}]
    found = {(window.kind, window.scope, window.district) for window in alarms(windows)}
    assert found == {("regional_shutdown", "district", "Zhanaozen"), ("mobile_shutdown", "area", "")}


def test_probe_outages_by_district_json_carries_the_place_the_probes_and_the_confidence_with_its_basis(
    world: World, sqlite_windows: tuple[Path, list[RegionalWindow]]
) -> None:
    path, _ = sqlite_windows
    runner = CliRunner()
    base = ["outages", "--db", str(path), "--until", world.until]
    result = runner.invoke(cli, [*base, "--by", "district", "--area", "KZ-47", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    [cut] = [row for row in rows if row["kind"] == "regional_shutdown"]
    assert (cut["area"], cut["district"], cut["network_type"], cut["provisional"]) == ("KZ-47", "Zhanaozen", "", False)
    assert len(cut["probes"]) == 3 and cut["probes_total"] == 3
    assert cut["confidence"] > 0.99 and "3 of 3 probes" in cut["basis"]
    assert {row["area"] for row in rows if row["scope"] != "country"} == {"KZ-47"}
    by_area = json.loads(runner.invoke(cli, [*base, "--by", "area", "--format", "json"]).output)
    assert "regional_shutdown" not in {row["kind"] for row in by_area if row["scope"] == "district"}
    assert "mobile_shutdown" in {row["kind"] for row in by_area}
    text = runner.invoke(cli, [*base, "--by", "district"])
    assert text.exit_code == 0 and "regional_shutdown" in text.output and "KZ/KZ-47/Zhanaozen" in text.output
    csv = runner.invoke(cli, [*base, "--by", "district", "--format", "csv"]).output.splitlines()
    assert csv[0].startswith("kind,scope,country,area,district,network_type,") and "probes_total" in csv[0]
    refused = runner.invoke(cli, [*base, "--area", "KZ-47"])
    assert refused.exit_code != 0 and "--by district" in refused.output


def test_probe_outages_bins_by_the_probes_round_interval_unless_told_another_bin(
    world: World, sqlite_windows: tuple[Path, list[RegionalWindow]]
) -> None:
    path, _ = sqlite_windows
    runner = CliRunner()
    base = ["outages", "--db", str(path), "--until", world.until, "--by", "district", "--format", "json"]
    derived = json.loads(runner.invoke(cli, base).output)
    assert json.loads(runner.invoke(cli, [*base, "--bin", "600"]).output) == derived  # rounds every 10 minutes
    hourly = json.loads(runner.invoke(cli, [*base, "--bin", "3600"]).output)
    [cut] = [row for row in hourly if row["kind"] == "regional_shutdown"]
    assert cut["district"] == "Zhanaozen" and hourly != derived
    refused = runner.invoke(cli, ["outages", "--db", str(path), "--bin", "60"])
    assert refused.exit_code != 0 and "--bin goes with --by district" in refused.output
    refused = runner.invoke(cli, [*base, "--bin", "0"])
    assert refused.exit_code != 0 and "--bin" in refused.output


def test_a_postgres_collector_gives_the_same_windows_as_a_sqlite_one(
    world: World, sqlite_windows: tuple[Path, list[RegionalWindow]], pg_url: str
) -> None:
    _, windows = sqlite_windows
    postgres_collector(world, pg_url)
    assert [window.to_dict() for window in regional(pg_url, world)] == [window.to_dict() for window in windows]


def test_a_collectors_network_contexts_and_sms_rounds_become_round_states_and_sms_outcomes(tmp_path: Path) -> None:
    """Contexts decide over counts (a dark link is local_fault, a shutdown network_down, a working one with
    failures blocked, the worst of a round's start and end taken: an international cut; a degraded one is degraded,
    its failures no blocks); counts decide without them; an SMS round's outcome lands on the round it falls in; a batch
    received twice brings its rounds once and its span twice, under the run's place, with the declared intervals; a
    round saw its state when its first context saying so was measured, else at its end."""
    identity = load_or_create(tmp_path / "probe.key")
    at = [f"2026-11-21T10:{minute:02d}:00.000000Z" for minute in (0, 10, 20, 30, 40, 50, 55)]
    place = {"probe_cc": "KZ", "area": "KZ-47", "district": "Aktau", "network_type": "mobile"}
    runs = [{"id": f"run{i}", "started_at": when, **place} for i, when in enumerate(at)]
    counts = [(3, 3, 0), (3, 0, 3), (3, 0, 3), (3, 2, 1), (3, 0, 3), (3, 1, 2), (3, 2, 1)]  # measured, reached, failed
    rounds = [
        {"id": f"r{i}", "group_name": "web", "experiment": "web", "started_at": when, "status": "finished"}
        | {"run_id": f"run{i}", "every": 600.0, "measured": m, "reached": r, "failed": f}
        | {"finished_at": when.replace(":00.000000Z", ":50.000000Z")}
        for i, (when, (m, r, f)) in enumerate(zip(at, counts, strict=True))
    ]
    sms = {"id": "s1", "group_name": "sms", "experiment": "sms", "started_at": "2026-11-21T10:31:00.000000Z"}
    rounds.append(sms | {"status": "finished", "run_id": "run3", "measured": 1, "reached": 0, "every": 3600.0})
    contexts = [
        {"run_id": "run1", "phase": "start", "network_state": "local_fault"},
        {"run_id": "run2", "phase": "start", "network_state": "ok", "measured_at": "2026-11-21T10:20:05.000000Z"},
        {"run_id": "run2", "phase": "end", "network_state": "shutdown", "measured_at": "2026-11-21T10:20:45.000000Z"},
        {"run_id": "run3", "phase": "start", "network_state": "ok", "measured_at": "2026-11-21T10:30:05.000000Z"},
        {"run_id": "run5", "phase": "start", "network_state": "ok", "measured_at": "2026-11-21T10:50:05.000000Z"},
        {"run_id": "run5", "phase": "end", "network_state": "international_cut"}
        | {"measured_at": "2026-11-21T10:50:40.000000Z"},
        {"run_id": "run6", "phase": "start", "network_state": "degraded", "measured_at": "2026-11-21T10:55:07.000000Z"},
    ]
    path = tmp_path / "collector.db"
    with running_collector(path) as server:
        db = open_database(path)
        registry.register(db, identity.public_key_b64, "test probe")
        db.close()
        batch = make_batch(
            identity,
            measurements=[],
            runs=runs,
            rounds=rounds,
            head=None,
            network_contexts=contexts,
            upload_every=1800.0,
        )
        for _ in range(2):
            assert post(server, encode_batch(batch))[0] == 200
    db = open_store(path, read_only_ok=True)
    try:
        found = sources.batches(db.conn)
    finally:
        db.close()
    assert [len(one.rounds) for one in found] == [7, 0]  # the second arrival brought nothing new
    assert found[0].covers_from == found[1].covers_from and found[0].received <= found[1].received
    [declaration] = {one.declaration for one in found}
    assert (declaration.country, declaration.area, declaration.district, declaration.network_type) == (
        "KZ",
        "KZ-47",
        "Aktau",
        "mobile",
    )
    assert (declaration.schedule.round_interval, declaration.schedule.upload_interval) == (600.0, 1800.0)
    states = [(item.state, item.sms_ok) for item in found[0].rounds]
    assert states == [
        ("up", None),
        ("local_fault", None),
        ("network_down", None),
        ("blocked", False),
        ("network_down", None),
        ("international_cut", None),
        ("degraded", None),
    ]
    seen = [int(item.seen_at - item.start) for item in found[0].rounds]
    assert seen == [50, 50, 45, 5, 50, 40, 7]
