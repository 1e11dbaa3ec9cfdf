"""SQLite's locks survive everything the probe does while it holds a connection.

SQLite's locks on Linux are POSIX advisory locks: they belong to the process, and closing *any*
descriptor of the database file drops every one of them. A process that opened the file once more
outside SQLite (to read its header, say) left its connections unprotected: another process then took
itself for the last connection, checkpointed and deleted the ``-wal`` under the live writer, and a
kill -9 lost every commit since. These tests watch the kernel's lock table and kill a real writer.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from probe.errors import StorageError
from probe.storage import open_database

ROOT = Path(__file__).resolve().parent.parent


def posix_locks(pid: int, path: Path) -> int:
    """How many POSIX locks ``pid`` holds on ``path``'s file (``/proc/locks``)."""
    info = path.stat()
    inode = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    count = 0
    for line in Path("/proc/locks").read_text(encoding="ascii").splitlines():
        fields = line.split()
        if "POSIX" in fields and str(pid) in fields and inode in fields:
            count += 1
    return count


def count_rows(path: Path) -> int:
    """What another process (an analyst's tool, a backup) sees; it opens, reads and closes the database."""
    code = "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from t').fetchone()[0])"
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def test_opening_a_second_connection_keeps_the_locks_the_first_holds(tmp_path: Path) -> None:
    path = tmp_path / "probe.db"
    first = open_database(path)
    try:
        first.conn.execute("begin")
        first.conn.execute("select count(*) from measurements").fetchone()  # a read transaction: its locks
        held = posix_locks(os.getpid(), path)
        assert held >= 1
        second = open_database(path)  # as the daemon's upload worker does beside the runner
        second.close()
        assert posix_locks(os.getpid(), path) == held
        first.conn.rollback()
    finally:
        first.close()


WRITER = """
import sys, time
from probe.storage import open_database

runner = open_database(sys.argv[1])
runner.conn.execute("create table if not exists t (n integer)")
runner.conn.commit()
runner.conn.execute("insert into t values (1)")
runner.conn.commit()
uploader = open_database(sys.argv[1])  # a second connection in the same process, as the daemon's upload worker
print("opened", flush=True)
for line in sys.stdin:
    runner.conn.execute("insert into t values (?)", (int(line),))
    runner.conn.commit()
    print("committed", flush=True)
"""


def test_commits_of_a_writer_killed_while_another_process_reads_are_all_kept(tmp_path: Path) -> None:
    path = tmp_path / "probe.db"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert writer.stdin is not None and writer.stdout is not None
    try:
        assert writer.stdout.readline().strip() == "opened"
        for n in range(2, 7):
            assert count_rows(path) == n - 1  # a reader came and went: it must not checkpoint the live WAL away
            writer.stdin.write(f"{n}\n")
            writer.stdin.flush()
            assert writer.stdout.readline().strip() == "committed"
        assert Path(f"{path}-wal").exists()  # the writer still holds it: nobody deleted it
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        writer.kill()
        writer.wait(timeout=30)
    assert count_rows(path) == 6


def test_a_file_that_is_not_a_database_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("my notes, not a database\n" * 100, encoding="utf-8")
    path.chmod(0o644)
    with pytest.raises(StorageError, match="not a database"):
        open_database(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.read_text(encoding="utf-8") == "my notes, not a database\n" * 100


def test_a_database_with_bits_for_others_is_tightened_by_path(tmp_path: Path) -> None:
    path = tmp_path / "probe.db"
    open_database(path).close()
    path.chmod(0o644)
    db = open_database(path)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert db.conn.execute("select count(*) from sqlite_master").fetchone()[0] > 0
    finally:
        db.close()
    assert sqlite3.connect(path).execute("pragma journal_mode").fetchone() == ("wal",)
