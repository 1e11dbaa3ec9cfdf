"""Faults that used to lose finished work: another writer holding the lock, a run killed mid-way.

Real processes only: ``probe run`` as a subprocess against a slow loopback web server, a second
process holding SQLite's write lock, and SIGKILL.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from support.servers import http_server, slow_page

from probe.storage import open_database
from probe.upload.bundle import verify_path

ROOT = Path(__file__).resolve().parent.parent

HOLD_THE_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("begin exclusive")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("commit")
"""


def write_inputs(tmp_path: Path, port: int, count: int, concurrency: int) -> tuple[Path, Path]:
    config = tmp_path / "probe.toml"
    config.write_text(
        f'[probe]\nconcurrency = {concurrency}\n[dns]\nresolvers = ["udp://127.0.0.1:9"]\ntimeout = 1.0\n'
        "[tcp]\ntimeout = 2.0\n[http]\ntimeout = 10.0\n",
        encoding="utf-8",
    )
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"http://127.0.0.1:{port}/?n={n}\n" for n in range(count)), encoding="utf-8")
    return config, listing


@contextmanager
def probe_run(db_path: Path, config: Path, listing: Path) -> Iterator[subprocess.Popen[str]]:
    where = ["--db", str(db_path), "--config", str(config), "--list", str(listing)]
    child = subprocess.Popen(
        [sys.executable, "-m", "probe", "run", "--accept", *where],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=60)


def stored(db_path: Path) -> int:
    """Measurements committed so far, read as an analyst would while the probe writes."""
    if not db_path.exists():
        return 0
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute("select count(*) from measurements").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # not created yet
    finally:
        conn.close()


def wait_until(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def run_rows(db_path: Path) -> list[tuple[str, str, int]]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute("select id, status, measurements from runs").fetchall()
    finally:
        conn.close()


@pytest.mark.slow
def test_another_writer_holding_the_lock_for_8_s_mid_run_loses_no_finished_measurement(tmp_path: Path) -> None:
    db_path = tmp_path / "probe.db"
    with http_server({"/": slow_page(0.5)}) as web:
        config, listing = write_inputs(tmp_path, web.port, count=48, concurrency=4)
        with probe_run(db_path, config, listing) as run:
            wait_until(lambda: stored(db_path) >= 4)
            holder = subprocess.Popen(
                [sys.executable, "-c", HOLD_THE_LOCK, str(db_path), "8"], stdout=subprocess.PIPE, text=True
            )
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            at_lock = stored(db_path)
            locked_at = time.monotonic()
            _, err = run.communicate(timeout=90)
            assert holder.wait(timeout=30) == 0
    assert run.returncode == 0, err
    assert at_lock < 48  # the lock was taken mid-run, with measurements still to save
    assert time.monotonic() - locked_at >= 7.5  # and the run had to wait for it
    assert stored(db_path) == 48
    assert [(status, count) for _, status, count in run_rows(db_path)] == [("finished", 48)]
    assert verify_path(db_path).ok


@pytest.mark.slow
def test_a_run_killed_mid_way_is_interrupted_at_the_next_open_and_a_live_one_is_left_running(tmp_path: Path) -> None:
    db_path = tmp_path / "probe.db"
    with http_server({"/": slow_page(1.0)}) as web:
        config, listing = write_inputs(tmp_path, web.port, count=20, concurrency=2)
        with probe_run(db_path, config, listing) as run:
            wait_until(lambda: stored(db_path) >= 3)
            # Another process opens the database while the run is alive: the run is not its to close.
            open_database(db_path).close()
            assert [status for _, status, _ in run_rows(db_path)] == ["running"]
            os.kill(run.pid, signal.SIGKILL)
            run.wait(timeout=30)
        saved = stored(db_path)
        assert 3 <= saved < 20
        assert [status for _, status, _ in run_rows(db_path)] == ["running"]  # nobody could mark it
        listed = subprocess.run(
            [sys.executable, "-m", "probe", "results", "--db", str(db_path), "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
    assert listed.returncode == 0, listed.stderr
    assert [(status, count) for _, status, count in run_rows(db_path)] == [("interrupted", saved)]
    assert stored(db_path) == saved
    assert verify_path(db_path).ok
