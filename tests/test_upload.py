"""Offline-first upload to a collector on loopback: outages, lost answers, proxies, what is (not) sent."""

from __future__ import annotations

import json
import select
import socket
import socketserver
import sqlite3
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from requests.adapters import HTTPAdapter
from support.dnsserver import running_dns_server
from support.servers import tcp_refusing_port
from support.unattended import daemon_config, fill, probe_identity, wait_for

from probe import consent
from probe.collector import registry
from probe.collector.service import running_collector
from probe.config import UploadSection
from probe.daemon.service import Daemon
from probe.identity import Identity
from probe.integrity.verify import verify_database
from probe.storage import Database, open_database
from probe.upload.queue import next_heartbeats, next_records, queued, sign
from probe.upload.uploader import Backoff, make_session, upload_pending

MAX_RELAY_SECONDS = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings(url: str, **values: Any) -> UploadSection:
    return UploadSection.model_validate({"enabled": True, "url": url, "timeout": 5, **values})


def ids(path: Path) -> list[str]:
    return [row[0] for row in sqlite3.connect(path).execute("select id from measurements where chain_seq is not null")]


@pytest.fixture
def probe(tmp_path: Path) -> Iterator[tuple[Database, Identity]]:
    db = open_database(tmp_path / "probe.db")
    fill(db, 6)
    yield db, probe_identity(db)
    db.close()


def register(path: Path, identity: Identity) -> None:
    db = open_database(path)
    registry.register(db, identity.public_key_b64)
    db.close()


