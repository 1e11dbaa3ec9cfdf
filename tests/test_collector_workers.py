# ruff: noqa: F811  (pytest fixtures imported from other test modules are parameters here)
"""Several collector writers on one PostgreSQL database (``probe collector serve --workers N``): each
record stored exactly once by the ledger's unique keys, whatever the workers race on; a worker killed
mid-batch leaves nothing of it; SIGTERM stops them all within a bound. Real processes, real SIGKILLs,
a private cluster (``pgcluster``)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from click.testing import CliRunner
from support.pgcluster import pg_cluster, pg_url  # noqa: F401  (fixtures)
from support.unattended import fill, probe_identity, wait_for
from test_collector_alerts import receiver, recent  # noqa: F401  (fixtures)
from test_collector_postgres import chained_collector
from test_outages import TWITTER

from probe.cli.main import cli
from probe.collector import registry
from probe.collector.ingest import IngestError, IngestResult, ingest, parse_batch
from probe.identity import Identity
from probe.storage import Database, open_database
from probe.storage.postgres.connection import APPLICATION_NAME
from probe.storage.postgres.database import open_postgres
from probe.upload.protocol import encode_batch, upload_headers
from probe.upload.queue import mark_acked, next_batch

COLLECTOR = "http://collector.test"
RECORDS = 6


@pytest.fixture
def probe(tmp_path: Path) -> Iterator[tuple[Database, Identity, bytes]]:
    """A probe with ``RECORDS`` measurements, and its heartbeats batch (its run), taken off its queue."""
    db = open_database(tmp_path / "probe" / "probe.db")
    fill(db, RECORDS)
    identity = probe_identity(db)
    heartbeats = next_batch(db, identity, COLLECTOR, batch_size=RECORDS, max_bytes=4 << 20)
    assert heartbeats is not None and heartbeats.runs and not heartbeats.measurements
    mark_acked(db, COLLECTOR, heartbeats)
    yield db, identity, encode_batch(heartbeats.batch)
    db.close()


def records_batch(db: Database, identity: Identity, size: int) -> bytes:
    """The probe's first ``size`` records as one signed batch (not acknowledged: batches may overlap)."""
    pending = next_batch(db, identity, COLLECTOR, batch_size=size, max_bytes=4 << 20)
    assert pending is not None and len(pending.measurements) == size
    return encode_batch(pending.batch)


def registered(url: str, identity: Identity, heartbeats: bytes) -> None:
    pg = open_postgres(url)
    try:
        registry.register(pg, identity.public_key_b64)
        ingest(pg, parse_batch(heartbeats))
    finally:
        pg.close()


def stored_once(url: str) -> tuple[int, int, int]:
    """(measurements, distinct ids, ledger rows)."""
    with psycopg.connect(url) as conn:
        count, distinct = conn.execute("select count(*), count(distinct id) from measurements").fetchone() or (0, 0)
        ledger = (conn.execute("select count(*) from measurement_chain").fetchone() or (0,))[0]
    return count, distinct, ledger


