"""The daemon in process: heartbeats for every round, failing or not; spacing after a restart; signed heads."""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from pathlib import Path

from support.dnsserver import running_dns_server
from support.servers import tcp_blackhole_server, tcp_refusing_port
from support.unattended import daemon_config, wait_for

from probe.daemon import heartbeat
from probe.daemon.service import Daemon
from probe.integrity.verify import verify_database
from probe.storage import open_database


def run_daemon(daemon: Daemon) -> list[str]:
    lines: list[str] = []
    daemon.log = lines.append
    daemon.run()
    return lines


def test_every_round_writes_a_heartbeat_even_when_every_target_fails(tmp_path: Path) -> None:
    with running_dns_server({}) as dns, tcp_refusing_port() as refusing:
        groups = {"tcp": {"experiment": "tcp", "every": 0.2, "inputs": [f"127.0.0.1:{refusing.port}"] * 3}}
        daemon = Daemon(daemon_config(dns.spec(), groups), tmp_path / "probe.db", max_rounds=2, poll=0.05)
        run_daemon(daemon)
    rows = heartbeat.rounds(open_database(tmp_path / "probe.db"))
    assert [(r["status"], r["targets"], r["measured"], r["failed"], r["reached"]) for r in rows] == [
        ("finished", 3, 3, 3, 0),
        ("finished", 3, 3, 3, 0),
    ]
    assert all(r["run_id"] and r["finished_at"] > r["started_at"] for r in rows)


def test_round_that_cannot_read_its_list_leaves_a_failed_heartbeat(tmp_path: Path) -> None:
    with running_dns_server({}) as dns:
        groups = {"web": {"experiment": "web", "every": 0.2, "test_list": str(tmp_path / "missing.csv")}}
        daemon = Daemon(daemon_config(dns.spec(), groups), tmp_path / "probe.db", max_rounds=1, poll=0.05)
        lines = run_daemon(daemon)
    (row,) = heartbeat.rounds(open_database(tmp_path / "probe.db"))
    assert row["status"] == "failed" and "cannot read test list" in row["error"]
    assert any("failed" in line and "cannot read test list" in line for line in lines)


def test_restarted_daemon_runs_missed_rounds_once_then_keeps_its_interval(tmp_path: Path) -> None:
    path = tmp_path / "probe.db"
    db = open_database(path)
    long_ago = heartbeat.iso(time.time() - 10 * 3600)
    heartbeat.start_round(db, round_id="old", group="tcp", experiment="tcp", started_at=long_ago)
    heartbeat.finish_round(db, "old", finished_at=long_ago, status=heartbeat.FINISHED)
    db.close()
    with running_dns_server({}) as dns, tcp_refusing_port() as refusing:
        groups = {"tcp": {"experiment": "tcp", "every": 0.6, "inputs": [f"127.0.0.1:{refusing.port}"]}}
        config = daemon_config(dns.spec(), groups, schedule={"first_delay": 0.3})
        started = time.time()
        run_daemon(Daemon(config, path, max_rounds=3, poll=0.02))
    starts = [heartbeat.epoch(r["started_at"]) for r in heartbeat.rounds(open_database(path))[1:]]
    assert len(starts) == 3
    assert starts[0] - started >= 0.3  # the first delay, not a burst of the 60000 missed rounds
    assert all(later - earlier >= 0.6 - 0.01 for earlier, later in itertools.pairwise(starts))


def test_round_left_running_by_a_crash_is_closed_as_interrupted_with_what_it_saved(tmp_path: Path) -> None:
    path = tmp_path / "probe.db"
    db = open_database(path)
    heartbeat.start_round(db, round_id="crashed", group="tcp", experiment="tcp", started_at=heartbeat.iso(time.time()))
    db.close()
    with running_dns_server({}) as dns, tcp_refusing_port() as refusing:
        groups = {"tcp": {"experiment": "tcp", "every": 0.2, "inputs": [f"127.0.0.1:{refusing.port}"]}}
        lines = run_daemon(Daemon(daemon_config(dns.spec(), groups), path, max_rounds=1, poll=0.05))
    rows = {r["id"]: r for r in heartbeat.rounds(open_database(path))}
    assert rows["crashed"]["status"] == "interrupted" and "crash" in rows["crashed"]["error"]
    assert any("marked interrupted" in line for line in lines)


def test_daemon_signs_its_chain_head_after_each_round(tmp_path: Path) -> None:
    path = tmp_path / "probe.db"
    with running_dns_server({}) as dns, tcp_refusing_port() as refusing:
        groups = {"tcp": {"experiment": "tcp", "every": 0.1, "inputs": [f"127.0.0.1:{refusing.port}"] * 2}}
        run_daemon(Daemon(daemon_config(dns.spec(), groups), path, max_rounds=3, poll=0.02))
    heads = [row[0] for row in open_database(path).db.execute("select seq from chain_heads order by seq")]
    assert heads == [2, 4, 6]
    verification = verify_database(path)
    assert verification.ok and verification.chains[0].last_signed == 6


def count(path: Path, sql: str = "select count(*) from measurements") -> int:
    try:
        return int(sqlite3.connect(path, timeout=0.1).execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # not created yet, or being migrated
        return 0


def test_stop_during_a_round_marks_it_interrupted_and_keeps_what_finished(tmp_path: Path) -> None:
    path = tmp_path / "probe.db"
    with running_dns_server({}) as dns, tcp_blackhole_server() as hole:
        groups = {"tcp": {"experiment": "tcp", "every": 60, "inputs": [f"127.0.0.1:{hole.port}"] * 50}}
        config = daemon_config(dns.spec(), groups, probe={"concurrency": 1}, tcp={"timeout": 0.2})
        daemon = Daemon(config, path, poll=0.05)
        thread = threading.Thread(target=daemon.run)
        thread.start()
        try:
            assert wait_for(lambda: count(path) >= 2, timeout=10)
        finally:
            daemon.stop.set()
            thread.join(10)
    assert not thread.is_alive()
    db = open_database(path)
    (row,) = heartbeat.rounds(db)
    measured = count(path)
    assert row["status"] == "interrupted" and row["measured"] == measured and 2 <= measured < 50
    assert count(path, "select count(*) from runs where status = 'interrupted'") == 1
