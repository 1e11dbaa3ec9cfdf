"""SQLite's list of ways to corrupt a database, held against the probe: sync, mmap, copies of SQLite, network mounts."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from probe.storage import filesystem, open_database
from probe.storage.filesystem import mount_type, network_filesystem

ROOT = Path(__file__).resolve().parent.parent


def test_every_connection_syncs_each_commit_and_maps_no_memory(tmp_path: Path) -> None:
    db = open_database(tmp_path / "probe.db")
    try:
        assert db.conn.execute("pragma synchronous").fetchone() == (2,)  # FULL: a commit survives a power cut
        assert db.conn.execute("pragma mmap_size").fetchone() == (0,)
        assert db.conn.execute("pragma journal_mode").fetchone() == ("wal",)
    finally:
        db.close()


MOUNTS = r"""22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
41 27 0:40 / /home/volunteer/shared rw,relatime - nfs4 server:/export rw,vers=4.2
42 41 8:17 / /home/volunteer/shared/usb rw,relatime - vfat /dev/sdb1 rw
43 27 0:44 / /mnt/my\040box rw,nosuid - fuse.sshfs box:/data rw
"""


@pytest.mark.parametrize(
    ("directory", "expected"),
    [
        ("/home/volunteer/measurements", None),
        ("/home/volunteer/shared", "nfs4"),
        ("/home/volunteer/shared/probe", "nfs4"),
        ("/home/volunteer/shared/usb", None),  # a local disk mounted inside the share
        ("/home/volunteer/sharedness", None),  # a name that only starts like the mount point
        ("/mnt/my box/probe", "fuse.sshfs"),
    ],
)
def test_a_network_mount_is_told_from_a_local_one(directory: str, expected: str | None) -> None:
    assert network_filesystem(Path(directory) / "probe.db", MOUNTS) == expected


def test_the_innermost_mount_decides() -> None:
    assert mount_type(Path("/home/volunteer/shared/usb/x"), MOUNTS) == "vfat"
    assert mount_type(Path("/etc"), MOUNTS) == "ext4"


def test_a_database_on_a_network_filesystem_is_opened_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    mounts = tmp_path / "mountinfo"
    mounts.write_text(f"27 1 8:1 / / rw - ext4 /dev/sda1 rw\n41 27 0:40 / {tmp_path} rw - nfs4 s:/e rw\n")
    monkeypatch.setattr(filesystem, "MOUNTINFO", mounts)
    with caplog.at_level(logging.WARNING, logger="probe.storage"):
        open_database(tmp_path / "probe.db").close()
    assert any("network filesystem (nfs4)" in record.getMessage() for record in caplog.records)


def test_this_machines_disk_is_not_taken_for_a_network_filesystem(tmp_path: Path) -> None:
    assert network_filesystem(tmp_path / "probe.db") is None


ONE_SQLITE = """
import importlib, sys
from pathlib import Path

# Every native library a command may load, then a database opened: all of them in one process.
for name in ("pyarrow", "pyarrow.parquet", "psycopg", "maxminddb", "cryptography.hazmat.primitives.asymmetric.ed25519",
             "scapy.all", "probe.cli.main", "probe.collector.service", "probe.export.parquet", "probe.report"):
    try:
        importlib.import_module(name)
    except ImportError as exc:
        print("missing", name, exc, file=sys.stderr)
from probe.storage import open_database
db = open_database(sys.argv[1])
mapped = sorted({line.split(maxsplit=5)[5].strip() for line in open("/proc/self/maps") if len(line.split()) >= 6})
with_sqlite = [path for path in mapped if Path(path).is_file() and b"SQLite format 3" in Path(path).read_bytes()]
print("\\n".join(with_sqlite))
"""


def test_one_copy_of_sqlite_serves_every_library_the_probe_loads(tmp_path: Path) -> None:
    """Two copies of SQLite in one process do not see each other's locks (SQLite's own list, 2.3)."""
    done = subprocess.run(
        [sys.executable, "-c", ONE_SQLITE, str(tmp_path / "probe.db")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    libraries = done.stdout.split()
    assert len(libraries) == 1, f"more than one SQLite in one process: {libraries}"
