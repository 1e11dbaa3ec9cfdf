# ruff: noqa: F811  (pytest fixtures imported from other test modules are parameters here)
"""A collector keeps each stored batch's arrival (``batch_arrivals``) in the batch's own transaction: when it was
received, when the probe made it, the span of the rounds and measurements it carried, and the upload interval it
declared; a refused batch leaves none. Real parts: a loopback collector on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from support.pgcluster import pg_cluster, pg_url  # noqa: F401  (fixtures)
from test_collector_service import post, register

from probe.collector import registry
from probe.collector.service import running_collector
from probe.identity import Identity, load_or_create
from probe.storage.postgres.database import open_postgres
from probe.upload.protocol import encode_batch
from probe.upload.queue import make_batch

ROUNDS = [
    {"id": f"r{n}", "group_name": "g", "experiment": "tcp", "started_at": f"2026-11-21T0{n}:00:00.000000Z"}
    | {"status": "finished", "every": 600.0, "run_id": f"run{n}"}
    for n in (1, 2, 3)
]
RUNS = [{"id": f"run{n}", "started_at": f"2026-11-21T0{n}:00:00.000000Z", "area": "KZ-47"} for n in (1, 2, 3)]


def two_batches_and_a_forged_one(identity: Identity, server: Any) -> None:
    first = make_batch(identity, measurements=[], runs=RUNS[:2], rounds=ROUNDS[:2], head=None, upload_every=900.0)
    second = make_batch(identity, measurements=[], runs=RUNS[2:], rounds=ROUNDS[2:], head=None, upload_every=900.0)
    forged = json.loads(encode_batch(second))
    forged["rounds"][0]["status"] = "failed"
    assert post(server, encode_batch(first))[0] == 200
    assert post(server, encode_batch(forged))[0] == 401
    assert post(server, encode_batch(second))[0] == 200


def spans_as_stored(rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    found = []
    for received, created, first, last, rounds, measurements, every in rows:
        assert received >= created  # the collector's clock, after the probe made it
        found.append((first, last, rounds, measurements, every))
    return found


EXPECTED = [
    ("2026-11-21T01:00:00.000000Z", "2026-11-21T02:00:00.000000Z", 2, 0, 900.0),
    ("2026-11-21T03:00:00.000000Z", "2026-11-21T03:00:00.000000Z", 1, 0, 900.0),
]
SELECT = (
    "select received_at, created_at, first_at, last_at, rounds, measurements, upload_every from batch_arrivals "
    "order by id"
)


def test_a_sqlite_collector_keeps_each_stored_batchs_arrival_and_span_and_none_for_a_refused_one(
    tmp_path: Path,
) -> None:
    identity = load_or_create(tmp_path / "probe.key")
    path = tmp_path / "collector.db"
    with running_collector(path) as server:
        register(path, identity)
        two_batches_and_a_forged_one(identity, server)
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(SELECT).fetchall()
        probes = conn.execute("select distinct probe_id from batch_arrivals").fetchall()
    finally:
        conn.close()
    assert spans_as_stored(rows) == EXPECTED
    assert probes == [(identity.probe_id,)]


def test_a_postgres_collector_keeps_each_stored_batchs_arrival_and_span(tmp_path: Path, pg_url: str) -> None:
    identity = load_or_create(tmp_path / "probe.key")
    with running_collector(pg_url) as server:
        pg = open_postgres(pg_url)
        try:
            registry.register(pg, identity.public_key_b64, "test probe")
        finally:
            pg.close()
        two_batches_and_a_forged_one(identity, server)
    pg = open_postgres(pg_url)
    try:
        rows = [tuple(row) for row in pg.conn.execute(SELECT).fetchall()]
    finally:
        pg.close()
    assert spans_as_stored(rows) == EXPECTED
