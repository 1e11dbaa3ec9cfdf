"""No Python code of the probe or the collector opens, renames, removes or truncates a database file.

Python's audit hooks see every ``open`` (builtins, ``io``, ``os.open``), ``os.rename``/``os.replace``,
``os.remove``, ``os.truncate`` and ``shutil`` copy a program makes; SQLite's own file access, in C, raises none.
One process runs what a volunteer and an operator run, commands in the same process as a collector that
holds its connection: the daemon measuring and uploading, results, the queue's status, verify, exports,
outages, a report. Any touch of a database file, its ``-wal``, ``-shm`` or ``-journal`` from Python is
recorded with its stack and fails the test (it would drop SQLite's locks: see ``probe.storage.private``);
only making a new, empty database file with ``O_EXCL`` is allowed, as no connection can hold a lock on it yet.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.fleet import daemon_config, free_port
from support.servers import tcp_refusing_port

ROOT = Path(__file__).resolve().parent.parent

SCENARIO = r"""
import os, sys, traceback
from pathlib import Path

work = Path(sys.argv[1])
collector_port = int(sys.argv[2])
probe_db, collector_db = work / "probe.db", work / "collector.db"
watched = {str(path) + suffix for path in (probe_db, collector_db) for suffix in ("", "-wal", "-shm", "-journal")}
touched = []
EVENTS = {"open", "os.rename", "os.remove", "os.truncate", "shutil.copyfile", "shutil.copymode", "shutil.move",
          "shutil.rmtree", "os.link", "os.symlink"}


CREATE_NEW = os.O_CREAT | os.O_EXCL


def hook(event, args):
    if event not in EVENTS or not args:
        return
    if event == "open" and isinstance(args[2], int) and args[2] & CREATE_NEW == CREATE_NEW:
        return  # a file made anew (O_EXCL): no connection can hold a lock on it yet
    for arg in args[:2]:
        if isinstance(arg, (str, bytes, os.PathLike)):
            name = os.fsdecode(arg)
            if os.path.abspath(name) in watched:
                touched.append(f"{event} {name}\n" + "".join(traceback.format_stack(limit=12)))


sys.addaudithook(hook)

from probe.cli.main import cli
from probe.collector import registry
from probe.collector.service import running_collector
from probe.identity import key_path_for, load_or_create
from probe.storage import open_database


def run(*args):
    try:
        cli.main(list(args), standalone_mode=False)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise


with running_collector(collector_db, port=collector_port) as server:
    identity = load_or_create(key_path_for(probe_db))
    store = open_database(collector_db)  # an operator registering a probe while the collector serves
    registry.register(store, identity.public_key_b64, "hands-off")
    store.close()
    config = work / "probe.toml"
    where = ("--config", str(config), "--db", str(probe_db))
    run("daemon", *where, "--accept", "--rounds", "3")
    run("upload", *where)
    run("results", *where)
    run("upload", *where, "--status")
    run("verify", str(probe_db))
    run("verify", str(collector_db))
    run("export", *where, "--format", "csv", "--out", str(work / "export.csv"))
    run("export", *where, "--format", "ooni-jsonl", "--out", str(work / "export.jsonl"))
    run("outages", "--config", str(config), "--db", str(collector_db))
    run("report", *where, "--out", str(work / "report.html"))
    run("results", "--config", str(config), "--db", str(collector_db))

import sqlite3
print("STORED", sqlite3.connect(collector_db).execute("select count(*) from measurements").fetchone()[0])
print("TOUCHED", len(touched))
for entry in touched:
    print(entry)
"""


def test_no_command_touches_a_database_file_outside_sqlite(tmp_path: Path) -> None:
    port = free_port()
    with tcp_refusing_port() as refusing:
        config = daemon_config(f"http://127.0.0.1:{port}", refusing.port, targets=2, every=0.2)
        (tmp_path / "probe.toml").write_text(config, encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-c", SCENARIO, str(tmp_path), str(port)],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
        )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "TOUCHED 0" in done.stdout, done.stdout[done.stdout.find("TOUCHED") :][:5000]
    assert "STORED 6" in done.stdout  # the daemon's 3 rounds of 2 measurements reached the collector
    assert (tmp_path / "export.csv").stat().st_size > 0
    assert (tmp_path / "report.html").stat().st_size > 0
