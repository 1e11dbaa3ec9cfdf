# ruff: noqa: F811  (pytest fixtures imported from other test modules are parameters here)
"""A collector's ``targeted_block``: a target blocked for a country's probes, named from their measurements' verdicts.

As on 16 December 2011, when Twitter was blocked throughout Kazakhstan for one day while the networks worked: five
probes in two areas, each round (every 20 minutes over 28 hours ending now) measuring twitter.com and facebook.com,
written in the probe's own database as its daemon writes them (a run with the declared place, the round's
heartbeat, its measurements with their verdicts), sent by the daemon's uploader (``upload_pending``) to a collector
on SQLite and to one on PostgreSQL (``pgcluster``). From hour 2 to hour 26 every probe's twitter.com measurement
is judged ``blocked`` (its connection reset); facebook.com stays reachable.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from support.pgcluster import pg_cluster, pg_url  # noqa: F401  (fixtures)
from test_regional_collector import Probe, World, make_world, names, postgres_collector, regional, sqlite_windows  # noqa: F401

from probe import SOFTWARE_NAME, __version__
from probe.analysis.regional import RegionalWindow, sources
from probe.analysis.regional import kinds as regional_kinds
from probe.daemon import heartbeat
from probe.export.stop import stop_rows
from probe.model import Measurement, TCPTestKeys
from probe.storage import open_database
from probe.storage.store import open_store

ROUND = 1200.0
ROUNDS = 84
BLOCKED = range(6, 78)
"""Rounds 6 to 77: hour 2 to hour 26."""
PROBES = {
    "aktau-fixed0": ("KZ-47", "Aktau", "fixed"),
    "aktau-mobile0": ("KZ-47", "Aktau", "mobile"),
    "almaty-fixed0": ("KZ-75", "Almaty", "fixed"),
    "almaty-fixed1": ("KZ-75", "Almaty", "fixed"),
    "almaty-mobile0": ("KZ-75", "Almaty", "mobile"),
}
TARGETS = ("https://twitter.com/", "https://www.facebook.com/")


def measurement(run_id: str, target: str, at: float, blocked: bool) -> Measurement:
    when = heartbeat.iso(at)
    return Measurement.model_validate(
        {
            "id": uuid.uuid4().hex,
            "experiment": "web",
            "input": target,
            "failure": "connection_reset" if blocked else None,
            "failed_step": "tcp" if blocked else None,
            "started_at": when,
            "measurement_start_time": when[:19].replace("T", " "),
            "probe_asn": "AS9198",
            "probe_cc": "KZ",
            "report_id": run_id,
            "software_name": SOFTWARE_NAME,
            "software_version": __version__,
            "test_name": "web_connectivity",
            "test_version": "0.1.0",
            "test_runtime": 0.5,
            "test_start_time": when[:19].replace("T", " "),
            "test_keys": TCPTestKeys(),
            "verdict": "blocked" if blocked else "accessible",
            "blocking": "tcp_ip" if blocked else None,
        }
    )


def write_rounds(path: Path, probe: Probe, start: float) -> None:
    """The probe's rounds as its daemon writes them: a run with its place, the heartbeat, the two measurements."""
    db = open_database(path)
    try:
        for k in range(ROUNDS):
            at = start + k * ROUND
            run_id, round_id = str(uuid.uuid4()), str(uuid.uuid4())
            place_columns = {"area": probe.area, "district": probe.district, "network_type": probe.network_type}
            db.start_run({"id": run_id, "started_at": heartbeat.iso(at), "experiment": "web", **place_columns})
            db.set_run_network(run_id, asn="AS9198", cc="KZ", name="Kazakhtelecom", source="test")
            heartbeat.start_round(
                db, round_id=round_id, group="web", experiment="web", started_at=heartbeat.iso(at), every=ROUND,
                boot="first-boot", first_of_daemon=k == 0,
            )  # fmt: skip
            blocked = k in BLOCKED
            for index, target in enumerate(TARGETS):
                db.save(measurement(run_id, target, at + 1 + index, blocked and "twitter" in target), run_id)
            finished = heartbeat.iso(at + 5)
            db.finish_run(run_id, finished_at=finished, status="finished", measurements=len(TARGETS))
            heartbeat.finish_round(
                db, round_id, finished_at=finished, status="finished", run_id=run_id, targets=2, measured=2,
                reached=1 if blocked else 2, failed=1 if blocked else 0,
            )  # fmt: skip
    finally:
        db.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    places = {name: Probe(name, *place) for name, place in PROBES.items()}
    return make_world(tmp_path_factory.mktemp("blocks"), places, ROUNDS * ROUND, write_rounds)


def test_a_target_blocked_for_every_probe_of_a_country_for_a_day_is_one_targeted_block_and_no_shutdown(
    world: World, sqlite_windows: tuple[Path, list[RegionalWindow]]
) -> None:
    _, windows = sqlite_windows
    [block] = [window for window in windows if window.kind == regional_kinds.TARGETED_BLOCK]
    assert (block.target, block.scope, block.country, block.area, block.district) == (
        "twitter.com",
        "country",
        "KZ",
        "",
        "",
    )
    assert sorted(names(world)[probe] for probe in block.probes) == sorted(PROBES)
    assert block.start_min is not None and block.end_min is not None and block.end_max is not None
    assert block.start_min < world.hour(2) <= block.start_max
    assert block.end_min < world.hour(26) <= block.end_max
    assert not block.provisional and "twitter.com blocked for 5 of 5 working probes in KZ" in block.basis
    network_kinds = {window.kind for window in windows} - {regional_kinds.TARGETED_BLOCK}
    assert not network_kinds, network_kinds  # no shutdown, no probe dark, no device off: the networks worked
    [row] = stop_rows(windows)
    assert (row["twitter_affected"], row["shutdown_extent"], row["area_name"], row["facebook_affected"]) == (
        "Yes",
        "Service-based",
        "Nationwide",
        None,
    )


def test_a_collector_names_each_rounds_blocked_targets_from_its_measurements_judged_blocked(
    sqlite_windows: tuple[Path, list[RegionalWindow]],
) -> None:
    path, _ = sqlite_windows
    db = open_store(path, read_only_ok=True)
    try:
        found = sources.batches(db.conn)
        plan = " ".join(
            str(row[-1])
            for row in db.conn.execute(
                "explain query plan " + sources.BLOCKED_MEASUREMENTS + " and started_at >= ? and started_at < ?",
                ("a", "b"),
            )
        )
    finally:
        db.close()
    rounds = sorted((item for batch in found for item in batch.rounds), key=lambda item: item.start)
    assert {(item.state, item.blocked) for item in rounds} == {("up", ()), ("blocked", ("twitter.com",))}
    assert sum(1 for item in rounds if item.blocked) == len(BLOCKED) * len(PROBES)
    assert "COVERING INDEX measurements_blocked" in plan  # the blocked measurements alone, from the index


def test_a_postgres_collector_gives_the_same_targeted_block_as_a_sqlite_one(
    world: World, sqlite_windows: tuple[Path, list[RegionalWindow]], pg_url: str
) -> None:
    _, windows = sqlite_windows
    postgres_collector(world, pg_url)
    assert [window.to_dict() for window in regional(pg_url, world)] == [window.to_dict() for window in windows]


def test_an_input_is_named_by_its_host_whatever_measured_it() -> None:
    assert [sources.target_name(text) for text in ("https://Twitter.com/", "twitter.com:443", "twitter.com")] == [
        "twitter.com"
    ] * 3
    assert sources.target_name("198.18.0.9:443") == "198.18.0.9"
