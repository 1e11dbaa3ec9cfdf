"""A refused record never silences a probe: quarantine, heartbeats first, chain epochs, shared size limits.

Every test runs a real collector on loopback (in a thread, or `probe collector serve` as a process).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from support.unattended import fill, probe_identity, write_toml

from probe import consent
from probe.cli.main import cli
from probe.collector import registry
from probe.collector.service import Limits, running_collector
from probe.config import Config, UploadSection
from probe.daemon import heartbeat
from probe.identity import Identity, key_path_for
from probe.integrity.verify import verify_database
from probe.limits import CUT_ANNOTATION, INPUT_CHARS, MAX_BODY_BYTES
from probe.report.build import chain_rows
from probe.storage import Database, open_database
from probe.storage.chain import record_hash
from probe.storage.columns import CHAIN_RECORD_COLUMNS as RECORD_COLUMNS
from probe.storage.own_chain import local_chain_tail
from probe.upload.quarantine import quarantine_count, quarantined
from probe.upload.queue import queued
from probe.upload.status import queue_status
from probe.upload.uploader import make_session, retry_quarantined, upload_pending

SERVE_SECONDS = 20.0


def settings(url: str, **values: Any) -> UploadSection:
    return UploadSection.model_validate({"enabled": True, "url": url, "timeout": 10, **values})


def register(path: Path, identity: Identity) -> None:
    db = open_database(path)
    registry.register(db, identity.public_key_b64)
    db.close()


def column(path: Path, sql: str) -> list[Any]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute(sql)]
    finally:
        conn.close()


def last_record(db: Database) -> dict[str, Any]:
    names = ", ".join(RECORD_COLUMNS)
    values = db.db.conn.execute(f"select {names} from measurements order by chain_seq desc").fetchone()
    return dict(zip(RECORD_COLUMNS, values, strict=True))


def append_unchecked(db: Database, template: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """Chain a copy of ``template`` (the last record) with ``changes``, as a probe from before the
    shared limits did: nothing cut. Returns the record."""
    conn = db.db.conn
    names = ", ".join(RECORD_COLUMNS)
    last = template or last_record(db)
    seq, prev = local_chain_tail(conn)
    row = {**last, **changes}
    row.update(chain_seq=seq + 1, chain_prev=prev, chain_hash=record_hash(seq + 1, prev, row))
    with conn:
        conn.execute(
            f"insert into measurements ({names}) values ({', '.join('?' for _ in RECORD_COLUMNS)})",
            [row[name] for name in RECORD_COLUMNS],
        )
    return row


def heartbeats(db: Database, count: int) -> list[str]:
    """``count`` finished rounds (the daemon's heartbeat rows); their ids."""
    ids = []
    for number in range(count):
        round_id = f"round-{number:03d}-{os.urandom(4).hex()}"
        started = f"2026-12-01T00:{number:02d}:00.000000Z"
        heartbeat.start_round(db, round_id=round_id, group="web", experiment="tcp", started_at=started)
        heartbeat.finish_round(db, round_id, finished_at=started, status=heartbeat.FINISHED, targets=3, measured=3)
        ids.append(round_id)
    return ids


@pytest.fixture
def probe(tmp_path: Path) -> Iterator[tuple[Database, Identity]]:
    db = open_database(tmp_path / "probe" / "probe.db")
    yield db, probe_identity(db)
    db.close()


def test_a_70_kb_input_among_400_records_and_10_heartbeats_is_quarantined_and_the_rest_delivered(  # type: ignore[no-untyped-def]
    probe, tmp_path: Path
) -> None:
    db, identity = probe
    good = fill(db, 200)
    bad = append_unchecked(db, id="f" * 32, input="http://example.org/" + "a" * 70_000)  # record 201
    good += fill(db, 200)
    rounds = heartbeats(db, 10)
    log: list[str] = []
    collector = tmp_path / "collector.db"
    with running_collector(collector, log=log.append) as server, make_session(settings(server.url)) as session:
        register(collector, identity)
        report = upload_pending(db, identity, settings(server.url), session)
    assert report.error is None and report.left == 0
    assert (report.stored, report.quarantined, report.in_quarantine) == (400, 1, 1)
    assert sorted(column(collector, "select id from measurements")) == sorted(good)
    assert set(rounds) <= set(column(collector, "select id from rounds"))
    (held,) = quarantined(db, server.url)
    assert (held.kind, held.key, held.measurement_id, held.status) == ("measurement", "201", bad["id"], None)
    assert "a collector would refuse it" in held.error and "input" in held.error
    assert log and not [line for line in log if "refused a batch" in line]  # the probe knew: nothing was refused
    # The collector's chain verifies; the quarantined record is named as withheld, not hidden.
    verification = verify_database(collector)
    assert verification.ok, verification.describe()
    assert "1 withheld" in verification.describe() and "201" in verification.describe()


def test_a_record_only_the_collector_refuses_is_found_by_halving_the_batch(probe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe
    good = fill(db, 150)
    big = append_unchecked(db, id="b" * 32, test_keys=json.dumps({"body": "b" * (1 << 20)}))  # record 151
    good += fill(db, 150)
    log: list[str] = []
    collector = tmp_path / "collector.db"
    with running_collector(collector, limits=Limits(max_body_bytes=1 << 20), log=log.append) as server:
        register(collector, identity)
        upload = settings(server.url, batch_size=100)
        with make_session(upload) as session:
            report = upload_pending(db, identity, upload, session)
    assert report.error is None and (report.stored, report.quarantined, report.left) == (300, 1, 0)
    assert sorted(column(collector, "select id from measurements")) == sorted(good)
    assert [(item.key, item.measurement_id, item.status) for item in quarantined(db, server.url)] == [
        ("151", big["id"], 413)
    ]
    assert 1 <= server.stats.refused <= 8  # 413s: 100 records halved down to the one, not each sent alone
    verification = verify_database(collector)
    assert verification.ok and "1 withheld" in verification.describe(), verification.describe()


def test_a_bundle_carries_a_refused_record_on_a_line_of_its_own(probe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe
    good = fill(db, 4)
    append_unchecked(db, id="a" * 32, input="http://example.org/" + "a" * 70_000)
    good += fill(db, 4)
    assert db.path is not None
    out = tmp_path / "handover.jsonl"
    config = write_toml(tmp_path / "bundle.toml", "[upload]\nbatch_size = 100\n")
    runner = CliRunner()
    written = runner.invoke(cli, ["bundle", "--config", str(config), "--db", str(db.path), "--out", str(out)])
    assert written.exit_code == 0, written.output
    collector = tmp_path / "collector.db"
    register(collector, identity)
    imported = runner.invoke(cli, ["collector", "import", "--db", str(collector), str(out)])
    assert "8 measurements stored" in imported.output and "1 refused" in imported.output
    assert "line 2: not a valid batch" in imported.output
    assert sorted(column(collector, "select id from measurements")) == sorted(good)


def test_a_chain_whose_only_record_is_withheld_is_still_named_at_the_collector(probe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe
    fill(db, 1)
    template = last_record(db)
    db.db.execute("delete from measurements")  # a probe whose first record is the refused one
    db.db.conn.commit()
    bad = append_unchecked(db, template, id="9" * 32, input="http://example.org/" + "z" * 70_000)
    assert bad["chain_seq"] == 1
    collector = tmp_path / "collector.db"
    with running_collector(collector) as server, make_session(settings(server.url)) as session:
        register(collector, identity)
        report = upload_pending(db, identity, settings(server.url), session)
    assert report.error is None and (report.stored, report.quarantined) == (0, 1)
    verification = verify_database(collector)
    assert verification.ok and "0 records (seq 1-1), 1 withheld" in verification.describe(), verification.describe()


def test_heartbeats_go_before_any_measurement(probe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe
    fill(db, 30)
    rounds = heartbeats(db, 10)
    collector = tmp_path / "collector.db"
    with running_collector(collector) as server, make_session(settings(server.url, batch_size=10)) as session:
        register(collector, identity)
        first = upload_pending(db, identity, settings(server.url, batch_size=10), session, max_batches=1)
        assert first.heartbeats == 11 and first.stored == 0 and first.left == 30  # 10 rounds and the run
        assert set(rounds) <= set(column(collector, "select id from rounds"))
        rest = upload_pending(db, identity, settings(server.url, batch_size=10), session)
    assert rest.stored == 30 and rest.heartbeats == 0 and rest.left == 0


def test_refusal_of_the_probe_itself_quarantines_nothing(probe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe
    fill(db, 5)
    with running_collector(tmp_path / "collector.db") as server, make_session(settings(server.url)) as session:
        refused = upload_pending(db, identity, settings(server.url), session)  # not registered: 403
        assert refused.status == 403 and refused.quarantined == 0 and quarantine_count(db) == 0
        assert queued(db, server.url) == 5


def test_collector_that_refuses_even_an_empty_batch_gets_nothing_quarantined(probe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe
    fill(db, 5)
    collector = tmp_path / "collector.db"
    # A collector that takes no batch at all (here: bodies of at most 100 bytes; say, a newer protocol).
    with running_collector(collector, limits=Limits(max_body_bytes=100)) as server:
        register(collector, identity)
        with make_session(settings(server.url)) as session:
            report = upload_pending(db, identity, settings(server.url), session)
    assert report.status == 413 and report.quarantined == 0 and quarantine_count(db) == 0
    assert queued(db, server.url) == 5


def test_record_too_large_for_a_collector_is_quarantined_then_sent_again_after_the_fix(  # type: ignore[no-untyped-def]
    probe, tmp_path: Path
) -> None:
    db, identity = probe
    fill(db, 3)
    keys = json.dumps({"body": "b" * 200_000})
    big = append_unchecked(db, id="e" * 32, test_keys=keys)  # record 4: about 200 KB
    fill(db, 3)
    collector = tmp_path / "collector.db"
    with running_collector(collector, limits=Limits(max_body_bytes=128 << 10)) as small:
        register(collector, identity)
        with make_session(settings(small.url)) as session:
            report = upload_pending(db, identity, settings(small.url), session)
        url = small.url
    assert (report.stored, report.quarantined, report.left) == (6, 1, 0)
    assert [item.status for item in quarantined(db, url)] == [413]
    # Every later heartbeat counts what is in quarantine, and the collector sees it.
    (round_id,) = heartbeats(db, 1)
    assert column(db.path, f"select quarantined from rounds where id = '{round_id}'") == [1]  # type: ignore[arg-type]
    # The operator raises the cap (the same port, the default limits): the record is sent again.
    host, port = url.removeprefix("http://").split(":")
    with running_collector(collector, host, int(port)) as server, make_session(settings(server.url)) as session:
        again = upload_pending(db, identity, settings(server.url), session)
        assert again.heartbeats == 1 and quarantine_count(db) == 1  # not re-sent by itself
        retried = retry_quarantined(db, identity, settings(server.url), session)
    assert retried.error is None and (retried.released, retried.stored, retried.in_quarantine) == (1, 1, 0)
    assert big["id"] in column(collector, "select id from measurements")
    assert column(collector, f"select quarantined from rounds where id = '{round_id}'") == [1]
    listing = CliRunner().invoke(cli, ["collector", "probes", "--db", str(collector)])
    assert listing.exit_code == 0 and "quarantined" in listing.output
    assert listing.output.splitlines()[-1].split()[-1] == "1"  # what the probe's last heartbeat said
    verification = verify_database(collector)
    assert verification.ok and "withheld" not in verification.describe()
    assert [chain.records for chain in verification.chains] == [7]


def test_database_made_again_with_the_same_key_is_delivered_under_a_new_epoch(tmp_path: Path) -> None:
    path = tmp_path / "probe" / "probe.db"
    collector = tmp_path / "collector.db"
    db = open_database(path)
    first = fill(db, 5)
    identity = probe_identity(db)
    with running_collector(collector) as server, make_session(settings(server.url)) as session:
        register(collector, identity)
        assert upload_pending(db, identity, settings(server.url), session).stored == 5
        db.close()
        for name in ("probe.db", "probe.db-wal", "probe.db-shm"):
            (path.parent / name).unlink(missing_ok=True)
        assert key_path_for(path).exists()  # the key stays: the same probe
        db = open_database(path)
        second = fill(db, 4)
        heartbeats(db, 2)
        assert probe_identity(db).probe_id == identity.probe_id
        report = upload_pending(db, identity, settings(server.url), session)
        assert report.error is None and (report.stored, report.quarantined, report.left) == (4, 0, 0)
        # Sent again from scratch (acknowledgements lost): stored once per probe, epoch and seq.
        db.db.execute("delete from upload_acks")
        db.db.conn.commit()
        again = upload_pending(db, identity, settings(server.url), session)
        assert (again.stored, again.duplicates) == (0, 4)
    db.close()
    assert sorted(column(collector, "select id from measurements")) == sorted(first + second)
    epochs = column(collector, "select distinct chain_epoch from measurements")
    assert len(epochs) == 2
    assert column(collector, "select count(*) from chain_heads") == [2]  # one head per epoch at seq 4/5
    verification = verify_database(collector)
    assert verification.ok and sorted(chain.records for chain in verification.chains) == [4, 5]
    # The report's chain table names each epoch's own head, not the other epoch's record at that seq.
    conn = sqlite3.connect(collector)
    rows = chain_rows(conn, verification)
    for row, chain in zip(rows, verification.chains, strict=True):
        (expected,) = conn.execute(
            "select chain_hash from measurements where chain_epoch = ? and chain_seq = ?", (chain.epoch, chain.last_seq)
        ).fetchone()
        assert row.head_hash == row.signed_hash == expected
    conn.close()


# --- size limits ----------------------------------------------------------------------------


def test_probe_refuses_an_input_over_the_collectors_limit_before_measuring(tmp_path: Path) -> None:
    from conftest import loopback_config
    from support.dnsserver import running_dns_server
    from support.servers import tcp_refusing_port

    from probe.experiments import get_experiment
    from probe.runner import run_targets
    from probe.testlist import Target

    db = open_database(tmp_path / "probe.db")
    with running_dns_server({}) as dns, tcp_refusing_port() as refusing:
        good = f"127.0.0.1:{refusing.port}"
        targets = [Target(good), Target("x" * (INPUT_CHARS + 10)), Target(good)]
        summary = run_targets(get_experiment("tcp"), targets, loopback_config(dns.spec()), db)
    assert summary.done == 2
    (run,) = db.runs()
    (problem,) = json.loads(run["problems"])
    assert problem.startswith("input #2:") and "over the 65536 a collector accepts" in problem
    assert summary.refused == [problem]  # `probe run` prints it once, as a warning
    db.close()


def test_fields_over_the_limits_are_cut_at_save_and_the_cut_recorded(probe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe
    fill(db, 1)
    row = db.db.execute("select * from measurements").fetchone()
    assert row is not None
    from probe.storage.db import row_to_measurement

    names = [description[0] for description in db.db.execute("select * from measurements limit 0").description]
    measurement = row_to_measurement(dict(zip(names, row, strict=True)))
    long = measurement.model_copy(update={"id": "d" * 32, "failure": "unknown_failure: " + "z" * 100_000})
    assert db.save(long, str(dict(zip(names, row, strict=True))["run_id"])) == {"failure": len(long.failure or "")}
    saved = db.get_row("d" * 32)
    assert (
        saved is not None
        and len(saved["failure"]) == 65536
        and saved["failure"].endswith("limit shared with the collector)")
    )
    assert json.loads(saved["annotations"])[CUT_ANNOTATION] == f"failure:{len(long.failure or '')}"
    collector = tmp_path / "collector.db"
    with running_collector(collector) as server, make_session(settings(server.url)) as session:
        register(collector, identity)
        report = upload_pending(db, identity, settings(server.url), session)
    assert report.error is None and (report.stored, report.quarantined) == (2, 0)
    assert "cut at save to the shared limits: 1 measurements" in queue_status(db, server.url).describe()


def test_a_long_verdict_detail_is_cut_when_sent_not_a_reason_to_refuse_the_record(probe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe
    (first, *_) = fill(db, 3)
    db.db.execute("update measurements set blocking_detail = ? where id = ?", ["d" * 5000, first])
    db.db.conn.commit()
    collector = tmp_path / "collector.db"
    with running_collector(collector) as server, make_session(settings(server.url)) as session:
        register(collector, identity)
        report = upload_pending(db, identity, settings(server.url), session)
    assert report.error is None and (report.stored, report.quarantined) == (3, 0)
    (detail,) = column(collector, f"select blocking_detail from measurements where id = '{first}'")
    assert len(detail) == 1024 and detail.endswith("limit shared with the collector)")


def test_probe_and_collector_share_one_body_limit() -> None:
    assert Limits().max_body_bytes == MAX_BODY_BYTES
    with pytest.raises(ValueError, match="less than or equal"):
        UploadSection.model_validate({"max_batch_bytes": MAX_BODY_BYTES + 1})
    assert Config.model_validate({}).upload.max_batch_bytes <= MAX_BODY_BYTES


# --- the CLI, against `probe collector serve` as a process ------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def collector_process(db_path: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "probe", "collector", "serve", "--db", str(db_path), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVE_SECONDS
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/v1/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            raise AssertionError("the collector did not start")
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(SERVE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(SERVE_SECONDS)


def test_upload_status_and_retry_from_the_command_line(probe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe
    fill(db, 4)
    append_unchecked(db, id="c" * 32, input="http://example.org/" + "q" * 70_000)
    fill(db, 4)
    collector = tmp_path / "collector.db"
    register(collector, identity)
    with collector_process(collector) as url:
        config = write_toml(tmp_path / "probe.toml", f'[upload]\nenabled = true\nurl = "{url}"\n')
        consent.record(db, Config.model_validate({"upload": {"enabled": True, "url": url}}), how="--accept")
        assert db.path is not None
        runner = CliRunner()
        common = ["--config", str(config), "--db", str(db.path)]
        sent = runner.invoke(cli, ["upload", *common])
        assert sent.exit_code == 0, sent.output
        assert "8 measurements stored" in sent.output and "1 quarantined now" in sent.output
        status = runner.invoke(cli, ["upload", "--status", *common])
        assert status.exit_code == 0 and "quarantined: 1" in status.output
        assert f"record 5 (id {'c' * 32})" in status.output and "a collector would refuse it" in status.output
        retried = runner.invoke(cli, ["upload", "--retry-quarantined", *common])
        assert retried.exit_code == 0 and "1 in quarantine" in retried.output  # still refused: still kept
    assert len(column(collector, "select id from measurements")) == 8