def waiting(url: str) -> list[str]:
    """The application names of this database's collector connections waiting for a lock."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "select application_name from pg_stat_activity where wait_event_type = 'Lock' "
            "and datname = current_database() and application_name like %s",
            (f"{APPLICATION_NAME}%",),
        ).fetchall()
    return [row[0] for row in rows]


def hold_chain_heads(url: str) -> psycopg.Connection[Any]:
    """A transaction that keeps writers out of ``chain_heads``: a batch stops there, its records written
    but not committed (where ingest writes its last rows)."""
    conn = psycopg.connect(url)
    conn.execute("lock table chain_heads in share mode")
    return conn


def outcome(db_url: str, received: Any, into: dict[str, Any], key: str) -> None:
    pg = open_postgres(db_url)
    try:
        into[key] = ingest(pg, received)
    except IngestError as exc:
        into[key] = exc
    finally:
        pg.close()


@pytest.mark.parametrize("second_size", [3, RECORDS], ids=["same batch", "overlapping batch"])
def test_two_writers_racing_on_one_probes_records_store_each_once(probe, pg_url, second_size) -> None:  # type: ignore[no-untyped-def]
    """The first writer is stopped after writing its records, before committing; the second, given the
    same or an overlapping batch, waits for the first (its claim on the probe), then finds the first's
    records duplicates and stores only the rest; sent again, it stores nothing."""
    db, identity, heartbeats = probe
    registered(pg_url, identity, heartbeats)
    first, second = parse_batch(records_batch(db, identity, 3)), parse_batch(records_batch(db, identity, second_size))
    results: dict[str, Any] = {}
    lock = hold_chain_heads(pg_url)
    try:
        one = threading.Thread(target=outcome, args=(pg_url, first, results, "first"))
        one.start()
        assert wait_for(lambda: len(waiting(pg_url)) == 1, timeout=30), "the first writer never reached chain_heads"
        two = threading.Thread(target=outcome, args=(pg_url, second, results, "second"))
        two.start()
        assert wait_for(lambda: len(waiting(pg_url)) == 2, timeout=30), "the second writer never waited on the first"
    finally:
        lock.rollback()
        lock.close()
    one.join(30)
    two.join(30)
    assert isinstance(results["first"], IngestResult) and results["first"].stored == 3
    assert isinstance(results["second"], IngestResult), results["second"]
    assert (results["second"].stored, results["second"].duplicates) == (second_size - 3, 3)
    assert stored_once(pg_url) == (second_size, second_size, second_size)
    pg = open_postgres(pg_url)
    again = ingest(pg, second)
    pg.close()
    assert (again.stored, again.duplicates) == (0, second_size)
    assert stored_once(pg_url) == (second_size, second_size, second_size)


class Serving:
    def __init__(self, process: subprocess.Popen[bytes], log: Path, url: str) -> None:
        self.process, self.log, self.url = process, log, url

    def workers(self) -> list[int]:
        pid = self.process.pid
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]

    def post(self, body: bytes, identity: Identity, *, timeout: float = 30) -> requests.Response:
        headers = {"Content-Type": "application/json", **upload_headers(identity, body)}
        return requests.post(f"{self.url}/v1/batches", data=body, headers=headers, timeout=timeout)

    def post_until_stored(self, body: bytes, identity: Identity) -> dict[str, Any]:
        """As a probe does: sent again while the answer is 503 (busy, or a race lost); at most 100 times."""
        for _ in range(100):
            response = self.post(body, identity)
            if response.status_code != 503:
                assert response.status_code == 200, response.text
                return dict(response.json())
            time.sleep(0.05)
        raise AssertionError("still 503 after 100 tries")


@pytest.fixture
def serving(pg_url: str, tmp_path: Path) -> Iterator[Serving]:
    log = tmp_path / "collector.log"
    command = [sys.executable, "-m", "probe", "collector", "serve", "--db", pg_url, "--port", "0", "--no-alerts",
               "--workers", "2", "--stop-timeout", "3"]  # fmt: skip
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=output)
    try:
        assert wait_for(lambda: "serving http" in log.read_text() or process.poll() is not None, timeout=60)
        found = re.search(r"serving (http://\S+)/v1/batches", log.read_text())
        assert found is not None, log.read_text()
        server = Serving(process, log, found[1])
        assert wait_for(lambda: len(server.workers()) == 2, timeout=30)
        assert wait_for(lambda: _health(server.url), timeout=60), log.read_text()
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _health(url: str) -> bool:
    try:
        return requests.get(f"{url}/v1/health", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def test_two_worker_processes_sent_the_same_and_overlapping_batches_at_once_store_each_record_once(  # type: ignore[no-untyped-def]
    probe, pg_url, serving
) -> None:
    db, identity, heartbeats = probe
    registered(pg_url, identity, heartbeats)
    bodies = [records_batch(db, identity, size) for size in (2, 3, 4, RECORDS)] * 3
    answers: list[dict[str, Any]] = []
    failures: list[BaseException] = []

    def send(body: bytes) -> None:
        try:
            answers.append(serving.post_until_stored(body, identity))
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures
    assert len(answers) == len(bodies)
    assert sum(answer["stored"] for answer in answers) == RECORDS
    assert stored_once(pg_url) == (RECORDS, RECORDS, RECORDS)
    verified = CliRunner().invoke(cli, ["verify", pg_url])
    assert verified.exit_code == 0 and "verified" in verified.output, verified.output


def test_a_worker_killed_mid_batch_leaves_nothing_of_it_and_is_started_again(probe, pg_url, serving) -> None:  # type: ignore[no-untyped-def]
    db, identity, heartbeats = probe
    registered(pg_url, identity, heartbeats)
    body = records_batch(db, identity, RECORDS)
    lock = hold_chain_heads(pg_url)
    errors: list[BaseException] = []

    def send() -> None:
        try:
            serving.post(body, identity)
        except requests.RequestException as exc:  # the worker died under it
            errors.append(exc)

    client = threading.Thread(target=send)
    client.start()
    try:
        assert wait_for(lambda: len(waiting(pg_url)) == 1, timeout=30), "the batch never reached chain_heads"
        (name,) = waiting(pg_url)
        victim = int(name.split()[-1])
        assert victim in serving.workers()
        os.kill(victim, signal.SIGKILL)  # its records are written, not committed
        client.join(30)
    finally:
        lock.rollback()
        lock.close()
    assert errors, "the request of a killed worker got an answer"
    assert wait_for(lambda: stored_once(pg_url) == (0, 0, 0) and not waiting(pg_url), timeout=30)
    assert wait_for(lambda: "killed by SIGKILL" in serving.log.read_text(), timeout=15)
    assert wait_for(lambda: len(serving.workers()) == 2 and victim not in serving.workers(), timeout=30)
    answer = serving.post_until_stored(body, identity)
    assert (answer["stored"], answer["duplicates"]) == (RECORDS, 0)
    assert stored_once(pg_url) == (RECORDS, RECORDS, RECORDS)


def test_sigterm_stops_every_worker_and_kills_one_stuck_in_a_batch_within_the_stop_timeout(  # type: ignore[no-untyped-def]
    probe, pg_url, serving
) -> None:
    db, identity, heartbeats = probe
    registered(pg_url, identity, heartbeats)
    workers = serving.workers()
    body = records_batch(db, identity, 3)
    lock = hold_chain_heads(pg_url)
    try:
        client = threading.Thread(target=_quietly, args=(serving.post, body, identity))
        client.start()
        assert wait_for(lambda: len(waiting(pg_url)) == 1, timeout=30)
        began = time.monotonic()
        serving.process.send_signal(signal.SIGTERM)
        assert serving.process.wait(30) == 0
        stopped_in = time.monotonic() - began
    finally:
        lock.rollback()
        lock.close()
    client.join(30)
    assert 2.5 < stopped_in < 20, stopped_in  # --stop-timeout 3: the stuck worker waited for, then killed
    log = serving.log.read_text()
    assert "did not stop within 3 s; killed" in log and "collector: stopped" in log
    assert all(not Path(f"/proc/{pid}").exists() or _zombie(pid) for pid in workers)
    assert wait_for(lambda: stored_once(pg_url) == (0, 0, 0), timeout=30)


def test_idle_workers_stop_at_once_on_sigterm(pg_url, serving) -> None:  # type: ignore[no-untyped-def]
    workers = serving.workers()
    began = time.monotonic()
    serving.process.send_signal(signal.SIGTERM)
    assert serving.process.wait(30) == 0
    assert time.monotonic() - began < 10
    assert "did not stop" not in serving.log.read_text()
    assert all(not Path(f"/proc/{pid}").exists() or _zombie(pid) for pid in workers)


def _quietly(post: Any, *args: Any) -> None:
    with suppress(requests.RequestException):  # the worker is killed under it
        post(*args)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_workers_with_a_sqlite_collector_are_refused_in_one_line(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "probe", "collector", "serve", "--db", str(tmp_path / "c.db"), "--workers", "2"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0 and "needs a PostgreSQL database" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_the_workers_answers_are_the_collectors(probe, pg_url, serving) -> None:  # type: ignore[no-untyped-def]
    """Refusals keep their status through a worker: 403 unknown probe, 400 not JSON, 409 a rewritten record."""
    db, identity, heartbeats = probe
    body = records_batch(db, identity, 3)
    assert serving.post(body, identity).status_code == 403
    registered(pg_url, identity, heartbeats)
    garbage = b"not json"
    assert serving.post(garbage, identity).status_code == 400
    assert serving.post_until_stored(body, identity)["stored"] == 3
    altered = json.loads(body)
    altered["measurements"][0]["failure"] = "rewritten"
    assert serving.post(encode_batch(altered), identity).status_code == 422  # its hash no longer matches
    altered = json.loads(body)
    altered["measurements"][0]["verdict"] = "blocked"
    assert serving.post(encode_batch(altered), identity).status_code == 401  # the batch's own signature


def test_alerts_are_sent_from_one_process_whatever_the_number_of_workers(  # type: ignore[no-untyped-def]
    pg_url: str, tmp_path: Path, receiver, recent
) -> None:
    """The supervisor forks one alert process beside the workers: one look, each transition posted once."""
    path = tmp_path / "collector.db"
    chained_collector(path, {TWITTER: "oooo oooo", "network": "oooo ssss"}, probes=1).db.close()
    moved = CliRunner().invoke(cli, ["collector", "migrate", "--from", str(path), "--to", pg_url])
    assert moved.exit_code == 0, moved.output
    config = tmp_path / "collector.toml"
    config.write_text(
        f'[collector.alerts]\nwebhooks = ["{receiver.url}"]\ncheck_every = 0.2\nlookback = 2592000\n'
        f'key = "{tmp_path / "collector.key"}"\nstate = "{tmp_path / "alerts.db"}"\n',
        encoding="utf-8",
    )
    argv = [sys.executable, "-m", "probe", "collector", "serve", "--config", str(config), "--db", pg_url,
            "--port", "0", "--workers", "3"]  # fmt: skip
    log = tmp_path / "collector.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=output)
    try:
        assert wait_for(lambda: len(receiver.accepted()) == 1, timeout=60), log.read_text()
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        time.sleep(2)  # ten more looks: a second alert process would have posted by now
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert len(children) == 4  # three workers and one alert process
    assert len(receiver.requests) == 1 and receiver.accepted()[0]["window"]["kind"] == "network_shutdown"
    assert log.read_text().count("alert: window opened: network") == 1
