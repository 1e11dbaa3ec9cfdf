"""A verdict changed on the probe after a collector acknowledged its measurement reaches that collector: sent
again once per change, to every collector, after a restart too; never again once acknowledged; a refusal
quarantined, not wedging the queue; new measurements not waiting behind a long re-send; bundles too.

Every test runs a real collector on loopback (in a thread, or ``probe collector serve`` as a process)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from requests.adapters import HTTPAdapter
from support.unattended import fill, probe_identity, write_toml
from test_upload_analysis import collector_rows as rows
from test_upload_quarantine import collector_process
from test_verdict_rules import URL, keys
from test_verdict_stored import PARKED, _Recorded

from probe import consent
from probe.cli.main import cli
from probe.collector import registry
from probe.collector.service import running_collector
from probe.config import Config, UploadSection
from probe.errors import ProbeError
from probe.experiments.base import Context
from probe.identity import Identity
from probe.model import utc_now_iso
from probe.stage.verdicts import VerdictStage
from probe.storage import Database, open_database
from probe.storage.columns import VERDICT_ROW_COLUMNS
from probe.storage.migrations import MIGRATIONS
from probe.upload.bundle import verify_path, write_bundle
from probe.upload.quarantine import quarantined
from probe.upload.status import queue_status
from probe.upload.uploader import UploadReport, make_session, retry_quarantined, upload_pending
from probe.verdict import Verdict

PROCESS_SECONDS = 60.0
VERDICT_COLUMNS = ", ".join(VERDICT_ROW_COLUMNS)


class Recording(HTTPAdapter):
    """Every batch the probe posts: the chain seqs of its measurement records ([] for heartbeats)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[list[int]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        self.sent.append([int(record["chain_seq"]) for record in json.loads(body)["measurements"]])
        return super().send(request, **kwargs)

    def records(self) -> list[list[int]]:
        """The batches of records, in the order sent, and forgets them."""
        sent, self.sent = [seqs for seqs in self.sent if seqs], []
        return sent


def settings(url: str, **values: Any) -> UploadSection:
    return UploadSection.model_validate({"enabled": True, "url": url, "timeout": 10, **values})


def upload(db: Database, identity: Identity, url: str, recording: Recording, **values: Any) -> UploadReport:
    with make_session(settings(url, **values)) as session:
        session.mount("http://", recording)
        report = upload_pending(db, identity, settings(url, **values), session)
    assert report.error is None, report.describe()
    return report


def uploaded(db: Database, identity: Identity, url: str, count: int) -> Recording:
    """``count`` measurements saved and uploaded to ``url`` in one batch; the recording, emptied, for what follows."""
    recording = Recording()
    fill(db, count)
    upload(db, identity, url, recording)
    assert recording.records() == [list(range(1, count + 1))]
    return recording


def register(path: Path, identity: Identity) -> None:
    db = open_database(path)
    registry.register(db, identity.public_key_b64)
    db.close()


def verdicts(path: Path) -> dict[int, tuple[Any, ...]]:
    """Each record's verdict columns (``VERDICT_ROW_COLUMNS``), by chain seq."""
    return {row[0]: row[1:] for row in rows(path, f"select chain_seq, {VERDICT_COLUMNS} from measurements")}


def again(number: int) -> dict[str, Any]:
    """A verdict other than any stored: what judging again with new fingerprints or rules gives."""
    return Verdict("blocked", "tcp", "tcp_reset", True, f"judged again ({number})", "tcp_failure").as_row()


def as_stored(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[column] for column in VERDICT_ROW_COLUMNS)


def rejudge(db: Database, *seqs: int, number: int = 1) -> None:
    for seq in seqs:
        (measurement_id,) = db.db.conn.execute("select id from measurements where chain_seq = ?", (seq,)).fetchone()
        db.set_verdict(measurement_id, again(number))


@pytest.fixture
def probe(tmp_path: Path) -> Iterator[tuple[Database, Identity]]:
    db = open_database(tmp_path / "probe" / "probe.db")
    yield db, probe_identity(db)
    db.close()


@pytest.fixture
def collector(tmp_path: Path, probe: tuple[Database, Identity]) -> Iterator[tuple[str, Path]]:
    path = tmp_path / "collector.db"
    register(path, probe[1])
    with running_collector(path) as server:
        yield server.url, path


def test_migration_11_notes_a_changed_verdict_once_and_the_same_verdict_again_not_at_all(probe) -> None:  # type: ignore[no-untyped-def]
    db, _ = probe
    assert (11, "verdicts changed after saving, to send again to collectors that have the old one") in [
        (number, name) for number, name, _ in MIGRATIONS
    ]
    fill(db, 2)
    rejudge(db, 2)
    rejudge(db, 2)  # the same verdict again: nothing changed
    assert rows(db.path, "select chain_seq, generation from verdict_changes") == [(2, 1)]
    rejudge(db, 1)
    rejudge(db, 2, number=2)
    assert rows(db.path, "select chain_seq, generation from verdict_changes order by chain_seq") == [(1, 2), (2, 3)]


def test_a_verdict_judged_again_after_upload_replaces_the_collectors_verdict_and_rule_once(probe, collector) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe
    url, path = collector
    recording = uploaded(db, identity, url, 3)
    before = verdicts(path)
    rejudge(db, 2)
    assert queue_status(db, url).verdicts == 1
    report = upload(db, identity, url, recording)
    assert recording.records() == [[2]]
    assert (report.verdicts, report.verdicts_left, report.stored, report.duplicates) == (1, 0, 0, 1)
    assert "1 changed verdicts sent again (0 left)" in report.describe()
    after = verdicts(path)
    assert after[2] == as_stored(again(1)) and after[2][VERDICT_ROW_COLUMNS.index("rule")] == "tcp_failure"
    assert after[1] == before[1] and after[3] == before[3]
    assert rows(path, "select count(*) from measurements") == [(3,)]
    # Acknowledged: never sent again, nor when judged again to the same verdict.
    rejudge(db, 2)
    report = upload(db, identity, url, recording)
    assert recording.records() == [] and report.batches == 0 and queue_status(db, url).verdicts == 0


def test_a_verdict_judged_again_before_the_first_upload_is_sent_once(probe, collector) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe
    url, path = collector
    recording = Recording()
    fill(db, 3)
    rejudge(db, 1, 3)
    upload(db, identity, url, recording)
    upload(db, identity, url, recording)
    assert recording.records() == [[1, 2, 3]]
    assert verdicts(path)[1] == verdicts(path)[3] == as_stored(again(1))


def test_consecutive_records_judged_again_travel_together_within_the_batch_size(probe, collector) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe
    url, path = collector
    recording = uploaded(db, identity, url, 8)
    rejudge(db, 2, 3, 4, 7)
    upload(db, identity, url, recording)
    assert recording.records() == [[2, 3, 4], [7]]
    rejudge(db, 2, 3, 4, number=2)
    upload(db, identity, url, recording, batch_size=2)
    assert recording.records() == [[2, 3], [4]]
    stored = verdicts(path)
    assert [stored[seq] == as_stored(again(2)) for seq in range(1, 9)] == [False, True, True, True] + [False] * 4


def test_new_measurements_wait_behind_one_batch_of_changed_verdicts_at_most(probe, collector) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe
    url, _ = collector
    recording = uploaded(db, identity, url, 3)
    rejudge(db, 1, 3)
    fill(db, 2)
    upload(db, identity, url, recording, batch_size=1)
    assert recording.sent[0] == []  # the run of the new measurements (a heartbeat) goes first
    assert recording.records() == [[4], [1], [5], [3]]


def test_two_collectors_each_get_the_changed_verdict_once(probe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe
    fill(db, 3)
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    register(first, identity)
    register(second, identity)
    recording = Recording()
    with running_collector(first) as one, running_collector(second) as two:
        upload(db, identity, one.url, recording)
        upload(db, identity, two.url, recording)
        assert recording.records() == [[1, 2, 3], [1, 2, 3]]
        rejudge(db, 2)
        upload(db, identity, one.url, recording)
        assert recording.records() == [[2]]
        assert verdicts(first)[2] == as_stored(again(1)) and verdicts(second)[2] != as_stored(again(1))
        assert queue_status(db, two.url).verdicts == 1
        upload(db, identity, two.url, recording)
        assert recording.records() == [[2]]
        assert verdicts(second)[2] == as_stored(again(1))
        upload(db, identity, one.url, recording)
        upload(db, identity, two.url, recording)
        assert recording.records() == []


def web_database(path: Path) -> str:
    """A probe database with one web measurement of a parked page, judged and stored as the runner does (not
    blocked: nothing says it is a blockpage); its id."""
    config = Config()
    db = open_database(path)
    try:
        db.start_run({"id": "run1", "started_at": utc_now_iso(), "experiment": "web"})
        stage = VerdictStage.start(config, measure_controls=False)
        measurement = stage.judge(_Recorded(keys(requests=[PARKED])).run(URL, Context(config, "run1", utc_now_iso())))
        db.save(measurement, "run1", verdict_columns=stage.columns(measurement))
        return measurement.id
    finally:
        db.close()


def probe_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "probe", *args], capture_output=True, text=True, timeout=PROCESS_SECONDS, check=False
    )


