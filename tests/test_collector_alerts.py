"""Outage alerts: signed JSON POSTs to a loopback webhook that fails at first, once per transition,
retried with backoff, and never in the way of ingest."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import test_outages
from click.testing import CliRunner
from support.unattended import fill, probe_identity, wait_for
from test_collector_service import batches, post
from test_outages import GULJAN, ROUND, TWITTER, Series

from probe.cli.main import cli
from probe.collector import registry
from probe.collector.alert_worker import AlertWorker
from probe.collector.alerts import AlertState, look
from probe.collector.service import running_collector
from probe.collector.webhooks import KEY_HEADER, SIGNATURE_HEADER, alert_signature_ok, backoff
from probe.config import AlertsSection, load_config
from probe.errors import ConfigError
from probe.identity import load_or_create
from probe.storage import open_database
from probe.upload.protocol import encode_batch

PROBE_A = "a" * 32
PROBE_B = "b" * 32


@dataclass
class Receiver:
    """A webhook on loopback: answers 500 to its first ``failures`` requests, then 200; may hold requests."""

    failures: int = 0
    held: threading.Event | None = None
    entered: threading.Event = field(default_factory=threading.Event)
    requests: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def accepted(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for status, _, body in self.requests if status == 200]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.entered.set()
            if state.held is not None:
                state.held.wait(30)
            with state.lock:
                status = 500 if len(state.requests) < state.failures else 200
                state.requests.append((status, dict(self.headers), body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    if state.held is not None:
        state.held.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def recent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rounds of ``Series`` end about now (alerts look at the last days)."""
    monkeypatch.setattr(test_outages, "BASE", int(time.time()) - 40 * ROUND)


def settings(url: str, **extra: Any) -> AlertsSection:
    values = {"webhooks": [url], "check_every": 0.1, "lookback": 30 * 86400, "backoff_min": 0.05, "backoff_max": 0.2}
    return AlertsSection.model_validate({**values, **extra})


def test_windows_opening_and_closing_are_posted_once_each_signed_through_a_failing_webhook(  # type: ignore[no-untyped-def]
    tmp_path: Path, receiver, recent
) -> None:
    receiver.failures = 2
    series = Series(open_database(tmp_path / "collector.db"))
    # Probe A: twitter.com blocked by DNS (high confidence); probe B: the network shut down. Both ongoing.
    series.rounds({TWITTER: "oooo dddd", GULJAN: "oooo oooo", "network": "oooo oooo"}, probe=PROBE_A)
    series.rounds({TWITTER: "oooo oooo", "network": "oooo ssss"}, probe=PROBE_B, asn="AS21299")
    identity = load_or_create(tmp_path / "collector.key")
    worker = AlertWorker(tmp_path / "collector.db", settings(receiver.url), identity, tmp_path / "alerts.db")
    worker.start()
    try:
        assert wait_for(lambda: len(receiver.accepted()) == 2, timeout=30)
        opened = receiver.accepted()
        assert {(a["transition"], a["window"]["kind"]) for a in opened} == {
            ("opened", "targeted_block"),
            ("opened", "network_shutdown"),
        }
        # Both recover: each window closes.
        series.rounds({TWITTER: "oooo", GULJAN: "oooo", "network": "oooo"}, probe=PROBE_A, first=8)
        series.rounds({TWITTER: "oooo", "network": "oooo"}, probe=PROBE_B, asn="AS21299", first=8)
        assert wait_for(lambda: len(receiver.accepted()) == 4, timeout=30)
        for _ in range(3):  # more looks find nothing new
            worker.looked.clear()
            assert worker.looked.wait(10)
    finally:
        worker.stop()
    alerts = receiver.accepted()
    assert len(alerts) == 4 and len({alert["alert_id"] for alert in alerts}) == 4
    closed = [alert for alert in alerts if alert["transition"] == "closed"]
    assert {alert["window"]["kind"] for alert in closed} == {"targeted_block", "network_shutdown"}
    assert all(alert["window"]["end_max"] is not None for alert in closed)
    statuses = [status for status, _, _ in receiver.requests]
    assert statuses[:2] == [500, 500] and statuses.count(200) == 4 and len(statuses) == 6
    for _, headers, body in receiver.requests:
        assert headers[KEY_HEADER] == identity.public_key_b64
        assert alert_signature_ok(identity.public_key_b64, headers[SIGNATURE_HEADER], body)
        assert not alert_signature_ok(identity.public_key_b64, headers[SIGNATURE_HEADER], body + b" ")
    assert oct((tmp_path / "alerts.db").stat().st_mode & 0o777) == "0o600"
    state = AlertState(tmp_path / "alerts.db")
    # The two "opened" alerts were each refused once (the first two requests), then accepted.
    assert sorted(row["attempts"] for row in state.deliveries()) == [1, 1, 2, 2]
    assert all(row["delivered_at"] and row["given_up_at"] is None for row in state.deliveries())
    state.close()
    series.db.close()


