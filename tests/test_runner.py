"""Running a list: black holes never delay the others; a killed probe keeps what it finished."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import loopback_config
from support.dnsserver import Answer, running_dns_server
from support.servers import http_server, page, slow_drip, tcp_blackhole_server
from support.timing import SLACK

from probe.experiments import get_experiment
from probe.runner import run_targets
from probe.storage import open_database
from probe.testlist import Target

ROOT = Path(__file__).resolve().parent.parent


def test_black_holes_cost_one_timeout_not_one_each() -> None:
    with running_dns_server({}) as dns, http_server({"/": page("<title>up</title>")}) as web:
        with tcp_blackhole_server() as hole:
            targets = [Target(f"http://127.0.0.1:{hole.port}/{i}") for i in range(6)]
            targets += [Target(f"http://127.0.0.1:{web.port}/{i}") for i in range(24)]
            config = loopback_config(dns.spec(), probe={"concurrency": 30}, tcp={"timeout": 1.5})
            begin = time.monotonic()
            summary = run_targets(get_experiment("web"), targets, config, open_database(":memory:"))
            elapsed = time.monotonic() - begin
    assert summary.failures["generic_timeout_error"] == 6
    assert summary.reached == 24
    # Six timeouts in series would take 9 s; in parallel, about one timeout.
    assert elapsed < 2 * 1.5 + SLACK


def test_inputs_the_experiment_cannot_measure_are_problems_not_measurements() -> None:
    db = open_database(":memory:")
    with running_dns_server({}) as dns:
        summary = run_targets(
            get_experiment("tcp"), [Target("no-port-here"), Target("host:99999")], loopback_config(dns.spec()), db
        )
    assert summary.total == 0 and summary.done == 0
    (run,) = db.runs()
    assert "no-port-here" in run["problems"] and "99999" in run["problems"]


def test_each_run_keeps_the_place_the_probe_declared_when_it_started() -> None:
    db = open_database(":memory:")
    tcp = get_experiment("tcp")
    with running_dns_server({}) as dns:
        declared = {"area": "KZ-47", "district": "Zhanaozen", "network_type": "mobile"}
        run_targets(tcp, [Target("no-port-here")], loopback_config(dns.spec(), probe=declared), db)
        moved = {"area": "KZ-75", "network_type": "fixed"}
        run_targets(tcp, [Target("no-port-here")], loopback_config(dns.spec(), probe=moved), db)
        run_targets(tcp, [Target("no-port-here")], loopback_config(dns.spec()), db)
    places = [(run["area"], run["district"], run["network_type"]) for run in reversed(db.runs())]
    assert places == [("KZ-47", "Zhanaozen", "mobile"), ("KZ-75", None, "fixed"), (None, None, "unknown")]


def test_killed_probe_keeps_every_measurement_it_had_finished(tmp_path: Path) -> None:
    records = {"fast.test": Answer(("127.0.0.1",))}
    with running_dns_server(records) as dns, http_server({"/": page("ok"), "/slow": slow_drip(0.2)}) as web:
        config = tmp_path / "probe.toml"
        config.write_text(
            f'[probe]\nconcurrency = 4\n[dns]\nresolvers = ["{dns.spec()}"]\ntimeout = 1.0\n'
            "late_answer_window = 0.0\n[http]\ntimeout = 30.0\n",
            encoding="utf-8",
        )
        listing = tmp_path / "list.txt"
        fast = [f"http://fast.test:{web.port}/?n={i}" for i in range(3)]
        listing.write_text("\n".join([f"http://fast.test:{web.port}/slow", *fast]) + "\n", encoding="utf-8")
        db_path = tmp_path / "probe.db"
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "probe",
                "run",
                "--accept",
                "--config",
                str(config),
                "--list",
                str(listing),
                "--db",
                str(db_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        try:
            deadline = time.monotonic() + 20
            count = 0
            while time.monotonic() < deadline and count < 3:
                time.sleep(0.1)
                if db_path.exists():
                    try:
                        count = sqlite3.connect(db_path).execute("select count(*) from measurements").fetchone()[0]
                    except sqlite3.OperationalError:
                        count = 0
            assert process.poll() is None, "the slow target should still be in flight"
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    db = sqlite3.connect(db_path)
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    inputs = sorted(row[0] for row in db.execute("select input from measurements"))
    assert inputs == sorted(fast)
    assert db.execute("select status from runs").fetchone()[0] == "running"


def test_rejected_sms_inputs_are_recorded_by_position_never_by_value() -> None:
    db = open_database(":memory:")
    with running_dns_server({}) as dns:
        run_targets(get_experiment("sms"), [Target("+77001234567")], loopback_config(dns.spec()), db)
    (run,) = db.runs()
    assert "input #1" in run["problems"]
    assert "7700123" not in run["problems"]
