"""The collector, run as a real process, against clients far slower than any real upload: a request that
falls behind the minimum rate once its grace is over is cut with 408 and gives its probe's slot up.

The attacker knows a registered probe's id and public key (both travel in its uploads) and names them in
heads with a forged signature: every body it drips then holds one of that probe's upload slots (4), which
the collector cannot tell from the probe's own until the body has arrived. Before the minimum rate, the
probe's uploads all got 503 until ``--read-timeout``. As in ``test_servers_under_attack``, every client
connects from ``CLIENT``, an address the collector may not write down.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field

import pytest
from support.hostile import CLIENT, Server, connect, free_port, process, status_of
from support.unattended import fill, probe_identity

from probe.collector import registry
from probe.identity import Identity
from probe.storage import open_database
from probe.upload.protocol import encode_batch, upload_headers
from probe.upload.queue import mark_acked, next_batch

MIN_RATE = 1024
GRACE = 1.0
READ_TIMEOUT = 600.0
"""Far past the end of every test here: what frees a slot must be the minimum rate, never the deadline."""
ATTACKERS = 40
SLOW_HEADS = 10
"""Of the attackers, those that drip their head (slowloris); the others drip a body declared 1 MB."""
DRIP_INTERVAL = 2.0
ATTACK_SECONDS = 120.0
"""No attack runs longer, whatever happens."""
UPLOADS = 20
UPLOADS_AT_ONCE = 2
UPLOAD_SECONDS = 40.0
"""The uploads' bound, all of them together, retries included (a probe retries an upload refused 503)."""
RETRY_PAUSE = 0.1
HONEST_RATE = 2 * MIN_RATE
"""An honest client on a bad link: twice the minimum, about four seconds for its upload."""


@dataclass
class Collector:
    server: Server
    identity: Identity
    bodies: list[bytes]
    """Signed batches, one per upload during the attack."""
    larger: bytes
    """A signed batch of several measurements (about 9 kB), for the honest slow client."""


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    tmp_path = tmp_path_factory.mktemp("collector")
    probe_db = open_database(tmp_path / "probe" / "probe.db")
    fill(probe_db, UPLOADS + 5)
    identity = probe_identity(probe_db)
    batches = []
    for size in [1] * UPLOADS + [50]:
        pending = next_batch(probe_db, identity, "c", batch_size=size, max_bytes=1 << 20)
        assert pending is not None
        mark_acked(probe_db, "c", pending)
        batches.append(encode_batch(pending.batch))
    probe_db.close()
    db_path = tmp_path / "collector.db"
    db = open_database(db_path)
    registry.register(db, identity.public_key_b64, "volunteer")
    db.close()
    port = free_port()
    args = ["collector", "serve", "--db", str(db_path), "--port", str(port), "--read-timeout", str(READ_TIMEOUT)]
    args += ["--min-rate", str(MIN_RATE), "--rate-grace", str(GRACE)]
    with process(args, tmp_path, "collector", "/v1/batches", port) as server:
        yield Collector(server, identity, batches[:-1], batches[-1])


def upload_head(collector: Collector, body: bytes, length: int) -> bytes:
    headers = {"Host": "x", "Content-Type": "application/json", **upload_headers(collector.identity, body)}
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"POST /v1/batches HTTP/1.1\r\n{lines}Content-Length: {length}\r\nConnection: close\r\n\r\n".encode()


