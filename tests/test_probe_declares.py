# ruff: noqa: F811  (pytest fixtures imported from other test modules are parameters here)
"""What a probe declares reaches a collector: each run's place, each round's interval and whether the machine or
the daemon was off since the round before, the probe's upload interval; and the boot's id never leaves the probe.

Real parts on loopback: the daemon in this process (its boot id read from a file the test writes), a refusing
TCP port as its target, a collector on SQLite and on PostgreSQL (``pgcluster``), the uploader's own HTTP client.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import requests
from click.testing import CliRunner
from support.dnsserver import running_dns_server
from support.pgcluster import pg_cluster, pg_url  # noqa: F401  (fixtures)
from support.servers import tcp_refusing_port
from support.unattended import daemon_config, fill, probe_identity
from test_collector_service import post, register

from probe import consent
from probe.cli.main import cli
from probe.collector import registry
from probe.collector.service import running_collector
from probe.config import Config
from probe.daemon import heartbeat
from probe.daemon.service import Daemon
from probe.storage import open_database
from probe.storage.postgres.database import open_postgres
from probe.upload.protocol import BATCH_FORMAT, encode_batch, sign_batch
from probe.upload.queue import make_batch
from probe.upload.uploader import UploadReport, make_session, upload_pending

PLACE = {"area": "KZ-47", "district": "Zhanaozen", "network_type": "mobile"}
UPLOAD_EVERY = 900.0
ROUND_EVERY = 0.2


def probe_config(dns: str, port: int, collector_url: str = "http://127.0.0.1:9", **place: str) -> Config:
    groups = {"reach": {"experiment": "tcp", "every": ROUND_EVERY, "inputs": [f"127.0.0.1:{port}"]}}
    upload = {"enabled": True, "url": collector_url, "every": UPLOAD_EVERY}
    return daemon_config(dns, groups, probe=place, upload=upload)


def run_daemon(config: Config, path: Path, boot_file: Path, boot: str, rounds: int) -> None:
    """The daemon started, ``rounds`` rounds run, stopped; on the boot ``boot``. Its own uploader is off: the
    test uploads after, as the daemon's uploader would (``upload_pending``), so that what is sent is known."""
    boot_file.write_text(boot + "\n", encoding="ascii")
    quiet = config.model_copy(update={"upload": config.upload.model_copy(update={"enabled": False})})
    Daemon(quiet, path, max_rounds=rounds, poll=0.02, boot_id_source=boot_file).run()


def upload(config: Config, path: Path) -> tuple[UploadReport, list[bytes]]:
    """Everything pending sent to the configured collector by the uploader; the bodies it sent."""
    sent: list[bytes] = []
    db = open_database(path)
    try:
        identity = probe_identity(db)
        with make_session(config.upload) as session:
            post = session.post

            def recording(url: str, **kwargs: Any) -> requests.Response:
                sent.append(kwargs["data"])
                return post(url, **kwargs)

            session.post = recording  # type: ignore[method-assign]
            report = upload_pending(db, identity, config.upload, session)
    finally:
        db.close()
    assert report.error is None, report.error
    return report, sent


def a_probe_stopped_restarted_and_rebooted(tmp_path: Path, collector_url: str) -> tuple[list[str], list[bytes]]:
    """A probe with a place declared and consented: a daemon runs 1 round, is started again for 2 more, and after
    a reboot 1 more; all of it uploaded to ``collector_url``. The boot ids, and the batches' bodies."""
    path = tmp_path / "probe" / "probe.db"
    boots = [str(uuid.uuid4()), str(uuid.uuid4())]
    with running_dns_server({}) as dns, tcp_refusing_port() as refusing:
        config = probe_config(dns.spec(), refusing.port, collector_url, **PLACE)
        db = open_database(path)
        consent.record(db, config, how="test")
        db.close()
        boot_file = tmp_path / "boot_id"
        run_daemon(config, path, boot_file, boots[0], rounds=1)
        run_daemon(config, path, boot_file, boots[0], rounds=2)
        run_daemon(config, path, boot_file, boots[1], rounds=1)
    db = open_database(path)
    local = [(r["boot_id"], r["rebooted"], r["resumed"]) for r in heartbeat.rounds(db)]
    db.close()
    assert local == [(boots[0], 0, 0), (boots[0], 0, 1), (boots[0], 0, 0), (boots[1], 1, 1)]
    _, sent = upload(config, path)
    return boots, sent


EXPECTED_ROUNDS = [(ROUND_EVERY, 0, 0), (ROUND_EVERY, 0, 1), (ROUND_EVERY, 0, 0), (ROUND_EVERY, 1, 1)]
"""The first round ever; the first of a daemon started again; the next of that daemon; the first after a reboot."""
EXPECTED_RUNS = [tuple(PLACE.values())] * 4


def no_boot_id_in(sent: list[bytes], boots: list[str]) -> None:
    assert sent and all(json.loads(body)["format"] == BATCH_FORMAT for body in sent)
    assert not [boot for boot in boots for body in sent if boot.encode() in body]
    assert all("boot_id" not in json.dumps(json.loads(body)) for body in sent)


