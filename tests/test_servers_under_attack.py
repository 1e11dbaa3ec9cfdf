"""The test helper and the collector, run as real processes, against hostile clients on loopback.

Every attacker and every legitimate client connects from ``127.0.0.9``, so that a search of
everything the servers wrote (stdout, stderr, the collector's database) for that address means
something. Under each attack, legitimate requests run at the same time and at least 95% of them
must be answered; the numbers are modest so that the suite stays fast on two shared cores.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.hostile import CLIENT, Server, connect, free_port, process, status_of
from support.unattended import fill, probe_identity

from probe.collector import registry
from probe.identity import Identity
from probe.storage import open_database
from probe.upload.protocol import encode_batch, upload_headers
from probe.upload.queue import mark_acked, next_batch

ATTACKERS = 40
IDLE_FLOOD = 600
"""More idle connections than a server reads at once (512): the oldest are pushed out."""
LEGITIMATE = 40
LEGITIMATE_AT_ONCE = 4
SERVED_AT_LEAST = 0.95
DRIP_INTERVAL = 0.5
ATTACK_SECONDS = 20.0
"""No attack runs longer, whatever happens."""
COLLECTOR_READ_TIMEOUT = 3.0
HELPER_READ_TIMEOUT = 5.0  # the helper's default


# --- the servers --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def helper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp_path = tmp_path_factory.mktemp("helper")
    port = free_port()
    with process(["helper", "serve", "--port", str(port)], tmp_path, "helper", "/", port) as server:
        yield server


@dataclass
class Collector:
    server: Server
    db_path: Path
    identity: Identity
    bodies: list[bytes]
    """Signed batches of one measurement each, one per legitimate request."""
    bystander: Identity
    """Another registered probe, whose id and key an attacker is assumed to know."""


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    tmp_path = tmp_path_factory.mktemp("collector")
    probe_db = open_database(tmp_path / "probe" / "probe.db")
    fill(probe_db, LEGITIMATE * 4)
    identity = probe_identity(probe_db)
    bodies = []
    while (pending := next_batch(probe_db, identity, "c", batch_size=1, max_bytes=1 << 20)) is not None:
        mark_acked(probe_db, "c", pending)
        bodies.append(encode_batch(pending.batch))
    probe_db.close()
    other_db = open_database(tmp_path / "other" / "probe.db")
    bystander = probe_identity(other_db)
    other_db.close()
    db_path = tmp_path / "collector.db"
    db = open_database(db_path)
    registry.register(db, identity.public_key_b64, "volunteer")
    registry.register(db, bystander.public_key_b64, "bystander")
    db.close()
    port = free_port()
    args = ["collector", "serve", "--db", str(db_path), "--port", str(port)]
    args += ["--read-timeout", str(COLLECTOR_READ_TIMEOUT)]
    with process(args, tmp_path, "collector", "/v1/batches", port) as server:
        yield Collector(server, db_path, identity, bodies, bystander)


def helper_request(helper: Server, number: int) -> int | None:
    # A site the helper will not measure (loopback) answers at once: the test is about serving.
    body = json.dumps({"http_request": f"http://127.0.0.1:9/{number}"}).encode()
    return status_of(helper.port, "POST", "/", body, {"Content-Type": "application/json"})


def collector_request(collector: Collector, number: int) -> int | None:
    body = collector.bodies[number % len(collector.bodies)]
    headers = {"Content-Type": "application/json", **upload_headers(collector.identity, body)}
    return status_of(collector.server.port, "POST", "/v1/batches", body, headers)


# --- the attacks --------------------------------------------------------------------------------

Attack = Callable[[Server, threading.Event, threading.Event], int]
"""Runs until ``stop`` (setting ``ready`` once it is in full swing); how many connections it used."""


def _drip(server: Server, start: bytes, byte: bytes, stop: threading.Event, ready: threading.Event) -> int:
    """``ATTACKERS`` connections send ``start``, then ``byte`` each every ``DRIP_INTERVAL``."""
    sockets = [connect(server.port) for _ in range(ATTACKERS)]
    try:
        for sock in sockets:
            sock.sendall(start)
        ready.set()
        end = time.monotonic() + ATTACK_SECONDS
        live = list(sockets)
        while live and not stop.wait(DRIP_INTERVAL) and time.monotonic() < end:
            for sock in list(live):
                try:
                    sock.send(byte)
                except OSError:
                    live.remove(sock)
    finally:
        for sock in sockets:
            sock.close()
    return ATTACKERS


def drip_head(server: Server, stop: threading.Event, ready: threading.Event) -> int:
    """Request heads, one byte every half second, never finished (slowloris)."""
    return _drip(server, f"POST {server.path} HTTP/1.1\r\nHost: x\r\nX-Padding: ".encode(), b"a", stop, ready)


def drip_body(server: Server, stop: threading.Event, ready: threading.Event) -> int:
    """A whole head announcing a large body (under the cap), then one byte of it every half second."""
    length = 1_000_000 if server.path == "/v1/batches" else 16_000
    head = f"POST {server.path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n[".encode()
    return _drip(server, head, b"[", stop, ready)


def cut_bodies(server: Server, stop: threading.Event, ready: threading.Event) -> int:
    """Bodies cut off mid-way, by a close or by a reset, again and again (a censored link does this)."""
    used = 0
    end = time.monotonic() + ATTACK_SECONDS
    while not stop.is_set() and time.monotonic() < end and used < ATTACKERS * 5:
        sock = connect(server.port)
        used += 1
        with suppress(OSError):
            sock.sendall(f"POST {server.path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n".encode())
            sock.sendall(b'{"format": "zhanaozen-batch/1", "measurements": [' + b" " * 1000)
            if used % 2:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        if used == ATTACKERS:
            ready.set()
        time.sleep(0.01)
    ready.set()
    return used


def idle_flood(server: Server, stop: threading.Event, ready: threading.Event) -> int:
    """Connections that send nothing at all, more of them than a server reads at once."""
    sockets = []
    try:
        for _ in range(IDLE_FLOOD):
            sockets.append(connect(server.port))
        ready.set()
        stop.wait(ATTACK_SECONDS)
    finally:
        for sock in sockets:
            sock.close()
    return IDLE_FLOOD


ATTACKS: dict[str, Attack] = {
    "drip-head": drip_head,
    "drip-body": drip_body,
    "cut-bodies": cut_bodies,
    "idle-flood": idle_flood,
}


def under_attack(server: Server, attack: Attack, legitimate: Callable[[int], int | None]) -> list[int | None]:
    """Run ``LEGITIMATE`` requests while ``attack`` runs; their statuses."""
    stop, ready = threading.Event(), threading.Event()
    with ThreadPoolExecutor(max_workers=1) as attacker:
        running = attacker.submit(attack, server, stop, ready)
        try:
            assert ready.wait(15), "the attack did not get going"
            with ThreadPoolExecutor(max_workers=LEGITIMATE_AT_ONCE) as clients:
                statuses = list(clients.map(legitimate, range(LEGITIMATE)))
        finally:
            stop.set()
        assert running.result(30) > 0
    return statuses


def served(statuses: list[int | None]) -> float:
    return sum(status == 200 for status in statuses) / len(statuses)


# --- the tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ATTACKS)
def test_the_helper_serves_legitimate_requests_under_attack(helper: Server, name: str) -> None:
    statuses = under_attack(helper, ATTACKS[name], lambda number: helper_request(helper, number))
    assert served(statuses) >= SERVED_AT_LEAST, statuses
    assert helper.process.poll() is None
    assert CLIENT not in helper.written()


@pytest.mark.parametrize("name", ATTACKS)
def test_the_collector_stores_legitimate_uploads_under_attack(collector: Collector, name: str) -> None:
    statuses = under_attack(collector.server, ATTACKS[name], lambda number: collector_request(collector, number))
    assert served(statuses) >= SERVED_AT_LEAST, statuses
    assert collector.server.process.poll() is None
    assert CLIENT not in collector.server.written()


def test_a_request_dripped_past_the_deadline_gets_408_whole_however_slow(collector: Collector) -> None:
    sock = connect(collector.server.port, timeout=COLLECTOR_READ_TIMEOUT + 5)
    begin = time.monotonic()
    sock.sendall(b"POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
    received = b""
    with suppress(OSError):
        while time.monotonic() - begin < COLLECTOR_READ_TIMEOUT + 8:  # a byte a quarter second: never idle
            sock.send(b" ")
            time.sleep(0.25)
            sock.setblocking(False)
            with suppress(BlockingIOError):
                received += sock.recv(4096)
            sock.setblocking(True)
            if received:
                break
    sock.close()
    assert received.startswith(b"HTTP/1.1 408"), received
    assert COLLECTOR_READ_TIMEOUT - 0.5 < time.monotonic() - begin < COLLECTOR_READ_TIMEOUT + 6


TLS_CLIENT_HELLO = (
    bytes.fromhex("16030100a5010000a10303") + bytes(32) + bytes.fromhex("000004130113020100") + bytes(120)
)


def hostile_requests(path: str) -> list[bytes]:
    """Requests that take every refusal path of a server (answered or not)."""
    return [
        b"\x00\xff garbage that is not HTTP\r\n\r\n",
        TLS_CLIENT_HELLO,  # a TLS handshake sent to the plain-HTTP port
        f"GET {path} HTTP/1.1\r\n\r\n".encode(),  # HTTP/1.1 without Host
        f"POST {path} HTTP/1.1\r\nHost: x\r\nX-Big: {'a' * 20000}\r\n\r\n".encode(),  # head over the cap
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n".encode(),  # body over the cap
        f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".encode(),
        f"POST {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),  # no length
        b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
        f"DELETE {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode(),
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n{'[' * 2000}".encode(),  # deep nesting
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\nnot json".encode(),
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{{}}".encode(),  # cut: closes early
    ]


def answers(server: Server, requests: list[bytes]) -> list[bytes]:
    """The status line each request got (b"" for none)."""
    lines = []
    for data in requests:
        with connect(server.port) as sock:
            with suppress(OSError):
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)
            received = b""
            with suppress(OSError):
                while chunk := sock.recv(65536):
                    received += chunk
        lines.append(received.split(b"\r\n", 1)[0])
    return lines


def test_no_refusal_path_of_the_helper_writes_the_clients_address(helper: Server) -> None:
    lines = answers(helper, hostile_requests("/"))
    statuses = [line.split(b" ")[1] if line else b"" for line in lines]
    assert statuses == [b"400", b"400", b"400", b"431", b"413", b"411", b"411", b"404", b"405", b"400", b"400", b""]
    assert helper_request(helper, 0) == 200
    assert CLIENT not in helper.written()


def test_no_refusal_path_of_the_collector_writes_the_clients_address(collector: Collector) -> None:
    requests = hostile_requests("/v1/batches")
    body = collector.bodies[0]
    signed = upload_headers(collector.identity, body)
    forged = {**signed, "X-Probe-Signature": upload_headers(collector.bystander, body)["X-Probe-Signature"]}
    unknown = upload_headers(Identity.generate(), body)  # a probe nobody registered
    for headers in (forged, unknown):
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        requests.append(f"POST /v1/batches HTTP/1.1\r\nHost: x\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode())
        requests[-1] += body
    lines = answers(collector.server, requests)
    statuses = [line.split(b" ")[1] if line else b"" for line in lines]
    expected = [b"400", b"400", b"400", b"431", b"413", b"411", b"411", b"404", b"405", b"400", b"400", b""]
    assert statuses == [*expected, b"401", b"403"]
    assert collector_request(collector, 0) == 200
    written = collector.server.written()
    assert CLIENT not in written and "Traceback" not in written
    assert CLIENT.encode() not in collector.db_path.read_bytes()


def _send_large(server: Server, head: bytes, size: int) -> bytes:
    """Send ``head`` and ``size`` bytes of body as fast as the server takes them; its status line."""
    filler = b"[{}," * 16384
    with connect(server.port, timeout=20) as sock:
        with suppress(OSError):
            sock.sendall(head)
            sent = 0
            while sent < size:
                sent += sock.send(filler[: size - sent])
        received = b""
        with suppress(OSError):
            while more := sock.recv(4096):
                received += more
    return received.split(b"\r\n", 1)[0]


def test_thirty_two_large_unsigned_or_forged_bodies_do_not_balloon_the_collector(collector: Collector) -> None:
    server = collector.server
    size = 15 << 20
    before = server.rss_kib()
    unsigned = f"POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode()
    bystander = upload_headers(collector.bystander, b"not this body")
    forged_head = "".join(f"{name}: {value}\r\n" for name, value in bystander.items())
    forged = f"POST /v1/batches HTTP/1.1\r\nHost: x\r\n{forged_head}Content-Length: {size}\r\n\r\n".encode()
    for head in (unsigned, forged):
        with ThreadPoolExecutor(max_workers=32) as attackers:
            lines = list(attackers.map(lambda _, head=head: _send_large(server, head, size), range(32)))
        # Refused before the body ends, a sender may see a reset instead of its answer.
        assert all(line.split(b" ")[1] in (b"401", b"413", b"503") for line in lines if line), lines
    grown = (server.rss_kib("VmHWM") - before) // 1024
    # The whole of it would be 480 MB received and several GB parsed; the body budget is 128 MiB.
    assert grown < 200, f"the collector grew by {grown} MB"
    assert collector_request(collector, 0) == 200
    assert CLIENT not in server.written()


def test_an_answered_connection_carries_the_next_request_and_is_closed_once_idle(helper: Server) -> None:
    with connect(helper.port, timeout=10) as sock:
        received = b""
        for answered in (1, 2):
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            while received.count(b'"ok": true') < answered:
                received += sock.recv(65536)
        begin = time.monotonic()
        assert sock.recv(65536) == b""  # closed by the helper after its keep-alive time (5 s)
    assert received.count(b"HTTP/1.1 200 OK") == 2 and "Connection: close" not in received.decode()
    assert 3 < time.monotonic() - begin < 8
