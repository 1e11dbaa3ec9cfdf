"""What a volunteer tests stays theirs: every file the probe writes is 0600 in 0700 directories, whatever the
umask; a password in the collector's URL is never stored.

Each command runs as a real process under a real umask (022, a shared computer's default, and 000, the
worst); the modes are read from the files it made, the -wal and -shm while the run is still writing.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.servers import http_server, slow_page

from probe.collector.service import running_collector
from probe.config import UploadSection, without_password
from probe.storage import open_database

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "s3cret-Pw-4711"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def probe(umask: int, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "probe", *args], capture_output=True, text=True, timeout=90, cwd=ROOT, umask=umask
    )
    assert done.returncode == 0, done.stderr
    return done


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_every_file_is_the_owners_only_and_the_upload_password_is_never_stored(tmp_path: Path, umask: int) -> None:
    data = tmp_path / "volunteer" / "data"
    port = free_port()
    config = tmp_path / "probe.toml"
    config.write_text(
        f'[probe]\ndata_dir = "{data}"\nconcurrency = 2\n[dns]\nresolvers = ["udp://127.0.0.1:9"]\n'
        f'[upload]\nenabled = true\nurl = "http://volunteer:{PASSWORD}@127.0.0.1:{port}/"\ntimeout = 10\n',
        encoding="utf-8",
    )
    listing = tmp_path / "list.txt"
    with http_server({"/": slow_page(0.4)}) as web:
        listing.write_text("".join(f"http://127.0.0.1:{web.port}/?n={n}\n" for n in range(8)), encoding="utf-8")
        run = subprocess.Popen(
            [sys.executable, "-m", "probe", "run", "--accept", "--config", str(config), "--list", str(listing)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            umask=umask,
        )
        try:
            deadline = time.monotonic() + 60
            while not (data / "probe.db-wal").exists() or not (data / "probe.db-shm").exists():
                assert run.poll() is None and time.monotonic() < deadline
                time.sleep(0.02)
            # Mid-run, as another user of the machine would look.
            written_mid_run = {name: mode(data / name) for name in ("probe.db", "probe.db-wal", "probe.db-shm")}
        finally:
            _, err = run.communicate(timeout=90)
    assert run.returncode == 0, err
    assert written_mid_run == dict.fromkeys(written_mid_run, 0o600)

    key = probe(umask, "identity", "--config", str(config)).stdout.split("public key:")[1].split()[0]
    out = tmp_path / "out"
    out.mkdir()
    probe(umask, "export", "--config", str(config), "--out", str(out / "m.jsonl"))
    probe(umask, "export", "--config", str(config), "--format", "csv", "--out", str(out / "m.csv"))
    probe(umask, "export", "--config", str(config), "--format", "parquet", "--out", str(out / "parquet"))
    probe(umask, "report", "--config", str(config), "--out", str(out / "report.html"))
    probe(umask, "bundle", "--config", str(config), "--out", str(out / "probe.bundle"))
    collector_db = tmp_path / "collector" / "db" / "collector.db"
    probe(umask, "collector", "register", "--db", str(collector_db), key)
    with running_collector(collector_db, port=port):
        sent = probe(umask, "upload", "--config", str(config))
    assert "8" in sent.stdout + sent.stderr

    directories = [data, data.parent, collector_db.parent, collector_db.parent.parent, out / "parquet"]
    directories += [path for path in (out / "parquet").iterdir()]
    assert {str(path): mode(path) for path in directories} == {str(path): 0o700 for path in directories}
    files = [data / "probe.db", data / "probe.key", data / "probe.db.lock", collector_db]
    files += [path for path in out.rglob("*") if path.is_file()]
    assert len(files) == 4 + 5  # and jsonl, csv, report, bundle, one parquet day
    assert {str(path): mode(path) for path in files} == {str(path): 0o600 for path in files}

    # The password reached the collector's URL, and nowhere on disk: not in runs.config, the consent
    # record, the upload marks, nor the collector's database.
    for path in [data / "probe.db", collector_db, *files]:
        assert PASSWORD.encode() not in path.read_bytes(), path
    assert b"volunteer:**********@127.0.0.1" in (data / "probe.db").read_bytes()


def test_a_password_in_the_collector_url_is_masked_wherever_the_config_is_written() -> None:
    upload = UploadSection(enabled=True, url=f"https://probe7:{PASSWORD}@[2001:db8::1]:8443/kz/")
    assert upload.url is not None and PASSWORD in upload.url  # used to send
    dumped = upload.model_dump_json()
    assert PASSWORD not in dumped and "probe7:**********@[2001:db8::1]:8443/kz/" in dumped
    assert upload.public_url == "https://probe7:**********@[2001:db8::1]:8443/kz/"
    assert without_password("http://127.0.0.1:8471/") == "http://127.0.0.1:8471/"


def test_passwords_an_older_version_stored_are_masked_at_the_next_open(tmp_path: Path) -> None:
    path = tmp_path / "probe.db"
    db = open_database(path)
    url = f"http://volunteer:{PASSWORD}@127.0.0.1:8471"
    config = {"upload": {"enabled": True, "url": url + "/"}, "control": {"url": [url + "/helper"]}}
    with db.db.conn:  # what older versions wrote
        db.db.conn.execute(
            "insert into runs (id, started_at, status, config) values ('r1', '2026-11-01', 'finished', ?)",
            (json.dumps(config),),
        )
        db.db.conn.execute(
            "insert into consent (text_version, text_sha256, accepted_at, how, upload_url) "
            "values ('1', 'x', '2026-11-01', '--accept', ?)",
            (url,),
        )
        db.db.conn.execute(
            "insert into upload_acks (collector, kind, key, state, acked_at) values (?, 'chain', '', '5', 'now')",
            (url,),
        )
        db.db.conn.execute("delete from schema_migrations where version = 10")
    db.close()
    assert PASSWORD.encode() in path.read_bytes()
    open_database(path).close()
    assert PASSWORD.encode() not in path.read_bytes()
    conn = sqlite3.connect(path)
    masked = "http://volunteer:**********@127.0.0.1:8471"
    assert json.loads(conn.execute("select config from runs").fetchone()[0])["upload"]["url"] == masked + "/"
    assert conn.execute("select upload_url from consent").fetchone()[0] == masked
    assert conn.execute("select collector, state from upload_acks").fetchall() == [(masked, "5")]
