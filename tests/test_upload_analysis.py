"""The analyst gets what the probe knows: uploaded batches carry verdicts and their deciding rules, the rounds'
network contexts and the run's network identity (batch formats /2 and /3), and a collector still accepts batches
of probes at formats /1 and /2."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import loopback_config
from support.servers import http_server, page
from support.unattended import fill, probe_identity
from test_collector_service import batches, post, register
from test_network_identity import dbip_files, helper_with

from probe.collector.service import running_collector
from probe.experiments import get_experiment
from probe.helper.ipdb import IPDatabases
from probe.runner import run_targets
from probe.storage import Database, open_database
from probe.storage.columns import VERDICT_ROW_COLUMNS
from probe.testlist import Target
from probe.upload.protocol import BATCH_FORMAT, SINCE_4, encode_batch, sign_batch
from probe.verdict import Verdict


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
    rules = collector_rows(path, "select rule, rules_version from measurements")
    assert rules == collector_rows(tmp_path / "probe" / "probe.db", "select rule, rules_version from measurements")
    assert rules[0][0] and rules[0][1]
    runs = collector_rows(path, "select probe_asn, probe_cc, probe_network_name, network_source from runs")
    assert runs == [("AS64500", "KZ", "Zhanaozen Test Telecom", "helper")]
    contexts = collector_rows(path, "select phase, network_state from network_contexts order by phase")
    assert contexts == [("end", "ok"), ("start", "ok")]


def test_a_measurement_judged_again_and_sent_again_replaces_its_verdict_at_the_collector(tmp_path: Path) -> None:
    db = open_database(tmp_path / "probe" / "probe.db")
    path = tmp_path / "collector.db"
    try:
        first, second = fill(db, 2)
        assert len(list(send_everything(db, path))) == 2  # heartbeats, then both measurements
        again = Verdict("blocked", "tcp", "tcp_reset", True, "judged again", "tcp_failure", network_state="ok")
        db.set_verdict(first, again.as_row())
        db.conn.execute("delete from upload_acks where kind = 'chain'")  # the queue sends both records again
        db.conn.commit()
        assert len(list(send_everything(db, path))) == 1
    finally:
        db.close()
    columns = ", ".join(VERDICT_ROW_COLUMNS)
    rows = dict(
        (row[0], row[1:]) for row in collector_rows(path, f"select id, {columns} from measurements order by chain_seq")
    )
    assert rows[first] == tuple(again.as_row()[column] for column in VERDICT_ROW_COLUMNS)
    assert rows[first][VERDICT_ROW_COLUMNS.index("rule")] == "tcp_failure"
    assert rows[second][0] != "blocked"
    assert collector_rows(path, "select count(*) from measurements") == [(2,)]


def previous_version(batch: dict[str, Any], version: str) -> dict[str, Any]:
    """``batch`` as a probe at ``version`` (zhanaozen-batch/1, /2 or /3) would have sent it, unsigned: without
    what /4 added (``SINCE_4``), nor what came after ``version``."""
    dropped = {"zhanaozen-batch/3": (), "zhanaozen-batch/2": RULE_KEYS}.get(version, (*VERDICT_KEYS, *RULE_KEYS))
    old = {key: value for key, value in batch.items() if key not in ("signature", *SINCE_4["batch"])}
    for where in ("runs", "rounds"):
        old[where] = [{key: value for key, value in one.items() if key not in SINCE_4[where]} for one in old[where]]
    old["format"] = version
    old["measurements"] = [
        {key: value for key, value in record.items() if key not in dropped} for record in old["measurements"]
    ]
    if version == "zhanaozen-batch/1":
        old.pop("network_contexts", None)
        old["runs"] = [
            {key: value for key, value in run.items() if key not in ("probe_network_name", "network_source")}
            for run in old["runs"]
        ]
    return old


@pytest.mark.parametrize("version", ["zhanaozen-batch/1", "zhanaozen-batch/2", "zhanaozen-batch/3"])
def test_a_collector_keeps_accepting_batches_of_the_previous_versions(tmp_path: Path, version: str) -> None:
    db = open_database(tmp_path / "probe" / "probe.db")
    try:
        fill(db, 3)
        db.conn.execute("update measurements set verdict = 'accessible', rule = 'http.same_page'")
        db.conn.commit()
        identity = probe_identity(db)
        path = tmp_path / "collector.db"
        with running_collector(path) as server:
            register(path, identity)
            for pending in batches(db, identity):
                old = previous_version(pending.batch, version)
                old["signature"] = sign_batch(identity, old)
                status, answer = post(server, encode_batch(old))
                assert status == 200, answer
    finally:
        db.close()
    assert len(collector_rows(path, "select id from measurements")) == 3
    assert collector_rows(path, "select count(*) from runs where probe_id is not null") == [(1,)]
    verdicts = collector_rows(path, "select distinct verdict, rule from measurements")
    expected = {"zhanaozen-batch/1": (None, None), "zhanaozen-batch/2": ("accessible", None)}
    assert verdicts == [expected.get(version, ("accessible", "http.same_page"))]


VERDICT_KEYS = ("verdict", "blocking", "blocking_detail", "confirmed", "reason", "network_state")
RULE_KEYS = ("rule", "rules_version", "suspected")