@dataclass
class SlowAttack:
    """``ATTACKERS`` connections, each sending a byte every ``DRIP_INTERVAL``; one the collector answered or
    closed is opened again at the next round, so that the attack keeps its connections until ``stop``."""

    collector: Collector
    stop: threading.Event = field(default_factory=threading.Event)
    ready: threading.Event = field(default_factory=threading.Event)
    """Set once both kinds of its connections were cut and it opened them again: the attack in full swing."""
    answers: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(kind, status code) of what its connections got ("" for a close without an answer)."""

    def start(self, number: int) -> tuple[str, bytes, bytes]:
        """Attacker ``number``'s kind, what it sends first, and the byte it drips."""
        if number < SLOW_HEADS:
            return "head", b"POST /v1/batches HTTP/1.1\r\nHost: x\r\nX-Padding: ", b"a"
        forged = upload_head(self.collector, b"another body: this signature is not the body's", 1_000_000)
        return "body", forged + b"[", b"["

    def cut(self, kind: str) -> int:
        return self.answers[kind, "408"]

    def run(self) -> None:
        sockets: dict[int, socket.socket] = {}
        end = time.monotonic() + ATTACK_SECONDS
        try:
            while not self.stop.is_set() and time.monotonic() < end:
                for number in set(range(ATTACKERS)) - set(sockets):
                    sockets[number] = sock = connect(self.collector.server.port)
                    with suppress(OSError):
                        sock.sendall(self.start(number)[1])
                if self.cut("head") and self.cut("body"):
                    self.ready.set()
                if self.stop.wait(DRIP_INTERVAL):
                    break
                for number, sock in list(sockets.items()):
                    kind, _, byte = self.start(number)
                    if not self._drip(sock, kind, byte):
                        sockets.pop(number).close()
        finally:
            for sock in sockets.values():
                sock.close()

    def _drip(self, sock: socket.socket, kind: str, byte: bytes) -> bool:
        """Send ``byte`` unless the collector answered or closed (counted then); whether it was sent."""
        received = b""
        try:
            if not select.select([sock], [], [], 0)[0]:
                sock.send(byte)
                return True
            received = sock.recv(4096)
        except OSError:
            pass
        self.answers[kind, received.split(b" ", 2)[1].decode() if received.startswith(b"HTTP/1.1 ") else ""] += 1
        return False


def upload(collector: Collector, number: int, end: float) -> tuple[int | None, int]:
    """Upload a batch as a probe does, again after a 503 until ``end``; its last status, and the 503s it got."""
    body = collector.bodies[number]
    headers = {"Content-Type": "application/json", **upload_headers(collector.identity, body)}
    busy = 0
    while (status := status_of(collector.server.port, "POST", "/v1/batches", body, headers)) == 503:
        busy += 1
        if time.monotonic() > end:
            break
        time.sleep(RETRY_PAUSE)
    return status, busy


def test_uploads_are_stored_while_forty_connections_drip_bodies_and_heads_under_the_minimum_rate(
    collector: Collector,
) -> None:
    attack = SlowAttack(collector)
    attacker = threading.Thread(target=attack.run, name="slow-attack", daemon=True)
    attacker.start()
    try:
        assert attack.ready.wait(2 * DRIP_INTERVAL + 20), f"the attack did not get going: {attack.answers}"
        with ThreadPoolExecutor(max_workers=UPLOADS_AT_ONCE) as clients:
            end = time.monotonic() + UPLOAD_SECONDS
            results = list(clients.map(lambda number: upload(collector, number, end), range(UPLOADS)))
        assert attacker.is_alive(), "the attack ended before the uploads"
    finally:
        attack.stop.set()
        attacker.join(DRIP_INTERVAL + 30)
    assert [status for status, _ in results] == [200] * UPLOADS, results
    assert attack.answers["body", "503"] > 0, attack.answers  # refused the probe's slots while others held them
    written = collector.server.written()
    cuts = [line for line in written.splitlines() if "collector: cut " in line]
    assert 0 < len(cuts) <= attack.cut("head") + attack.cut("body")  # one line for those cut at once
    assert collector.server.process.poll() is None
    assert CLIENT not in written and "Traceback" not in written


def test_an_honest_upload_at_twice_the_minimum_rate_is_not_cut(collector: Collector) -> None:
    body = collector.larger
    chunk, interval = 256, 256 / HONEST_RATE
    begin = time.monotonic()
    received = b""
    with connect(collector.server.port, timeout=30) as sock:
        sock.sendall(upload_head(collector, body, len(body)))
        for offset in range(0, len(body), chunk):
            time.sleep(interval)
            sock.sendall(body[offset : offset + chunk])
        while more := sock.recv(65536):
            received += more
    assert received.startswith(b"HTTP/1.1 200"), received
    assert b'"stored": ' in received and b'"stored": 0' not in received
    assert time.monotonic() - begin > 3 * GRACE  # well past the grace: the minimum rate was in force
