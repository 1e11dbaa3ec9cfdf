"""The collector's HTTP service on loopback: what it stores once, what it refuses, and that it keeps serving."""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.unattended import fill, probe_identity

from probe.cli.main import cli
from probe.collector import ingest as ingest_module
from probe.collector import registry
from probe.collector.ingest import IngestError, ingest, parse_batch
from probe.collector.service import CollectorServer, Limits, running_collector
from probe.collector.store import StoredMeanwhile, UnstorableValue
from probe.collector.store_sqlite import SqliteBatchStore
from probe.identity import Identity, load_or_create
from probe.integrity.verify import verify_database
from probe.storage import Database, open_database
from probe.storage.chain import record_hash
from probe.storage.columns import CHAIN_RECORD_COLUMNS as RECORD_COLUMNS
from probe.upload.protocol import BATCH_FORMAT, encode_batch, upload_headers
from probe.upload.queue import Pending, mark_acked, next_batch

COLLECTOR = "http://collector.test"


def post(server: CollectorServer, body: bytes, signer: Identity | None = None) -> tuple[int, dict[str, Any]]:
    """POST a batch, signed in its headers by ``signer`` (without: the format of earlier probes)."""
    headers = {"Content-Type": "application/json", **(upload_headers(signer, body) if signer else {})}
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("POST", "/v1/batches", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def batches(db: Database, identity: Identity, *, size: int = 50) -> Iterator[Pending]:
    """Every batch of the probe's queue, acknowledged as it is taken (the test posts it)."""
    while (pending := next_batch(db, identity, COLLECTOR, batch_size=size, max_bytes=4 << 20)) is not None:
        mark_acked(db, COLLECTOR, pending)
        yield pending


@pytest.fixture
def probe_db(tmp_path: Path) -> Iterator[tuple[Database, Identity]]:
    db = open_database(tmp_path / "probe" / "probe.db")
    fill(db, 5)
    yield db, probe_identity(db)
    db.close()


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[tuple[CollectorServer, Path, list[str]]]:
    path = tmp_path / "collector.db"
    log: list[str] = []
    with running_collector(path, limits=Limits(max_body_bytes=1 << 20), log=log.append) as server:
        yield server, path, log


def register(path: Path, identity: Identity) -> None:
    db = open_database(path)
    registry.register(db, identity.public_key_b64, "test probe")
    db.close()


def stored(path: Path) -> list[str]:
    return [row[0] for row in sqlite3.connect(path).execute("select id from measurements order by chain_seq")]


def test_batch_sent_twice_is_stored_once(probe_db, collector) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe_db
    server, path, _ = collector
    register(path, identity)
    heartbeats, pending = batches(db, identity)
    assert post(server, encode_batch(heartbeats.batch)) == (
        200,
        {"stored": 0, "duplicates": 0, "runs": 1, "rounds": 0, "head": None, "withheld": 0},
    )
    body = encode_batch(pending.batch)
    assert post(server, body) == (200, {"stored": 5, "duplicates": 0, "runs": 0, "rounds": 0, "head": 5, "withheld": 0})
    status, answer = post(server, body)
    assert status == 200 and answer["stored"] == 0 and answer["duplicates"] == 5
    assert sorted(stored(path)) == sorted(row["id"] for row in db.measurement_rows())
    assert verify_database(path).ok


def test_batch_from_an_unknown_probe_is_refused_and_the_service_keeps_serving(probe_db, collector) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe_db
    server, path, _ = collector
    _, pending = batches(db, identity)
    status, answer = post(server, encode_batch(pending.batch))
    assert status == 403 and "not registered" in answer["error"]
    register(path, identity)
    assert post(server, encode_batch(pending.batch))[0] == 200


def test_batch_with_a_bad_signature_is_refused(probe_db, collector) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe_db
    server, path, _ = collector
    register(path, identity)
    pending, _ = batches(db, identity)
    forged = dict(pending.batch, rounds=[])  # any change the signature does not cover...
    forged["runs"] = [dict(pending.batch["runs"][0], status="finished", measurements=99)]
    status, answer = post(server, encode_batch(forged))
    assert status == 401 and "signature" in answer["error"]
    other = load_or_create(path.parent / "other.key")  # ...or a batch signed by another key
    status, _ = post(server, encode_batch(dict(pending.batch, signature=other.sign(b"x"))))
    assert status == 401
    assert stored(path) == []
    assert post(server, encode_batch(pending.batch))[0] == 200


@pytest.mark.parametrize(
    ("field", "value", "status"),
    [
        ("verdict", "blocked", 401),  # outside the chain: covered by the signature
        ("rule", "dns.bogon", 401),
        ("chain_hash", "0" * 64, 401),  # the hash stands for the record in the signature
        ("failure", "connection_reset", 422),  # the content: covered by the hash the signature names
        ("test_keys", '{"requests": []}', 422),
    ],
)
def test_every_part_of_a_record_is_covered_by_the_batchs_signature_or_the_records_hash(  # type: ignore[no-untyped-def]
    probe_db, collector, field: str, value: str, status: int
) -> None:
    db, identity = probe_db
    server, path, _ = collector
    register(path, identity)
    heartbeats, pending = batches(db, identity)
    assert post(server, encode_batch(heartbeats.batch))[0] == 200
    altered = json.loads(encode_batch(pending.batch))
    assert altered["format"] == BATCH_FORMAT
    altered["measurements"][1][field] = value
    assert post(server, encode_batch(altered))[0] == status
    assert stored(path) == []
    assert post(server, encode_batch(pending.batch))[0] == 200


def test_probe_allowed_by_id_is_accepted_with_the_key_its_id_was_made_from(probe_db, collector, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe_db
    server, path, _ = collector
    collector_db = open_database(path)
    registry.allow(collector_db, identity.probe_id)
    collector_db.close()
    _, pending = batches(db, identity)
    impostor = load_or_create(tmp_path / "impostor.key")
    wrong_key = dict(pending.batch, public_key=impostor.public_key_b64)
    assert post(server, encode_batch(wrong_key))[0] == 401
    assert post(server, encode_batch(pending.batch))[0] == 200
    key = sqlite3.connect(path).execute("select public_key from probes where id = ?", (identity.probe_id,)).fetchone()
    assert key == (identity.public_key_b64,)


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"{not json", None, 400),
        (b"[1, 2]", None, 400),
        (b"\xff\xfe\x00garbage", None, 400),
        (b"[" * 100000 + b"]" * 100000, None, 400),
        (b'{"format": "zhanaozen-batch/1"}', None, 422),
        (b'{"format": "zhanaozen-batch/3", "probe_id": "\\ud800"}', None, 400),
        (b'{"format": "zhanaozen-batch/3", "created_at": 1e999999}', None, 422),
        (b'{"format": "zhanaozen-batch/9"}', None, 422),
        (b'"a string"', None, 400),
        (b"{}", {"Transfer-Encoding": "chunked"}, 411),
    ],
    ids=[
        "broken-json",
        "not-an-object",
        "not-utf8",
        "deeply-nested",
        "not-a-batch",
        "lone-surrogate",
        "huge-number",
        "unknown-version",
        "a-string",
        "chunked",
    ],
)
def test_malformed_input_is_refused_with_4xx_and_the_service_keeps_serving(  # type: ignore[no-untyped-def]
    probe_db, collector, body: bytes, headers: dict[str, str] | None, status: int
) -> None:
    db, identity = probe_db
    server, path, _ = collector
    register(path, identity)
    if headers and "Transfer-Encoding" in headers:
        host, port = server.host, server.port
        conn = http.client.HTTPConnection(str(host), int(port), timeout=10)
        conn.putrequest("POST", "/v1/batches")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        conn.send(b"2\r\n{}\r\n0\r\n\r\n")
        assert conn.getresponse().status == status
        conn.close()
    else:
        got, answer = post(server, body)
        assert got == status and answer["error"]
    _, pending = batches(db, identity)
    assert post(server, encode_batch(pending.batch))[0] == 200


