"""Real processes for the crash-consistency tests: a collector, probes' daemons, readers; not a test module.

Everything runs as the volunteer and the operator would run it (``python -m probe ...``), on loopback.
Every wait is bounded; every process is killed and reaped when its context ends.
"""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent.parent
ACCEPT = ("--accept",)
"""The consent a volunteer gives once (the daemon asks for it on its first start)."""
START_SECONDS = 60.0
"""How long a process may take to start on a loaded machine."""


def probe_command(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "probe", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: object, *, timeout: float, what: str, interval: float = 0.1) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def rows(db: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """A query from this (the test's) process, through its own short-lived connection, as another program would."""
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=30)
    try:
        conn.execute("pragma busy_timeout = 30000")
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        conn.close()


def daemon_config(collector_url: str, target_port: int, *, targets: int = 3, every: float = 1.0) -> str:
    """A daemon's config: rounds of ``targets`` TCP connects to a loopback port, uploads to ``collector_url``."""
    listed = ", ".join([f'"127.0.0.1:{target_port}"'] * targets)
    return f"""
[dns]
resolvers = ["udp://127.0.0.1:9"]
timeout = 1.0
[tcp]
timeout = 1.0
[network]
gateway = ""
[schedule]
first_delay = 0.0
[schedule.groups.reach]
experiment = "tcp"
every = {every}
jitter = 0.0
inputs = [{listed}]
[upload]
enabled = true
url = "{collector_url}"
every = 0.5
backoff_min = 0.2
backoff_max = 1.0
timeout = 10
batch_size = 7
"""


class Collector:
    """``probe collector serve`` on a fixed port, which can be killed and started again."""

    def __init__(self, db: Path, log: Path, config: Path | None = None) -> None:
        self.db = db
        self.config = config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "probe", "collector", "serve", "--db", str(self.db), "--port", str(self.port)]
                + (["--config", str(self.config)] if self.config else []),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )

        def healthy() -> bool:
            try:
                return requests.get(f"{self.url}/v1/health", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(healthy, timeout=START_SECONDS, what="the collector to answer")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.reap()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.reap()

    def reap(self) -> None:
        if self.process is not None:
            self.process.wait(30)
            self.process = None

    def register(self, public_key: str, name: str) -> None:
        """As an operator adds a volunteer: from another process, while the collector serves."""
        done = probe_command("collector", "register", public_key, "--db", str(self.db), "--name", name)
        assert done.returncode == 0, done.stderr

    def stored(self, probe_id: str) -> set[str]:
        """The ids of the probe's measurements the collector's database holds, as another process sees them."""
        found = rows(self.db, "select id from measurements where probe_id = ?", (probe_id,))
        return {str(row[0]) for row in found}


@dataclass
class Probe:
    """A volunteer's probe: its database, key and config, and its daemon when running."""

    home: Path
    collector_url: str
    target_port: int
    process: subprocess.Popen[bytes] | None = None
    probe_id: str = ""
    public_key: str = ""

    @property
    def db(self) -> Path:
        return self.home / "probe.db"

    @property
    def config(self) -> Path:
        return self.home / "probe.toml"

    def set_up(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        shown = probe_command("identity", "--db", str(self.db))
        assert shown.returncode == 0, shown.stderr
        fields = dict(line.split(":", 1) for line in shown.stdout.splitlines() if ":" in line)
        self.probe_id, self.public_key = fields["probe id"].strip(), fields["public key"].strip()
        self.config.write_text(daemon_config(self.collector_url, self.target_port), encoding="utf-8")

    def start(self) -> None:
        with (self.home / "daemon.log").open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "probe", "daemon", "--config", str(self.config), "--db", str(self.db), *ACCEPT],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )

    def kill(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(60)
                except subprocess.TimeoutExpired:
                    self.process.kill()
            self.process.wait(30)
            self.process = None

    def measurement_ids(self) -> set[str]:
        found = rows(self.db, "select id from measurements where coalesce(probe_id, '') = ''")
        return {str(row[0]) for row in found}

    def acked_seq(self) -> int:
        """The last chain place the collector acknowledged, as the probe recorded it."""
        found = rows(
            self.db,
            "select state from upload_acks where collector = ? and kind = 'chain' and key = ''",
            (self.collector_url,),
        )
        return int(str(found[0][0])) if found else 0

    def acked_ids(self) -> set[str]:
        """The measurements the collector acknowledged, by the probe's own record of its acks."""
        seq = self.acked_seq()
        found = rows(
            self.db, "select id from measurements where coalesce(probe_id, '') = '' and chain_seq <= ?", (seq,)
        )
        return {str(row[0]) for row in found}

    def quarantined(self) -> int:
        found = rows(self.db, "select count(*) from upload_quarantine")
        return int(str(found[0][0])) if found else 0


READER = """
import os, sqlite3, sys, time
paths, stop = sys.argv[1:-1], sys.argv[-1]
deadline = time.monotonic() + 600
reads = 0
while not os.path.exists(stop) and time.monotonic() < deadline:
    for path in paths:
        try:
            conn = sqlite3.connect(path, timeout=5)
            conn.execute("select count(*) from measurements").fetchone()
            conn.execute("select * from upload_acks").fetchall()
            conn.close()
            reads += 1
        except sqlite3.Error:
            pass  # not made yet, or locked: a reader tries again
    time.sleep(0.02)
print(reads, flush=True)
"""


@contextmanager
def reading(paths: list[Path], workdir: Path) -> Iterator[None]:
    """Another program (an analyst's tool, a backup) opening, reading and closing the databases in a loop."""
    stop = workdir / "stop-reading"
    stop.unlink(missing_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-c", READER, *map(str, paths), str(stop)], stdout=subprocess.PIPE, text=True
    )
    try:
        yield
    finally:
        stop.touch()
        try:
            out, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            out, _ = process.communicate(timeout=30)
        assert process.returncode == 0
        assert int(out.strip() or 0) > 0, "the reader never read"
