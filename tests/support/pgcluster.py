"""A private PostgreSQL cluster for the tests: ``initdb`` into a temporary directory, ``pg_ctl``
on a unix socket in another, torn down after the session. No TCP port is opened.

PostgreSQL refuses to run as root, so as root the cluster belongs to an unprivileged user (the
``postgres`` user Debian's package makes, or ``nobody``). Tests that need it skip, saying why,
where PostgreSQL is not installed (``.ci/run`` installs Debian's ``postgresql``).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

START_TIMEOUT = 60
_databases = itertools.count()


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _owner() -> str | None:
    """The user the cluster runs as: ourselves unless root, else an unprivileged one."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    return "nobody"


class Cluster:
    def __init__(self, bin_dir: Path, root: Path, owner: str | None, settings: dict[str, str]) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.owner = owner
        self.settings = settings
        self.data = root / "data"
        self.socket = root / "socket"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.owner is not None:
            command = ["runuser", "-u", self.owner, "--", *command]
        # From the cluster's own directory: the unprivileged user may not be able to enter the caller's.
        return subprocess.run(
            command, capture_output=True, text=True, timeout=START_TIMEOUT, check=False, cwd=self.root
        )

    def start(self) -> None:
        self.socket.mkdir()
        self.data.mkdir(mode=0o700)
        if self.owner is not None:
            entry = pwd.getpwnam(self.owner)
            for path in (self.root, self.socket, self.data):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        made = self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale")
        if made.returncode != 0:
            raise RuntimeError(f"initdb failed: {made.stderr.strip()}")
        options = f"-k {self.socket} -c listen_addresses=''" + "".join(
            f" -c {name}={value}" for name, value in self.settings.items()
        )
        started = self._run("pg_ctl", "-D", str(self.data), "-o", options, "-w", "-t", "60", "-l",
                            str(self.root / "log"), "start")  # fmt: skip
        if started.returncode != 0:
            log = (self.root / "log").read_text(errors="replace") if (self.root / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {started.stderr.strip()} {log[-2000:]}")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql:///{database}?host={self.socket}&user=postgres"

    def new_database(self) -> str:
        """A fresh, empty database on the cluster; its URL."""
        import psycopg

        name = f"test_{os.getpid()}_{next(_databases)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"create database {name}")
        return self.url(name)


TEST_SETTINGS = {"fsync": "off", "full_page_writes": "off"}
"""Durability is not what the tests test: they go faster without it."""


@contextmanager
def private_cluster(settings: dict[str, str] | None = None) -> Iterator[Cluster]:
    """A cluster of its own for the duration of the block (tests, benchmarks); ``RuntimeError`` without PostgreSQL."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql; .ci/run does)")
    root = Path(tempfile.mkdtemp(prefix="probe-pg-"))
    root.chmod(0o755)
    cluster = Cluster(bin_dir, root, _owner(), TEST_SETTINGS if settings is None else settings)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    if _bin_dir() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql; .ci/run does)")
    with private_cluster() as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> str:
    """A fresh PostgreSQL database for one test."""
    return pg_cluster.new_database()