def test_oversize_batch_is_refused_413_from_its_length_alone(probe_db, collector) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe_db
    server, path, _ = collector
    register(path, identity)
    host, port = server.host, server.port
    conn = http.client.HTTPConnection(str(host), int(port), timeout=10)
    conn.putrequest("POST", "/v1/batches")
    conn.putheader("Content-Length", str(2 << 20))  # promised, never sent: the answer must not wait for it
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413 and "over this collector's" in json.loads(response.read())["error"]
    conn.close()
    _, pending = batches(db, identity)
    assert post(server, encode_batch(pending.batch))[0] == 200


def test_record_whose_hash_does_not_match_its_content_is_refused_422(probe_db, collector) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe_db
    server, path, _ = collector
    register(path, identity)
    _, pending = batches(db, identity)
    altered = json.loads(encode_batch(pending.batch))
    altered["measurements"][2]["failure"] = None
    from probe.upload.protocol import sign_batch

    altered["signature"] = sign_batch(identity, altered)  # signed by the probe, yet inconsistent
    status, answer = post(server, encode_batch(altered))
    assert status == 422 and "record 3 " in answer["error"] and "hash" in answer["error"]
    assert stored(path) == []


@pytest.mark.parametrize("test_keys", ["[1, 2]", '{"queries": ', '"text"'])
def test_record_whose_test_keys_are_not_a_json_object_is_refused_422(probe_db, collector, test_keys) -> None:  # type: ignore[no-untyped-def]
    """test_keys is parsed once, as the measurement the record must load as: still refused, hashes and
    signatures all consistent (what only the probe's key can make)."""
    from probe.integrity.signing import head_statement
    from probe.upload.protocol import sign_batch

    db, identity = probe_db
    server, path, _ = collector
    register(path, identity)
    _, pending = batches(db, identity)
    altered = json.loads(encode_batch(pending.batch))
    last = altered["measurements"][-1]
    last["test_keys"] = test_keys
    last["chain_hash"] = record_hash(last["chain_seq"], last["chain_prev"], last)
    head = altered["head"]
    head["hash"] = last["chain_hash"]
    head["signature"] = identity.sign(head_statement(altered["probe_id"], head["seq"], head["hash"], head["signed_at"]))
    altered["signature"] = sign_batch(identity, altered)
    status, answer = post(server, encode_batch(altered), identity)
    assert status == 422 and f"record {last['chain_seq']} " in answer["error"], answer
    assert stored(path) == []


