# ruff: noqa: F811  (pytest fixtures imported from other test modules are parameters here)
"""The collector on PostgreSQL (a private cluster, see ``pgcluster``): stored once, atomic, migrated,
read by the same commands with the same answers as SQLite, and moved from SQLite without loss."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.pgcluster import pg_cluster, pg_url  # noqa: F401  (fixtures)
from support.unattended import fill, probe_identity, wait_for
from test_collector_bundle import bundle, make_probe
from test_collector_service import batches, post, probe_db  # noqa: F401  (a fixture)
from test_outages import GULJAN, RIDUS, TWITTER, Series

from probe.cli.main import cli
from probe.collector import registry
from probe.collector.ingest import IngestError, ingest, parse_batch
from probe.collector.migrate import move
from probe.collector.service import CollectorServer, running_collector
from probe.collector.store import StoredMeanwhile
from probe.collector.stores import batch_store
from probe.errors import StorageError
from probe.storage import open_database
from probe.storage.chain import GENESIS, record_hash
from probe.storage.columns import VERDICT_ROW_COLUMNS
from probe.storage.postgres import schema
from probe.storage.postgres.database import PgDatabase, open_postgres
from probe.upload.protocol import encode_batch, sign_batch


@pytest.fixture
def pg(pg_url: str) -> Iterator[PgDatabase]:
    db = open_postgres(pg_url)
    yield db
    db.close()


@pytest.fixture
def pg_collector(pg_url: str) -> Iterator[tuple[CollectorServer, str]]:
    with running_collector(pg_url) as server:
        yield server, pg_url


def stored_ids(db: PgDatabase) -> list[str]:
    return [row[0] for row in db.conn.execute("select id from measurements order by probe_id, chain_seq")]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def test_batch_sent_twice_to_a_postgres_collector_is_stored_once_and_verifies(probe_db, pg_collector, pg) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe_db
    server, url = pg_collector
    registry.register(pg, identity.public_key_b64, "almaty-1")
    heartbeats, pending = batches(db, identity)
    assert post(server, encode_batch(heartbeats.batch))[1]["runs"] == 1
    body = encode_batch(pending.batch)
    assert post(server, body) == (200, {"stored": 5, "duplicates": 0, "runs": 0, "rounds": 0, "head": 5, "withheld": 0})
    status, answer = post(server, body)
    assert status == 200 and answer["stored"] == 0 and answer["duplicates"] == 5
    assert sorted(stored_ids(pg)) == sorted(row["id"] for row in db.measurement_rows())
    verified = invoke("verify", url)
    assert verified.exit_code == 0 and "verified" in verified.output and "5 records" in verified.output
    assert "almaty-1" in invoke("collector", "probes", "--db", url).output
    assert "password" not in server.writer.label


def test_measurements_land_in_the_partition_of_their_month(probe_db, pg) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe_db
    registry.register(pg, identity.public_key_b64)
    for pending in batches(db, identity):
        ingest(pg, parse_batch(encode_batch(pending.batch)))
    month = next(db.measurement_rows())["started_at"][:7]
    partition = f"measurements_{month.replace('-', '_')}"
    assert pg.conn.one(f"select count(*) from {partition}")[0] == 5
    assert pg.conn.one("select count(*) from measurements_other")[0] == 0


def test_a_refused_batch_stores_nothing_of_it(tmp_path: Path, pg) -> None:  # type: ignore[no-untyped-def]
    first = open_database(tmp_path / "a" / "probe.db")
    fill(first, 3)
    one = probe_identity(first)
    registry.register(pg, one.public_key_b64)
    for pending in batches(first, one):
        ingest(pg, parse_batch(encode_batch(pending.batch)))
    taken = pg.conn.one("select id from runs")[0]
    second = open_database(tmp_path / "b" / "probe.db")
    fill(second, 4)
    two = probe_identity(second)
    registry.register(pg, two.public_key_b64)
    _, pending = batches(second, two)
    # Its 4 records are new, but it claims the other probe's run: refused whole, after the records were written.
    claim = dict(pending.batch, runs=[{"id": taken, "status": "finished"}])
    claim["signature"] = sign_batch(two, claim)
    with pytest.raises(IngestError) as refused:
        ingest(pg, parse_batch(encode_batch(claim)))
    assert refused.value.status == 409 and "another probe" in str(refused.value)
    assert pg.conn.one("select count(*) from measurements")[0] == 3
    assert pg.conn.one("select count(*) from measurement_chain")[0] == 3
    assert pg.conn.one("select batches from probes where id = ?", (two.probe_id,))[0] == 0
    first.close()
    second.close()


def test_two_writers_storing_one_record_store_it_once_by_the_unique_key(probe_db, pg, pg_url) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe_db
    registry.register(pg, identity.public_key_b64)
    rows = list(db.measurement_rows())
    other = open_postgres(pg_url)
    first, second = batch_store(pg), batch_store(other)
    outcome: list[BaseException | None] = []

    def racing_writer() -> None:
        try:
            with second.transaction():
                second.insert_records(identity.probe_id, None, rows)  # waits on the first writer's uncommitted keys
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    with first.transaction():
        first.insert_records(identity.probe_id, None, rows)
        thread = threading.Thread(target=racing_writer)
        thread.start()
    thread.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], StoredMeanwhile)
    assert pg.conn.one("select count(*) from measurements")[0] == 5
    other.close()


def test_migrations_are_numbered_applied_once_and_a_failing_one_leaves_nothing(pg, pg_url, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    versions = [(number,) for number, _, _ in schema.MIGRATIONS]
    assert pg.conn.execute("select version from schema_migrations order by 1").fetchall() == versions
    open_postgres(pg_url).close()  # again: nothing to apply
    assert pg.conn.execute("select version from schema_migrations order by 1").fetchall() == versions
    broken = (len(versions) + 1, "a step that fails halfway", "create table half_done (a integer); select 1 / 0;")
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, broken])
    with pytest.raises(StorageError, match="division by zero"):
        open_postgres(pg_url)
    pg.conn.rollback()
    assert pg.conn.one("select to_regclass('half_done') is null")[0]
    assert pg.conn.execute("select version from schema_migrations order by 1").fetchall() == versions


def test_unreachable_database_is_one_clear_error_without_the_password() -> None:
    result = invoke("outages", "--db", "postgresql://probe:s3cret@/probes?host=/nonexistent/socket")
    assert result.exit_code != 0
    assert isinstance(result.exception, StorageError)
    assert "s3cret" not in str(result.exception) and "cannot open PostgreSQL database" in str(result.exception)


def test_a_probe_command_refuses_a_postgres_database() -> None:
    result = invoke("consent", "--db", "postgresql:///probes?host=/tmp")
    assert result.exit_code != 0 and "SQLite" in str(result.exception)


def chained_collector(path: Path, plan: dict[str, str] | None = None, probes: int = 2) -> Series:
    """Two probes' rounds (by default a block, a shutdown, a site down), chained per probe as a collector
    holds them."""
    series = Series(open_database(path))
    plan = plan or {
        TWITTER: "oooo dddodd nnnnn oooooo",
        GULJAN: "oooo oooooo nnnnn oooooo",
        RIDUS: "oooo oooooo nnnnn ooxxxo",
        "network": "oooo oooooo sssss oooooo",
    }
    names = [("a" * 32, "AS9198"), ("b" * 32, "AS21299")][:probes]
    for probe, asn in names:
        series.rounds(plan, probe=probe, asn=asn)
    conn = series.db.db.conn
    conn.execute(
        "update measurements set test_start_time = started_at, test_version = '0.4.0', report_id = 'r-' || run_id, "
        "software_name = 'zhanaozen-probe', software_version = '0.1.0'"
    )
    for probe, _ in names:
        prev = GENESIS
        rows = list(series.db.db.query("select * from measurements where probe_id = ? order by started_at", [probe]))
        for seq, row in enumerate(rows, start=1):
            hash_ = record_hash(seq, prev, row)
            conn.execute(
                "update measurements set chain_seq = ?, chain_prev = ?, chain_hash = ? where id = ?",
                (seq, prev, hash_, row["id"]),
            )
            prev = hash_
        conn.execute("insert into probes (id, name, added_how) values (?, ?, 'allow')", (probe, f"probe {probe[0]}"))
    conn.commit()
    return series


def test_a_collector_moved_to_postgres_answers_every_command_as_sqlite_did(tmp_path: Path, pg_url) -> None:
    path = tmp_path / "collector.db"
    series = chained_collector(path)
    count = series.db.conn.execute("select count(*) from measurements").fetchone()[0]
    series.db.close()
    report = move(path, pg_url)
    assert report.ok, report.describe()
    assert report.copied["measurements"] == count > 100 and "the two databases agree" in report.describe()
    again = move(path, pg_url)  # a second run copies nothing and still agrees
    assert again.ok and again.copied["measurements"] == 0
    for command in (
        ("outages", "--format", "json"),
        ("outages", "--format", "csv", "--by", "probe"),
        ("outages", "--target", "twitter.com", "--network", "AS9198", "--format", "json"),
        ("export", "--format", "csv"),
        ("export", "--format", "json"),
        ("results",),
    ):
        on_sqlite = invoke(*command, "--db", str(path))
        on_postgres = invoke(*command, "--db", pg_url)
        assert on_sqlite.exit_code == 0 and on_postgres.exit_code == 0, (command, on_postgres.output)
        assert on_postgres.output == on_sqlite.output, command
    windows = json.loads(invoke("outages", "--format", "json", "--db", pg_url).output)
    assert {window["kind"] for window in windows} >= {"targeted_block", "network_shutdown"}
    pages = {}
    for name, db in (("sqlite", str(path)), ("postgres", pg_url)):
        out = tmp_path / f"{name}.html"
        assert invoke("report", "--db", db, "--out", str(out)).exit_code == 0
        pages[name] = out.read_text(encoding="utf-8")
    last = open_database(path).conn.execute("select chain_hash from measurements order by chain_seq desc").fetchone()
    for needle in ("shutdown", "twitter.com", last[0]):
        assert needle in pages["postgres"] and needle in pages["sqlite"]
    saved = invoke("outages", "--save", "--db", pg_url)
    assert saved.exit_code == 0
    assert open_postgres(pg_url).conn.one("select count(*) from outage_windows")[0] == len(windows)


def test_verdicts_judged_again_on_postgres_agree_with_sqlite_and_are_stored(tmp_path: Path, pg_url) -> None:
    path = tmp_path / "collector.db"
    chained_collector(path).db.close()
    assert move(path, pg_url).ok
    on_sqlite = invoke("verdict", "--db", str(path), "--json")
    on_postgres = invoke("verdict", "--db", pg_url, "--json")
    assert on_postgres.exit_code == 0 and on_postgres.output == on_sqlite.output
    lines = [json.loads(line) for line in on_postgres.output.splitlines()]
    db = open_postgres(pg_url)
    columns = ", ".join(VERDICT_ROW_COLUMNS)
    stored = {row[0]: list(row[1:]) for row in db.conn.execute(f"select id, {columns} from measurements")}
    db.close()
    assert len(lines) > 100
    assert all(stored[line["id"]] == [line[column] for column in VERDICT_ROW_COLUMNS] for line in lines)


def test_moving_a_probe_database_is_refused_before_anything_is_written(probe_db, pg, pg_url) -> None:  # type: ignore[no-untyped-def]
    db, _ = probe_db
    result = invoke("collector", "migrate", "--from", str(db.path), "--to", pg_url)
    assert result.exit_code != 0 and "own probe" in str(result.exception)
    assert pg.conn.one("select count(*) from measurements")[0] == 0


def test_bundle_imported_twice_into_postgres_stores_every_measurement_once(tmp_path: Path, pg_url) -> None:
    db_path, public_key = make_probe(tmp_path)
    out = tmp_path / "handover.jsonl"
    bundle(db_path, out)
    assert invoke("collector", "register", "--db", pg_url, public_key).exit_code == 0
    first = invoke("collector", "import", "--db", pg_url, str(out))
    assert first.exit_code == 0 and "7 measurements stored" in first.output, first.output
    again = invoke("collector", "import", "--db", pg_url, str(out))
    assert again.exit_code == 0 and "0 measurements stored, 7 already there" in again.output
    db = open_postgres(pg_url)
    ids = sorted(stored_ids(db))
    db.close()
    assert ids == sorted(row["id"] for row in open_database(db_path).measurement_rows())
    assert invoke("verify", pg_url).exit_code == 0


def test_a_collector_whose_database_connection_was_dropped_stores_the_next_batch(tmp_path: Path, pg, pg_url) -> None:  # type: ignore[no-untyped-def]
    probe = open_database(tmp_path / "probe" / "probe.db")
    fill(probe, 6)
    identity = probe_identity(probe)
    registry.register(pg, identity.public_key_b64)
    collector = open_postgres(pg_url)
    sent = [parse_batch(encode_batch(pending.batch)) for pending in batches(probe, identity, size=3)]
    ingest(collector, sent[0])
    # The server ends the collector's session (as a restart or an idle timeout would).
    backend = collector.conn.one("select pg_backend_pid()")[0]
    assert pg.conn.one("select pg_terminate_backend(?)", (backend,))[0]
    wait_for(lambda: pg.conn.one("select count(*) from pg_stat_activity where pid = ?", (backend,))[0] == 0)
    with pytest.raises(StorageError):
        ingest(collector, sent[1])  # met the dropped connection: refused, nothing half-stored
    for received in sent[1:]:
        ingest(collector, received)
    assert pg.conn.one("select count(*) from measurements")[0] == 6
    collector.close()
    probe.close()