def test_a_verdict_judged_again_by_probe_verdict_is_sent_by_the_next_process(tmp_path: Path) -> None:
    path = tmp_path / "probe" / "probe.db"
    measurement_id = web_database(path)
    db = open_database(path)
    identity = probe_identity(db)
    collector = tmp_path / "collector.db"
    register(collector, identity)
    fingerprints = tmp_path / "parked.csv"
    fingerprints.write_text(
        "name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,expected_countries,source,"
        "exp_url,notes\ntest.parked_ads,nat,,body,contains,<body>ads</body>,7,KZ,test,,the parked page\n",
        encoding="utf-8",
    )
    with collector_process(collector) as url:
        config = write_toml(tmp_path / "probe.toml", f'[upload]\nenabled = true\nurl = "{url}"\n')
        consent.record(db, Config.model_validate({"upload": {"enabled": True, "url": url}}), how="--accept")
        db.close()
        common = ["--config", str(config), "--db", str(path)]
        first = probe_command("upload", *common)
        assert first.returncode == 0 and "1 measurements stored" in first.stdout, first.stdout + first.stderr
        (old,) = rows(collector, "select verdict, confirmed, rule from measurements")
        assert old[0] != "blocked"
        # Judged again with a fingerprint of the page, in a process of its own, then sent by another.
        judged = probe_command("verdict", *common, "--fingerprints", str(fingerprints))
        assert judged.returncode == 0 and "blocked" in judged.stdout, judged.stdout + judged.stderr
        status = probe_command("upload", "--status", *common)
        assert "1 changed verdicts of measurements it has" in status.stdout, status.stdout + status.stderr
        sent = probe_command("upload", *common)
        assert sent.returncode == 0 and "1 changed verdicts sent again (0 left)" in sent.stdout, sent.stdout
        assert "0 measurements stored" in sent.stdout
        once = probe_command("upload", *common)
        assert once.returncode == 0 and "0 batches" in once.stdout and "changed verdicts" not in once.stdout
    probe_row = rows(path, f"select {VERDICT_COLUMNS} from measurements where id = '{measurement_id}'")
    assert probe_row[0][0] == "blocked"
    assert rows(collector, f"select {VERDICT_COLUMNS} from measurements") == probe_row