def test_a_record_sent_again_is_a_duplicate_only_if_its_content_hashes_to_the_stored_hash(probe_db, collector) -> None:  # type: ignore[no-untyped-def]
    """Duplicates are not loaded as measurements again (their content was, when stored), but their hash
    is still recomputed: other content under a stored record's hash is refused 422, as a new record is."""
    from probe.upload.protocol import sign_batch

    db, identity = probe_db
    server, path, _ = collector
    register(path, identity)
    _, pending = batches(db, identity)
    body = encode_batch(pending.batch)
    assert post(server, body, identity)[0] == 200
    status, answer = post(server, body, identity)
    assert status == 200 and answer["duplicates"] == 5 and answer["stored"] == 0
    altered = json.loads(body)
    altered["measurements"][1]["test_keys"] = "[]"  # would not load as a measurement; hash kept as stored
    altered["signature"] = sign_batch(identity, altered)
    status, answer = post(server, encode_batch(altered), identity)
    assert status == 422 and "record 2 " in answer["error"] and "hash" in answer["error"]
    assert len(stored(path)) == 5


def rewrite_from(db: Database, seq: int) -> None:
    """Rewrite the chain from record ``seq`` on, hashes and all (what only the key's holder can)."""
    conn = db.db.conn
    with conn:
        conn.execute("update measurements set failure = 'rewritten' where chain_seq = ?", (seq,))
        prev = conn.execute("select chain_hash from measurements where chain_seq = ?", (seq - 1,)).fetchone()[0]
        for (number,) in conn.execute(
            "select chain_seq from measurements where chain_seq >= ? order by chain_seq", (seq,)
        ).fetchall():
            row = db.db.execute(f"select {', '.join(RECORD_COLUMNS)} from measurements where chain_seq = ?", [number])
            record = dict(zip(RECORD_COLUMNS, row.fetchone(), strict=True))
            prev_hash = record_hash(number, prev, record)
            conn.execute(
                "update measurements set chain_prev = ?, chain_hash = ? where chain_seq = ?", (prev, prev_hash, number)
            )
            prev = prev_hash
        conn.execute("delete from upload_acks")
        conn.execute("delete from chain_heads")