def test_low_confidence_blocks_are_not_alerted_unless_asked(tmp_path: Path, recent) -> None:  # type: ignore[no-untyped-def]
    series = Series(open_database(tmp_path / "collector.db"))
    series.rounds({TWITTER: "oooo ffff", GULJAN: "oooo oooo", "network": "oooo oooo"}, probe=PROBE_A)
    options = {"now": test_outages.t(9), "lookback": 30 * 86400.0, "webhooks": ["http://127.0.0.1:9/"]}
    medium = AlertState(tmp_path / "medium.db")
    assert look(series.db.conn, medium, min_confidence="medium", collector="c", **options) == []  # type: ignore[arg-type]
    low = AlertState(tmp_path / "low.db")
    made = look(series.db.conn, low, min_confidence="low", collector="c", **options)  # type: ignore[arg-type]
    assert [(transition, window.kind) for transition, window in made] == [("opened", "targeted_block")]  # type: ignore[union-attr]
    assert look(series.db.conn, low, min_confidence="low", collector="c", **options) == []  # type: ignore[arg-type]
    medium.close()
    low.close()
    series.db.close()


def test_a_webhook_that_hangs_does_not_hold_up_ingest(tmp_path: Path, receiver, recent) -> None:  # type: ignore[no-untyped-def]
    receiver.held = threading.Event()
    path = tmp_path / "collector.db"
    series = Series(open_database(path))
    series.rounds({TWITTER: "oooo oooo", "network": "oooo ssss"}, probe=PROBE_B)
    probe = open_database(tmp_path / "probe" / "probe.db")
    fill(probe, 5)
    identity = probe_identity(probe)
    registry.register(series.db, identity.public_key_b64)
    worker = AlertWorker(path, settings(receiver.url), load_or_create(tmp_path / "c.key"), tmp_path / "alerts.db")
    with running_collector(path) as server:
        worker.start()
        try:
            assert receiver.entered.wait(30)  # the alert's POST is held by the receiver...
            for pending in batches(probe, identity):  # ...while batches are stored as usual
                assert post(server, encode_batch(pending.batch))[0] == 200
            assert not receiver.held.is_set() and receiver.requests == []
        finally:
            receiver.held.set()
            worker.stop()
    assert len(receiver.accepted()) == 1
    probe.close()
    series.db.close()


def test_backoff_doubles_up_to_its_ceiling() -> None:
    assert [backoff(n, 5, 60) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]


def test_collector_key_prints_the_key_receivers_check_alerts_with(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["collector", "key", "--db", str(tmp_path / "collector.db")])
    assert result.exit_code == 0
    assert load_or_create(tmp_path / "collector.key").public_key_b64 in result.output


def test_a_webhook_that_is_not_an_http_url_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "collector.toml"
    config.write_text('[collector.alerts]\nwebhooks = ["ftp://example.org/hook"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="webhook"):
        load_config(config)


@pytest.mark.parametrize("command", ["serve", "alerts"])
def test_collector_with_alerts_configured_posts_them_and_stops_on_sigterm(  # type: ignore[no-untyped-def]
    tmp_path: Path, receiver, recent, command: str
) -> None:
    """``serve`` sends alerts from a thread beside ingest; ``alerts`` from a process of its own."""
    path = tmp_path / "collector.db"
    series = Series(open_database(path))
    series.rounds({TWITTER: "oooo oooo", "network": "oooo ssss"}, probe=PROBE_B)
    series.db.close()
    config = tmp_path / "collector.toml"
    config.write_text(
        f'[collector.alerts]\nwebhooks = ["{receiver.url}"]\ncheck_every = 0.2\nlookback = 2592000\n', encoding="utf-8"
    )
    argv = [sys.executable, "-m", "probe", "collector", command, "--config", str(config), "--db", str(path)]
    argv += ["--port", "0"] if command == "serve" else []
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: len(receiver.accepted()) == 1, timeout=60)
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == 0
    (alert,) = receiver.accepted()
    assert alert["transition"] == "opened" and alert["window"]["kind"] == "network_shutdown"
    assert "alert: window opened: network" in log and "stopped" in log.splitlines()[-1]
    assert load_or_create(tmp_path / "collector.key").probe_id == alert["collector"]


def test_an_international_cut_is_alerted_whatever_its_confidence_and_closes_once(tmp_path: Path, recent) -> None:  # type: ignore[no-untyped-def]
    series = Series(open_database(tmp_path / "collector.db"))
    series.rounds({TWITTER: "oooo oooo", "network": "oooo cccc"}, probe=PROBE_A)
    state = AlertState(tmp_path / "alerts.db")
    options: dict[str, Any] = {"lookback": 30 * 86400.0, "webhooks": [], "collector": "c", "min_confidence": "high"}
    opened = look(series.db.conn, state, now=test_outages.t(9), **options)
    assert [(transition, window.kind) for transition, window in opened] == [("opened", "international_cut")]  # type: ignore[union-attr]
    series.rounds({TWITTER: "ooo", "network": "ooo"}, probe=PROBE_A, first=8)
    closed = look(series.db.conn, state, now=test_outages.t(12), **options)
    assert [(transition, window.kind) for transition, window in closed] == [("closed", "international_cut")]  # type: ignore[union-attr]
    assert look(series.db.conn, state, now=test_outages.t(13), **options) == []
    state.close()
    series.db.close()