def test_a_collector_that_refuses_a_changed_verdict_does_not_wedge_the_queue(probe, collector) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe
    url, path = collector
    recording = uploaded(db, identity, url, 5)
    # The collector holds record 2 as another probe's: it refuses (409) any batch that carries it.
    record_2 = rows(path, "select id, probe_id from measurements where chain_seq = 2")[0]
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("update measurements set probe_id = ? where id = ?", ("0" * 32, record_2[0]))
    conn.close()
    rejudge(db, 2, 3, 5)
    fill(db, 2)
    report = upload(db, identity, url, recording)
    assert (report.quarantined, report.verdicts, report.stored, report.left, report.verdicts_left) == (1, 2, 2, 0, 0)
    sent = recording.records()
    assert sent[0] == [6, 7] and sent.count([2, 3]) == 1 and [2] in sent and [3] in sent and [5] in sent
    (held,) = quarantined(db, url)
    assert (held.kind, held.key, held.status, held.measurement_id) == ("verdict", "2", 409, record_2[0])
    assert "the changed verdict of record 2" in held.describe()
    stored = verdicts(path)
    assert stored[3] == stored[5] == as_stored(again(1)) and stored[2] != as_stored(again(1))
    # Quarantined: not sent again by itself; judged again, it is tried again (and refused again).
    assert upload(db, identity, url, recording).batches == 0 and recording.records() == []
    rejudge(db, 2, number=2)
    report = upload(db, identity, url, recording)
    assert recording.records() == [[2]] and report.quarantined == 1
    assert quarantined(db, url)[0].attempts == 2
    # After a fix at the collector, the retry delivers it and it leaves quarantine, acknowledged.
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("update measurements set probe_id = ? where id = ?", (record_2[1], record_2[0]))
    conn.close()
    with make_session(settings(url)) as session:
        retried = retry_quarantined(db, identity, settings(url), session)
    assert (retried.released, retried.in_quarantine, retried.verdicts) == (1, 0, 1)
    assert verdicts(path)[2] == as_stored(again(2))
    assert upload(db, identity, url, recording).batches == 0 and recording.records() == []


def test_a_bundle_since_a_day_carries_the_verdicts_judged_again_since_then(probe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe
    fill(db, 4)
    since = utc_now_iso()
    fill(db, 2)
    collector = tmp_path / "collector.db"
    register(collector, identity)
    with running_collector(collector) as server:
        upload(db, identity, server.url, Recording())
    rejudge(db, 2)
    out = tmp_path / "since.bundle"
    written = write_bundle(db, identity, out, since=since, batch_size=100, max_bytes=4 << 20)
    assert (written.first_seq, written.last_seq) == (2, 6)  # back to the record judged again since then
    assert verify_path(out).ok
    imported = CliRunner().invoke(cli, ["collector", "import", "--db", str(collector), str(out)])
    assert imported.exit_code == 0, imported.output
    assert verdicts(collector)[2] == as_stored(again(1))
    assert rows(collector, "select count(*) from measurements") == [(6,)]
    with pytest.raises(ProbeError, match="nothing to bundle"):  # nothing started or judged again since then
        write_bundle(db, identity, tmp_path / "later.bundle", since=utc_now_iso(), batch_size=100, max_bytes=1 << 20)
