"""Crashes during first start: a real process SIGKILLed inside each migration, then the database opened and used.

The child process runs the real ``open_database``; the only thing the test adds is a pause after
a migration step's DDL has run and before ``migrate`` records it, so the kill lands exactly in the
gap that used to brick a database (``table "runs" already exists`` forever after).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlite_utils
from support.servers import tcp_refusing_port

from probe.storage import open_database
from probe.storage.migrations import MIGRATIONS, _initial

ROOT = Path(__file__).resolve().parent.parent

PAUSE_INSIDE = """
import sys, time
from probe.storage import migrations, open_database

target = int(sys.argv[2])


def pausing(number, step):
    def run(db):
        step(db)
        if number == target:
            print("inside", number, flush=True)
            time.sleep(60)
    return run


migrations.MIGRATIONS[:] = [(n, name, pausing(n, step)) for n, name, step in migrations.MIGRATIONS]
open_database(sys.argv[1])
"""


def kill_inside_migration(db_path: Path, number: int) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", PAUSE_INSIDE, str(db_path), str(number)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().split() == ["inside", str(number)]
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL


def recorded(db_path: Path) -> set[int]:
    conn = sqlite3.connect(db_path)
    try:
        return {row[0] for row in conn.execute("select version from schema_migrations")}
    finally:
        conn.close()


def probe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "probe", *args], capture_output=True, text=True, timeout=60, cwd=ROOT)


def run_and_list(db_path: Path, config: Path, port: int) -> None:
    """What bricked databases refused: a run, and its results."""
    where = ("--db", str(db_path), "--config", str(config))
    ran = probe("run", "--accept", "-e", "tcp", "--url", f"127.0.0.1:{port}", *where)
    assert ran.returncode == 0, ran.stderr
    listed = probe("results", *where)
    assert listed.returncode == 0, listed.stderr
    assert "connection_refused" in listed.stdout


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "probe.toml"
    path.write_text('[dns]\nresolvers = ["udp://127.0.0.1:9"]\n[tcp]\ntimeout = 1.0\n', encoding="utf-8")
    return path


NUMBERS = sorted(number for number, _, _ in MIGRATIONS)


@pytest.mark.parametrize("number", NUMBERS)
def test_a_kill_inside_a_migration_leaves_nothing_of_it_and_the_next_open_completes_it(
    tmp_path: Path, config: Path, number: int
) -> None:
    db_path = tmp_path / "probe.db"
    kill_inside_migration(db_path, number)
    assert recorded(db_path) == {n for n in NUMBERS if n < number}
    db = open_database(db_path)
    db.close()
    assert recorded(db_path) == set(NUMBERS)
    with tcp_refusing_port() as refusing:
        run_and_list(db_path, config, refusing.port)


def test_a_database_half_migrated_by_an_older_version_is_completed(tmp_path: Path, config: Path) -> None:
    """Older versions committed migration 1's DDL without its record (autocommitted DDL): not refused any more."""
    db_path = tmp_path / "probe.db"
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("create table schema_migrations (version integer primary key, name text, applied_at text)")
    conn.close()
    old = sqlite_utils.Database(db_path)
    _initial(old)  # the DDL, autocommitted, and no record: the state a SIGKILL used to leave
    old.close()
    assert recorded(db_path) == set()
    with tcp_refusing_port() as refusing:
        run_and_list(db_path, config, refusing.port)
    assert recorded(db_path) == set(NUMBERS)
