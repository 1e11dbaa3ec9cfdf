"""`probe daemon` as a real process: kill -9 mid-round and restart, SIGTERM, one daemon per database."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from support.dnsserver import Answer, running_dns_server
from support.servers import HTTPTestServer, http_server, page, slow_drip
from support.unattended import wait_for

from probe.integrity.verify import verify_database

ROOT = Path(__file__).resolve().parent.parent


def write_config(tmp_path: Path, dns_spec: str, inputs: list[str], *, concurrency: int, http_timeout: float) -> Path:
    path = tmp_path / "daemon.toml"
    listed = ", ".join(f'"{value}"' for value in inputs)
    path.write_text(
        f"""
[probe]
concurrency = {concurrency}
[dns]
resolvers = ["{dns_spec}"]
timeout = 1.0
late_answer_window = 0.0
[http]
timeout = {http_timeout}
[schedule]
first_delay = 0.0
[schedule.groups.web]
experiment = "web"
every = 0.5
inputs = [{listed}]
""",
        encoding="utf-8",
    )
    return path


def start_daemon(config: Path, db: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "probe", "daemon", "--config", str(config), "--db", str(db), "--accept", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


@contextmanager
def reaped(process: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # not there yet
        return []


@contextmanager
def web_site() -> Iterator[tuple[str, HTTPTestServer]]:
    with (
        running_dns_server({"site.test": Answer(("127.0.0.1",))}) as dns,
        http_server({"/": page("<title>up</title>"), "/slow": slow_drip(0.2)}) as web,
    ):
        yield dns.spec(), web


def test_kill_9_mid_round_then_restart_keeps_every_committed_measurement_once(tmp_path: Path) -> None:
    db = tmp_path / "probe.db"
    with web_site() as (dns_spec, web):
        fast = [f"http://site.test:{web.port}/?n={i}" for i in range(3)]
        config = write_config(
            tmp_path, dns_spec, [f"http://site.test:{web.port}/slow", *fast], concurrency=4, http_timeout=30
        )
        with reaped(start_daemon(config, db)) as daemon:
            assert wait_for(lambda: len(query(db, "select id from measurements")) >= 3, timeout=20)
            assert daemon.poll() is None, "the slow target must still be in flight"
            assert query(db, "select status from rounds") == [("running",)]
            os.kill(daemon.pid, signal.SIGKILL)
            daemon.wait(timeout=10)
        before = {row[0] for row in query(db, "select id from measurements")}
        conn = sqlite3.connect(db)
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        conn.close()
        assert len(before) == 3

        web.routes["/slow"] = page("<title>up again</title>")
        with reaped(start_daemon(config, db, "--rounds", "1")) as daemon:
            assert daemon.wait(timeout=30) == 0, daemon.stderr.read() if daemon.stderr else ""
    ids = [row[0] for row in query(db, "select id from measurements")]
    assert len(ids) == len(set(ids)) == 7
    assert before <= set(ids)
    assert query(db, "select status, measured from rounds order by started_at") == [("interrupted", 3), ("finished", 4)]
    verification = verify_database(db)
    assert verification.ok and verification.records == 7


def test_sigterm_finishes_the_measurements_in_flight_and_marks_the_round_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "probe.db"
    with web_site() as (dns_spec, web):
        slow = f"http://site.test:{web.port}/slow"
        fast = [f"http://site.test:{web.port}/?n={i}" for i in range(5)]
        config = write_config(tmp_path, dns_spec, [slow, *fast], concurrency=1, http_timeout=1.5)
        with reaped(start_daemon(config, db)) as daemon:
            assert wait_for(lambda: bool(query(db, "select id from rounds")), timeout=20)
            assert wait_for(lambda: any("/slow" in line for line in map(str, web.requests)), timeout=10)
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=15) == 0
            log = daemon.stderr.read() if daemon.stderr else ""
    assert "SIGTERM" in log and "daemon stopped" in log
    assert query(db, "select status, measured from rounds") == [("interrupted", 1)]
    assert query(db, "select input, failure from measurements") == [(slow, "generic_timeout_error")]
    assert query(db, "select status from runs") == [("interrupted",)]


def test_second_daemon_on_the_same_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "probe.db"
    with web_site() as (dns_spec, web):
        config = write_config(tmp_path, dns_spec, [f"http://site.test:{web.port}/slow"], concurrency=1, http_timeout=2)
        with reaped(start_daemon(config, db)) as first:
            assert wait_for(lambda: bool(query(db, "select id from rounds")), timeout=20)
            second = subprocess.run(
                [sys.executable, "-m", "probe", "daemon", "--config", str(config), "--db", str(db)],
                capture_output=True,
                text=True,
                timeout=30,
                cwd=ROOT,
            )
            assert second.returncode == 2
            assert f"another daemon (pid {first.pid})" in second.stderr and "Traceback" not in second.stderr
            assert first.poll() is None
            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=40) == 0
