"""Erasing the newest evidence is caught: `probe verify` (a real process) on a probe's database, a collector's
database and a bundle after records were deleted with SQLite itself, the signed heads kept or not.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from support.unattended import fill, probe_identity

from probe.collector import registry
from probe.collector.service import running_collector
from probe.config import UploadSection
from probe.errors import ProbeError
from probe.identity import Identity
from probe.integrity.heads import sign_local_head
from probe.storage import open_database
from probe.upload.bundle import write_bundle
from probe.upload.uploader import make_session, upload_pending

ROOT = Path(__file__).resolve().parent.parent


def verify(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "probe", "verify", str(path)], capture_output=True, text=True, timeout=60, cwd=ROOT
    )


def erase(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    with conn:
        for statement in statements:
            conn.execute(statement)
    conn.close()


def probe_with_heads(tmp_path: Path) -> tuple[Path, Identity]:
    """30 real measurements in two runs, with a signed head after each (as the daemon signs after a round)."""
    path = tmp_path / "probe.db"
    db = open_database(path)
    identity = probe_identity(db)
    fill(db, 15)
    sign_local_head(db, identity)
    fill(db, 15)
    sign_local_head(db, identity)
    db.close()
    return path, identity


def test_an_untouched_database_verifies(tmp_path: Path) -> None:
    path, _ = probe_with_heads(tmp_path)
    done = verify(path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "30 records" in done.stdout


def test_deleting_the_newest_records_with_their_heads_kept_is_missing(tmp_path: Path) -> None:
    path, _ = probe_with_heads(tmp_path)
    erase(path, "delete from measurements where chain_seq > 15")
    done = verify(path)
    assert done.returncode == 1
    assert "MISSING: records 16-30 missing after record 15" in done.stdout


def test_deleting_every_measurement_is_missing(tmp_path: Path) -> None:
    path, _ = probe_with_heads(tmp_path)
    erase(path, "delete from measurements")
    done = verify(path)
    assert done.returncode == 1
    assert "MISSING: no record is held" in done.stdout and "records 1-30" in done.stdout


def test_deleting_every_measurement_and_every_head_is_still_missing(tmp_path: Path) -> None:
    path, _ = probe_with_heads(tmp_path)
    erase(path, "delete from measurements", "delete from chain_heads")
    done = verify(path)
    assert done.returncode == 1
    assert "MISSING: run " in done.stdout and "saved 15 measurements and 0 are held here" in done.stdout


@pytest.fixture
def collector_db(tmp_path: Path) -> Path:
    """A real collector, fed by a real upload of the probe's 30 records."""
    path, identity = probe_with_heads(tmp_path)
    collector = tmp_path / "collector.db"
    cdb = open_database(collector)
    registry.register(cdb, identity.public_key_b64)
    cdb.close()
    db = open_database(path)
    with running_collector(collector) as server:
        settings = UploadSection.model_validate({"enabled": True, "url": server.url, "timeout": 5})
        with make_session(settings) as session:
            sent = upload_pending(db, identity, settings, session)
    db.close()
    assert sent.error is None and sent.stored == 30
    return collector


def test_a_collector_whose_newest_records_were_deleted_is_missing(collector_db: Path) -> None:
    assert verify(collector_db).returncode == 0
    erase(collector_db, "delete from measurements where chain_seq > 20")
    done = verify(collector_db)
    assert done.returncode == 1
    assert "MISSING: records 21-30 missing after record 20" in done.stdout


def test_a_collector_whose_every_record_was_deleted_is_missing(collector_db: Path) -> None:
    erase(collector_db, "delete from measurements")
    done = verify(collector_db)
    assert done.returncode == 1
    assert "MISSING: no record is held" in done.stdout


def test_a_collector_whose_records_and_heads_were_deleted_is_missing(collector_db: Path) -> None:
    erase(collector_db, "delete from measurements", "delete from chain_heads")
    done = verify(collector_db)
    assert done.returncode == 1
    assert "delivered 30 measurements and 0 are held here" in done.stdout


def test_an_empty_bundle_is_missing_everything_and_none_is_written(tmp_path: Path) -> None:
    empty = tmp_path / "empty.bundle"
    empty.write_bytes(b"")
    done = verify(empty)
    assert done.returncode == 1
    assert "MISSING: the bundle is empty" in done.stdout
    db = open_database(tmp_path / "fresh.db")
    with pytest.raises(ProbeError, match="nothing to bundle"):
        write_bundle(db, probe_identity(db), tmp_path / "none.bundle", since=None, batch_size=100, max_bytes=1 << 20)
    db.close()
    assert not (tmp_path / "none.bundle").exists()


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_a_bundle_whose_last_lines_were_cut_off_is_caught(tmp_path: Path, cut: int) -> None:
    """Each line is signed alone: the bundle's signed end counts them and hashes them all."""
    path, identity = probe_with_heads(tmp_path)
    db = open_database(path)
    out = tmp_path / "probe.bundle"
    write_bundle(db, identity, out, since=None, batch_size=10, max_bytes=1 << 20)
    db.close()
    assert verify(out).returncode == 0
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:-cut]))
    done = verify(out)
    assert done.returncode == 1 and "NOT verified" in done.stdout
    assert "MISSING: the bundle has no signed end" in done.stdout


def test_a_bundle_whose_last_batch_was_cut_before_its_end_is_missing(tmp_path: Path) -> None:
    path, identity = probe_with_heads(tmp_path)
    db = open_database(path)
    out = tmp_path / "probe.bundle"
    write_bundle(db, identity, out, since=None, batch_size=10, max_bytes=1 << 20)
    db.close()
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:2] + lines[3:]))  # the third batch (records 21-30) taken out, the end kept
    done = verify(out)
    assert done.returncode == 1
    assert "counts 4 batch lines and 3 are here" in done.stdout