def test_a_sqlite_collector_holds_each_runs_place_and_each_rounds_interval_reboot_and_resume(tmp_path: Path) -> None:
    collector_path = tmp_path / "collector.db"
    with running_collector(collector_path) as server:
        url = f"http://{server.host}:{server.port}"
        probe_db = open_database(tmp_path / "probe" / "probe.db")
        register(collector_path, probe_identity(probe_db))
        probe_db.close()
        boots, sent = a_probe_stopped_restarted_and_rebooted(tmp_path, url)
    conn = sqlite3.connect(collector_path)
    try:
        rounds = conn.execute("select every, rebooted, resumed from rounds order by started_at").fetchall()
        runs = conn.execute("select area, district, network_type from runs order by started_at").fetchall()
        schedule = conn.execute("select upload_every from probes where is_self = 0").fetchall()
        assert conn.execute("select count(*) from rounds where boot_id is not null").fetchone() == (0,)
    finally:
        conn.close()
    assert rounds == EXPECTED_ROUNDS
    assert runs == EXPECTED_RUNS
    assert schedule == [(UPLOAD_EVERY,)]
    listing = CliRunner().invoke(cli, ["collector", "probes", "--db", str(collector_path)])
    assert listing.exit_code == 0 and "uploads_every" in listing.output and "900 s" in listing.output
    no_boot_id_in(sent, boots)
    files = [collector_path, *collector_path.parent.glob("collector.db-*")]  # no connection holds them now
    assert not [boot for boot in boots for file in files if boot.encode() in file.read_bytes()]


def test_a_postgres_collector_holds_each_runs_place_and_each_rounds_interval_reboot_and_resume(
    tmp_path: Path,
    pg_url: str,
) -> None:
    probe_db = open_database(tmp_path / "probe" / "probe.db")
    identity = probe_identity(probe_db)
    probe_db.close()
    with running_collector(pg_url) as server:
        pg = open_postgres(pg_url)
        try:
            registry.register(pg, identity.public_key_b64, "test probe")
        finally:
            pg.close()
        boots, sent = a_probe_stopped_restarted_and_rebooted(tmp_path, f"http://{server.host}:{server.port}")
    pg = open_postgres(pg_url)
    try:
        conn = pg.conn
        rounds = conn.execute("select every, rebooted, resumed from rounds order by started_at").fetchall()
        runs = conn.execute("select area, district, network_type from runs order by started_at").fetchall()
        schedule = conn.execute("select upload_every from probes").fetchall()
        tables = [row[0] for row in conn.execute("select tablename from pg_tables where schemaname = 'public'")]
        everything = "".join(
            str(conn.execute(f"select coalesce(string_agg(t::text, ''), '') from {table} t").fetchone()[0])
            for table in tables
        )
    finally:
        pg.close()
    assert [tuple(row) for row in rounds] == EXPECTED_ROUNDS
    assert [tuple(row) for row in runs] == EXPECTED_RUNS
    assert [tuple(row) for row in schedule] == [(UPLOAD_EVERY,)]
    no_boot_id_in(sent, boots)
    assert "rounds" in tables and not [boot for boot in boots if boot in everything]


def test_a_run_measured_at_a_place_never_consented_to_goes_without_it(tmp_path: Path) -> None:
    collector_path = tmp_path / "collector.db"
    path = tmp_path / "probe" / "probe.db"
    with running_dns_server({}) as dns, tcp_refusing_port() as refusing:
        elsewhere = probe_config(dns.spec(), refusing.port, area="KZ-75", network_type="fixed")
        db = open_database(path)
        fill(db, 1)  # no place declared
        identity = probe_identity(db)
        db.close()
        run_daemon(elsewhere, path, tmp_path / "boot_id", "b", rounds=1)  # never consented: upload off
        with running_collector(collector_path) as server:
            register(collector_path, identity)
            here = probe_config(dns.spec(), refusing.port, f"http://{server.host}:{server.port}", **PLACE)
            run_daemon(here, path, tmp_path / "boot_id", "b", rounds=1)
            db = open_database(path)
            consent.record(db, here, how="test")
            db.close()
            upload(here, path)
    conn = sqlite3.connect(collector_path)
    try:
        runs = conn.execute("select area, district, network_type from runs order by started_at").fetchall()
    finally:
        conn.close()
    assert runs == [(None, None, "unknown"), (None, None, None), tuple(PLACE.values())]


def test_a_batch_of_an_earlier_format_carrying_what_4_added_is_refused_and_4s_fields_are_signed(
    tmp_path: Path,
) -> None:
    collector_path = tmp_path / "collector.db"
    db = open_database(tmp_path / "probe" / "probe.db")
    identity = probe_identity(db)
    db.close()
    run = {"id": "run1", "area": "KZ-47", "network_type": "mobile"}
    round_ = {"id": "r1", "group_name": "g", "experiment": "tcp", "started_at": "x", "status": "finished"}
    with running_collector(collector_path) as server:
        register(collector_path, identity)
        batch = make_batch(identity, measurements=[], runs=[run], rounds=[{**round_, "every": 60.0}], head=None)
        altered = json.loads(encode_batch(batch))
        altered["runs"][0]["area"] = "KZ-75"
        assert post(server, encode_batch(altered))[0] == 401
        for old in ({**batch, "format": "zhanaozen-batch/3"}, {**batch, "format": "zhanaozen-batch/2"}):
            old["signature"] = sign_batch(identity, old)
            status, answer = post(server, encode_batch(old))
            assert status == 422 and "is sent since zhanaozen-batch/4" in answer["error"]
        assert post(server, encode_batch(batch))[0] == 200
    conn = sqlite3.connect(collector_path)
    try:
        assert conn.execute("select area, network_type from runs").fetchall() == [("KZ-47", "mobile")]
        assert conn.execute("select every, rebooted, resumed from rounds").fetchall() == [(60.0, None, None)]
    finally:
        conn.close()