def test_collector_down_for_several_rounds_then_up_receives_every_measurement_once(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    path, collector_path = tmp_path / "probe.db", tmp_path / "collector.db"
    lines: list[str] = []
    with running_dns_server({}) as dns, tcp_refusing_port() as refusing:
        groups = {"tcp": {"experiment": "tcp", "every": 0.2, "inputs": [f"127.0.0.1:{refusing.port}"] * 3}}
        upload = {"enabled": True, "url": url, "every": 0.2, "backoff_min": 0.1, "backoff_max": 0.3, "timeout": 2}
        config = daemon_config(dns.spec(), groups, upload=upload)
        db = open_database(path)
        consent.record(db, config, how="--accept")
        identity = probe_identity(db)
        db.close()
        register(collector_path, identity)
        daemon = Daemon(config, path, poll=0.05, log=lines.append)
        thread = threading.Thread(target=daemon.run)
        thread.start()
        try:
            rounds = "select count(*) from rounds where status = 'finished'"
            assert wait_for(lambda: sqlite3.connect(path).execute(rounds).fetchone()[0] >= 4, timeout=20)
            assert sum("collector unreachable" in line for line in lines) >= 2  # tried, backed off, tried again
            with running_collector(collector_path, port=port):
                assert wait_for(lambda: len(ids(collector_path)) >= 12, timeout=20)
                daemon.stop.set()
                thread.join(20)
                # What the last round measured while stopping is sent by a last pass.
                db = open_database(path)
                with make_session(config.upload) as session:
                    report = upload_pending(db, identity, config.upload, session)
                assert report.error is None and report.left == 0
                db.close()
        finally:
            daemon.stop.set()
            thread.join(20)
    sent = ids(collector_path)
    assert sorted(sent) == sorted(ids(path)) and len(sent) == len(set(sent))
    collector_rounds = sqlite3.connect(collector_path).execute("select id, status from rounds order by id").fetchall()
    assert collector_rounds == sqlite3.connect(path).execute("select id, status from rounds order by id").fetchall()
    assert verify_database(collector_path).ok


class LoseTheFirstAnswer(HTTPAdapter):
    """The collector stores the first batch of measurements, but its answer never reaches the probe."""

    lost = 0

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = super().send(request, **kwargs)
        if not self.lost and b'"measurements":[{' in (request.body or b""):
            self.lost += 1
            response.close()
            raise requests.ConnectionError("the answer was lost")
        return response


def test_batch_whose_answer_was_lost_is_sent_again_and_stored_once(probe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe
    with running_collector(tmp_path / "collector.db") as server:
        register(tmp_path / "collector.db", identity)
        upload = settings(server.url)
        session = make_session(upload)
        session.mount("http://", LoseTheFirstAnswer())
        first = upload_pending(db, identity, upload, session)
        assert first.error is not None and "lost" in first.error and first.left == 6
        second = upload_pending(db, identity, upload, session)
    assert (second.batches, second.stored, second.duplicates, second.left) == (1, 0, 6, 0)
    assert len(ids(tmp_path / "collector.db")) == 6


def test_refused_batch_stays_queued_until_the_probe_is_registered(probe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe
    with running_collector(tmp_path / "collector.db") as server, make_session(settings(server.url)) as session:
        refused = upload_pending(db, identity, settings(server.url), session)
        assert refused.status == 403 and refused.left == 6
        register(tmp_path / "collector.db", identity)
        accepted = upload_pending(db, identity, settings(server.url), session)
    assert accepted.error is None and accepted.stored == 6 and accepted.left == 0


def test_batches_follow_the_size_cap_and_the_chain_order(probe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe
    with running_collector(tmp_path / "collector.db") as server, make_session(settings(server.url)) as session:
        register(tmp_path / "collector.db", identity)
        report = upload_pending(db, identity, settings(server.url, batch_size=4), session)
    assert (report.batches, report.stored, report.left) == (3, 6, 0)  # runs and rounds, then 4 + 2 records
    assert queued(db, server.url) == 0


def test_batch_carries_no_run_config_no_list_path_and_no_public_ip(probe) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe
    db.db.execute("update runs set test_list = '/home/volunteer/lists/kz.csv'")
    heartbeats = next_heartbeats(db, "http://collector.test", max_bytes=1 << 20)
    records = next_records(db, "http://collector.test", batch_size=10, max_bytes=1 << 20)
    assert heartbeats is not None and records is not None
    batches = [sign(db, identity, heartbeats), sign(db, identity, records)]
    (run,) = batches[0]["runs"]
    assert "config" not in run and run["test_list"] == "kz.csv"
    text = json.dumps(batches)
    assert "volunteer" not in text and "probe_ip" not in text


def test_proxy_from_the_environment_is_never_used(probe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe
    dead = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, dead)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with running_collector(tmp_path / "collector.db") as server, make_session(settings(server.url)) as session:
        register(tmp_path / "collector.db", identity)
        report = upload_pending(db, identity, settings(server.url), session)
    assert report.error is None and report.stored == 6


# --- proxies on loopback ---------------------------------------------------------------------


@contextmanager
def http_proxy() -> Iterator[tuple[str, list[str]]]:
    """A forward HTTP proxy on loopback that only forwards to loopback; yields its URL and the URLs it forwarded."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.path)
            target = urlsplit(self.path)
            assert target.hostname == "127.0.0.1", "the test proxy forwards to loopback only"
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with requests.Session() as session:
                session.trust_env = False
                answer = session.post(self.path, data=body, headers={"Content-Type": "application/json"}, timeout=10)
            self.send_response(answer.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def socks5_proxy() -> Iterator[tuple[str, list[tuple[str, int]]]]:
    """A SOCKS5 proxy (no auth, CONNECT) on loopback that connects only to loopback; yields its address and targets."""
    seen: list[tuple[str, int]] = []

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            client: socket.socket = self.request
            client.settimeout(MAX_RELAY_SECONDS)
            greeting = client.recv(2)
            client.recv(greeting[1])
            client.sendall(b"\x05\x00")
            _, command, _, kind = client.recv(4)
            host = socket.inet_ntoa(client.recv(4)) if kind == 1 else client.recv(client.recv(1)[0]).decode()
            (port,) = struct.unpack("!H", client.recv(2))
            seen.append((host, port))
            assert command == 1 and host in ("127.0.0.1", "localhost"), "the test proxy connects to loopback only"
            with socket.create_connection(("127.0.0.1", port), timeout=MAX_RELAY_SECONDS) as upstream:
                client.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", port))
                relay(client, upstream)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def relay(one: socket.socket, other: socket.socket) -> None:
    for _ in range(10000):  # bounded: a batch is a few round trips
        readable, _, _ = select.select([one, other], [], [], MAX_RELAY_SECONDS)
        if not readable:
            return
        for sock in readable:
            data = sock.recv(65536)
            if not data:
                return
            (other if sock is one else one).sendall(data)


def test_upload_goes_through_a_configured_http_proxy(probe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe
    with running_collector(tmp_path / "collector.db") as server, http_proxy() as (proxy, seen):
        register(tmp_path / "collector.db", identity)
        upload = settings(server.url, proxy=proxy)
        with make_session(upload) as session:
            report = upload_pending(db, identity, upload, session)
    assert report.error is None and report.stored == 6
    assert seen == [f"{server.url}/v1/batches"] * 2  # the run, then the measurements


def test_upload_goes_through_a_configured_socks5_proxy(probe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, identity = probe
    with running_collector(tmp_path / "collector.db") as server, socks5_proxy() as (proxy, seen):
        register(tmp_path / "collector.db", identity)
        url = f"http://localhost:{server.port}"  # socks5h: the proxy resolves the name
        upload = settings(url, proxy=f"socks5h://{proxy}")
        with make_session(upload) as session:
            report = upload_pending(db, identity, upload, session)
    assert report.error is None and report.stored == 6
    assert seen == [("localhost", server.port)]


def test_backoff_doubles_with_jitter_up_to_its_maximum() -> None:
    import random

    backoff = Backoff(1.0, 10.0, random.Random(3))
    waits = [backoff.failed() for _ in range(8)]
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0 and 2.0 <= waits[2] <= 4.0
    assert all(5.0 <= wait <= 10.0 for wait in waits[4:])
    backoff.succeeded()
    assert backoff.failed() <= 1.0