def test_rewritten_chain_is_refused_409_but_a_database_made_again_is_a_new_epoch(tmp_path: Path, collector) -> None:  # type: ignore[no-untyped-def]
    server, path, _ = collector
    first = open_database(tmp_path / "a" / "probe.db")
    fill(first, 3)
    identity = probe_identity(first)
    register(path, identity)
    for pending in batches(first, identity):
        assert post(server, encode_batch(pending.batch))[0] == 200
    # The same chain (same record 1, same epoch) with another record 2: a rewritten history.
    rewrite_from(first, 2)
    _, forked = batches(first, identity)
    status, answer = post(server, encode_batch(forked.batch))
    assert status == 409 and "already stored with other content" in answer["error"]
    # The same probe (same key) with a database made again: another record 1, another epoch.
    second = open_database(tmp_path / "b" / "probe.db")
    fill(second, 2)
    for pending in batches(second, identity):
        assert post(server, encode_batch(pending.batch))[0] == 200
    verification = verify_database(path)
    assert (verification.ok and [chain.records for chain in verification.chains] == [3, 2]) or [2, 3]
    assert len({chain.epoch for chain in verification.chains}) == 2
    first.close()
    second.close()


def test_concurrent_burst_of_many_probes_loses_nothing(tmp_path: Path, collector) -> None:  # type: ignore[no-untyped-def]
    server, path, _ = collector
    bodies: list[tuple[bytes, Identity]] = []
    expected: set[str] = set()
    for number in range(6):
        db = open_database(tmp_path / f"probe{number}" / "probe.db")
        expected.update(fill(db, 20))
        identity = probe_identity(db)
        register(path, identity)
        bodies += [(encode_batch(pending.batch), identity) for pending in batches(db, identity, size=5)]
        db.close()
    answers: list[int] = []
    lock = threading.Lock()

    def send(chunk: list[tuple[bytes, Identity]]) -> None:
        for body, identity in chunk:
            status, _ = post(server, body, identity)
            with lock:
                answers.append(status)

    # Probe after probe in each round: every probe has two threads sending at once (the collector
    # takes up to Limits.per_probe bodies of one probe at a time; a probe sends one after another).
    bodies = [bodies[probe * 5 + batch] for batch in range(5) for probe in range(6)]
    threads = [threading.Thread(target=send, args=(bodies[i::12],)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert answers.count(200) == len(bodies) == 30  # per probe: its run, then 4 batches of 5
    assert set(stored(path)) == expected and len(stored(path)) == 120
    verification = verify_database(path)
    assert verification.ok and len(verification.chains) == 6


def test_analysis_commands_work_on_the_collector_database(probe_db, collector) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe_db
    server, path, _ = collector
    register(path, identity)
    for pending in batches(db, identity):
        assert post(server, encode_batch(pending.batch))[0] == 200
    runner = CliRunner()
    listing = runner.invoke(cli, ["results", "--db", str(path)])
    assert listing.exit_code == 0 and listing.output.count("connection_refused") == 5
    measurement_id = stored(path)[0]
    shown = runner.invoke(cli, ["show", "--db", str(path), measurement_id])
    assert shown.exit_code == 0 and json.loads(shown.output)["id"] == measurement_id
    exported = runner.invoke(cli, ["export", "--db", str(path)])
    assert exported.exit_code == 0 and len(exported.output.splitlines()) == 5
    probes = runner.invoke(cli, ["collector", "probes", "--db", str(path)])
    assert identity.probe_id in probes.output and "test probe" in probes.output


def test_collector_keeps_no_client_address(probe_db, collector) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe_db
    server, path, log = collector
    register(path, identity)
    for pending in batches(db, identity):
        post(server, encode_batch(pending.batch))
    post(server, b"junk")
    assert log and not any("127.0.0.1" in line for line in log)
    conn = sqlite3.connect(path)
    for table in ("probes", "runs", "rounds", "chain_heads"):
        for row in conn.execute(f"select * from {table}"):
            assert "127.0.0.1" not in json.dumps(row)


def promise_body(server: CollectorServer, headers: dict[str, str], length: int) -> tuple[int, dict[str, Any]]:
    """A head promising ``length`` bytes of body, none of them sent: answered from the head alone."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.putrequest("POST", "/v1/batches")
        for name, value in {**headers, "Content-Length": str(length)}.items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_who_sends_is_checked_from_the_head_before_the_body_is_read(probe_db, collector, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe_db
    server, path, _ = collector
    _, pending = batches(db, identity)
    body = encode_batch(pending.batch)
    status, answer = promise_body(server, upload_headers(identity, body), 500_000)
    assert status == 403 and "not registered" in answer["error"]
    register(path, identity)
    impostor = load_or_create(tmp_path / "impostor.key")
    claimed = {**upload_headers(impostor, body), "X-Probe-Id": identity.probe_id}
    status, answer = promise_body(server, claimed, 500_000)
    assert status == 401 and "X-Probe-Key" in answer["error"]
    status, answer = promise_body(server, {"X-Probe-Id": identity.probe_id}, 500_000)
    assert status == 400 and "go together" in answer["error"]
    assert post(server, body, identity)[0] == 200


def test_a_body_not_signed_by_the_probes_key_is_refused_before_it_is_parsed(probe_db, collector, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe_db
    server, path, _ = collector
    register(path, identity)
    _, pending = batches(db, identity)
    body = encode_batch(pending.batch)
    headers = {**upload_headers(identity, body), "Content-Type": "application/json"}
    altered = body.replace(b"connection_refused", b"connection_reset")
    for sent in (altered, b"[" * 100_000):  # a changed batch; bytes that would be costly to parse
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        conn.request("POST", "/v1/batches", body=sent, headers=headers)
        response = conn.getresponse()
        assert response.status == 401 and "X-Probe-Signature" in json.loads(response.read())["error"]
        conn.close()
    other = load_or_create(tmp_path / "other.key")
    register(path, other)
    status, answer = post(server, body, other)  # another registered probe carrying this probe's batch
    assert status == 401 and "X-Probe-Id" in answer["error"]
    assert stored(path) == []
    assert post(server, body, identity)[0] == 200


def test_a_batch_without_signature_headers_is_accepted_up_to_the_smaller_unsigned_limit(probe_db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe_db
    path = tmp_path / "collector.db"
    with running_collector(path, limits=Limits(legacy_max_body_bytes=8192)) as server:
        register(path, identity)
        status, answer = promise_body(server, {}, 10_000)
        assert status == 413 and "without X-Probe-Signature" in answer["error"]
        heartbeats, pending, *_ = batches(db, identity, size=1)  # an earlier probe's uploads: no headers, small
        assert post(server, encode_batch(heartbeats.batch))[0] == 200
        assert len(encode_batch(pending.batch)) < 8192
        assert post(server, encode_batch(pending.batch)) == (
            200,
            {"stored": 1, "duplicates": 0, "runs": 0, "rounds": 0, "head": 1, "withheld": 0},
        )
    assert len(stored(path)) == 1


def test_sqlite_store_finds_stored_records_among_more_ids_and_places_than_one_query_takes(probe_db, collector) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe_db
    server, path, _ = collector
    register(path, identity)
    for pending in batches(db, identity):
        assert post(server, encode_batch(pending.batch), identity)[0] == 200
    ids = stored(path)
    collector_db = open_database(path)
    store = SqliteBatchStore(collector_db)
    found = store.by_id([f"absent-{number}" for number in range(1100)] + ids)
    assert sorted(found) == sorted(ids) and {owner for owner, _ in found.values()} == {identity.probe_id}
    epoch = collector_db.conn.execute("select chain_epoch from measurements where chain_seq = 1").fetchone()[0]
    places = store.at_seq(identity.probe_id, epoch, [*range(10, 1200), 1, 5])
    assert sorted(places) == [1, 5] and places[1][0] == ids[0]
    collector_db.close()


@pytest.mark.parametrize(
    ("error", "status"),
    [(UnstorableValue("record 1: input holds a NUL character"), 422), (StoredMeanwhile("raced"), 503)],
)
def test_a_storage_error_of_the_store_is_answered_with_its_status_and_stores_nothing(  # type: ignore[no-untyped-def]
    probe_db, tmp_path, monkeypatch, error, status
) -> None:
    db, identity = probe_db
    collector_db = open_database(tmp_path / "collector.db")
    registry.register(collector_db, identity.public_key_b64)

    class FailingStore(SqliteBatchStore):
        def insert_records(self, probe_id: str, epoch: str | None, rows: Sequence[dict[str, Any]]) -> None:
            super().insert_records(probe_id, epoch, rows)
            raise error

    monkeypatch.setattr(ingest_module, "batch_store", FailingStore)
    with pytest.raises(IngestError) as refused:
        for pending in batches(db, identity):
            ingest(collector_db, parse_batch(encode_batch(pending.batch)))
    assert refused.value.status == status and str(refused.value) == str(error)
    assert collector_db.conn.execute("select count(*) from measurements").fetchone()[0] == 0
    collector_db.close()
