"""Bad input: one clear line, nothing lost, never a traceback. Every command runs as a real process.

Read-only databases are made read-only for real: a read-only mount (a private mount namespace, as
root), and a 0444 file in a 0555 directory opened by an unprivileged user (root ignores modes).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.servers import tcp_refusing_port

ROOT = Path(__file__).resolve().parent.parent
NOBODY = 65534


def probe(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "probe", *args], capture_output=True, text=True, timeout=90, cwd=ROOT
    )


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "probe.toml"
    path.write_text(
        '[dns]\nresolvers = ["udp://127.0.0.1:9"]\ntimeout = 1.0\n[tcp]\ntimeout = 1.0\n[control]\nurl = []\n'
        "[network]\ndomestic_controls = []\ninternational_controls = []\n[lists]\nuse_cached = false\n",
        encoding="utf-8",
    )
    return path


def test_a_binary_config_file_is_one_clear_line(tmp_path: Path) -> None:
    binary = tmp_path / "probe.toml"
    binary.write_bytes(bytes(range(256)) * 4)
    done = probe("results", "--config", str(binary), "--db", str(tmp_path / "probe.db"))
    assert done.returncode == 2
    assert "is not UTF-8 text" in one_line_error(done)


def test_invalid_url_inputs_are_each_reported_and_not_called_a_run(tmp_path: Path, config: Path) -> None:
    db = tmp_path / "probe.db"
    done = probe("run", "--accept", "--config", str(config), "--db", str(db), "--url", "ftp://x/", "--url", "nope")
    assert done.returncode == 2
    assert "'ftp://x/'" in done.stderr and "'nope'" in done.stderr
    assert "every input was refused (2" in one_line_error(done)
    problems = sqlite3.connect(db).execute("select problems from runs").fetchone()[0]
    assert "ftp://x/" in problems and "nope" in problems  # recorded with the run too


def test_a_scoped_link_local_url_is_a_measurement_with_a_failure(tmp_path: Path, config: Path) -> None:
    db = tmp_path / "probe.db"
    urls = ["http://[fe80::1%25lo]/", "http://[fe80::1%25nosuch0]/"]
    done = probe("run", "--accept", "--config", str(config), "--db", str(db), "--url", urls[0], "--url", urls[1])
    assert done.returncode == 0, done.stderr
    assert "probe error" not in done.stdout + done.stderr
    rows = dict(sqlite3.connect(db).execute("select input, failure from measurements").fetchall())
    assert set(rows) == set(urls) and all(rows.values())
    assert rows[urls[1]] == "unknown_failure: no such network interface"


def test_verify_on_an_empty_or_foreign_file_is_never_verified(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    text = tmp_path / "notes.txt"
    text.write_text("not a bundle\n", encoding="utf-8")
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(b"SQLite format 3\x00" + b"\x00" * 50)
    for path in (empty, text, truncated):
        done = probe("verify", str(path))
        assert done.returncode in (1, 2), done.stdout
        assert not done.stdout.startswith("verified:") and "Traceback" not in done.stderr


@pytest.fixture
def measured_db(tmp_path: Path, config: Path) -> Path:
    """A database closed cleanly (no -wal, no -shm beside it), with measurements."""
    db = tmp_path / "source" / "probe.db"
    with tcp_refusing_port() as refusing:
        urls = [f"--url=127.0.0.1:{refusing.port}"] * 3
        done = probe("run", "--accept", "-e", "tcp", "--config", str(config), "--db", str(db), *urls)
    assert done.returncode == 0, done.stderr
    assert not db.with_name("probe.db-wal").exists() and not db.with_name("probe.db-shm").exists()
    return db


def read_only_commands(db: Path, config: Path, out: Path) -> list[list[str]]:
    return [
        ["results", "--db", str(db), "--config", str(config)],
        ["export", "--db", str(db), "--config", str(config), "--out", str(out)],
        ["verify", str(db)],
    ]


def check_outputs(results: str, exported: str, verified: str) -> None:
    assert results.count("connection_refused") == 3
    assert len(exported.splitlines()) == 3
    assert verified.startswith("verified:") and "3 records" in verified


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare(1)")
def test_results_export_and_verify_work_on_a_read_only_mount(measured_db: Path, config: Path, tmp_path: Path) -> None:
    mount = tmp_path / "stick"
    mount.mkdir()
    out = tmp_path / "out.jsonl"
    commands = read_only_commands(mount / "probe.db", config, out)
    python = f"{sys.executable} -m probe"
    script = "\n".join(
        [
            "set -e",
            f"mount -t tmpfs -o size=64m tmpfs {mount}",
            f"cp {measured_db} {mount}/probe.db",
            f"mount -o remount,ro {mount}",
            f"! touch {mount}/probe.db-shm 2>/dev/null",  # truly read-only, even for root
            *(f"{python} {' '.join(command)} > {tmp_path}/{index}.out" for index, command in enumerate(commands)),
            f"ls -a {mount} > {tmp_path}/listing",
        ]
    )
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    if done.returncode != 0 and "mount" in done.stderr and "ermission" in done.stderr:
        pytest.skip(f"cannot mount here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    check_outputs((tmp_path / "0.out").read_text(), out.read_text(), (tmp_path / "2.out").read_text())
    assert (tmp_path / "listing").read_text().split() == [".", "..", "probe.db"]  # nothing made beside it


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="probe-ro-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for child in path.rglob("*"):
            if child.is_dir():
                child.chmod(0o755)
        shutil.rmtree(path)


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv(1)")
def test_results_export_and_verify_work_for_a_user_who_may_not_write(
    measured_db: Path, config: Path, world_readable_dir: Path
) -> None:
    as_nobody = ("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups")
    if probe("--version", prefix=as_nobody).returncode != 0:
        pytest.skip("an unprivileged user cannot run this checkout's interpreter")
    stick = world_readable_dir / "stick"
    stick.mkdir()
    shutil.copy(measured_db, stick / "probe.db")
    shutil.copy(config, world_readable_dir / "probe.toml")
    out_dir = world_readable_dir / "out"
    out_dir.mkdir()
    os.chown(out_dir, NOBODY, NOBODY)
    (stick / "probe.db").chmod(0o444)
    stick.chmod(0o555)
    outputs = []
    for command in read_only_commands(stick / "probe.db", world_readable_dir / "probe.toml", out_dir / "m.jsonl"):
        done = probe(*command, prefix=as_nobody)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    check_outputs(outputs[0], (out_dir / "m.jsonl").read_text(), outputs[2])
    assert sorted(path.name for path in stick.iterdir()) == ["probe.db"]


def test_a_streamed_list_reports_every_bad_row_and_keeps_them_with_the_run(tmp_path: Path, config: Path) -> None:
    listing = tmp_path / "list.csv"
    with tcp_refusing_port() as refusing:
        good = f"http://127.0.0.1:{refusing.port}/"
        listing.write_bytes(
            b"url,category_code,category_description,date_added,source,notes\n"
            + f"{good},NEWS,News,2026-01-01,t,\n".encode()
            + b"ftp://x/,NEWS,News,2026-01-01,t,\n"
            + b"\xff\xfe not text,NEWS,News,2026-01-01,t,\n"
            + b"too,few\n"
            + f"{good}?2,NEWS,News,2026-01-01,t,\n".encode()
        )
        db = tmp_path / "probe.db"
        done = probe("run", "--accept", "--config", str(config), "--db", str(db), "--list", str(listing))
    assert done.returncode == 0, done.stderr
    assert "2 of 2 measured" in done.stdout
    for line in ("line 3: scheme must be http or https", "line 4: not UTF-8 text", "line 5: expected 6 columns"):
        assert line in done.stderr
    problems = sqlite3.connect(db).execute("select problems from runs").fetchone()[0]
    assert "line 3" in problems and "line 4" in problems and "line 5" in problems
