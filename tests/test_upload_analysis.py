"""The analyst gets what the probe knows: uploaded batches carry verdicts, the rounds' network contexts and the
run's network identity (batch format /2), and a collector still accepts batches of probes at format /1."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conftest import loopback_config
from support.servers import http_server, page
from support.unattended import fill, probe_identity
from test_collector_service import batches, post, register
from test_network_identity import dbip_files, helper_with

from probe.collector.service import running_collector
from probe.experiments import get_experiment
from probe.helper.ipdb import IPDatabases
from probe.integrity.signing import batch_statement
from probe.runner import run_targets
from probe.storage import Database, open_database
from probe.testlist import Target
from probe.upload.protocol import BATCH_FORMAT, encode_batch


def collector_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.execute(sql))
    finally:
        conn.close()


def send_everything(db: Database, path: Path) -> Iterator[dict[str, Any]]:
    identity = probe_identity(db)
    with running_collector(path) as server:
        register(path, identity)
        for pending in batches(db, identity):
            status, answer = post(server, encode_batch(pending.batch))
            assert status == 200, answer
            yield pending.batch


def test_batches_carry_verdicts_network_contexts_and_the_runs_network(tmp_path: Path) -> None:
    home = dbip_files(tmp_path, 64500, "Zhanaozen Test Telecom", "KZ")
    db = open_database(tmp_path / "probe" / "probe.db")
    try:
        with http_server({"/": page("<title>Guljan</title>")}) as web, helper_with(IPDatabases(*home)) as helper:
            config = loopback_config(
                "system",
                probe={"probe_asn": "auto", "probe_cc": "auto"},
                control={"url": [helper.url], "retries": 0},
                network={"domestic_controls": [web.url("/domestic")], "international_controls": [web.url("/abroad")]},
            )
            run_targets(get_experiment("web"), [Target(web.url("/"))], config, db)
        sent = list(send_everything(db, tmp_path / "collector.db"))
    finally:
        db.close()
    assert {batch["format"] for batch in sent} == {BATCH_FORMAT}
    path = tmp_path / "collector.db"
    verdicts = collector_rows(path, "select verdict, reason, network_state, probe_asn from measurements")
    assert len(verdicts) == 1 and verdicts[0][0] == "accessible" and verdicts[0][1] and verdicts[0][2] == "ok"
    assert verdicts[0][3] == "AS64500"
    runs = collector_rows(path, "select probe_asn, probe_cc, probe_network_name, network_source from runs")
    assert runs == [("AS64500", "KZ", "Zhanaozen Test Telecom", "helper")]
    contexts = collector_rows(path, "select phase, network_state from network_contexts order by phase")
    assert contexts == [("end", "ok"), ("start", "ok")]


def test_a_collector_keeps_accepting_batches_of_the_previous_version(tmp_path: Path) -> None:
    db = open_database(tmp_path / "probe" / "probe.db")
    try:
        fill(db, 3)
        identity = probe_identity(db)
        path = tmp_path / "collector.db"
        with running_collector(path) as server:
            register(path, identity)
            for pending in batches(db, identity):
                old = {
                    key: value for key, value in pending.batch.items() if key not in ("network_contexts", "signature")
                }
                old["format"] = "zhanaozen-batch/1"
                old["measurements"] = [
                    {key: value for key, value in record.items() if key not in VERDICT_KEYS}
                    for record in old["measurements"]
                ]
                old["runs"] = [
                    {key: value for key, value in run.items() if key not in ("probe_network_name", "network_source")}
                    for run in old["runs"]
                ]
                old["signature"] = identity.sign(batch_statement(old))
                status, answer = post(server, encode_batch(old))
                assert status == 200, answer
    finally:
        db.close()
    assert len(collector_rows(path, "select id from measurements")) == 3
    assert collector_rows(path, "select count(*) from runs where probe_id is not null") == [(1,)]
    assert collector_rows(path, "select count(*) from network_contexts") == [(0,)]


VERDICT_KEYS = ("verdict", "blocking", "blocking_detail", "confirmed", "reason", "network_state")
