"""A tiny real DNS server on 127.0.0.1 for tests (UDP and TCP on the same ephemeral port).

It answers each query according to a table that maps query names to behaviours, so one server can play
a healthy resolver, a censoring one and an on-path injector at once::

    from support.dnsserver import Answer, Injected, NXDOMAIN, SILENT, running_dns_server

    records = {
        "example.org": Answer(("93.184.216.34", "2606:2800:220:1::1")),
        "blocked.example": Injected(forged=("10.10.34.35",), genuine=("93.184.216.34",), delay=0.2),
        "gone.example": NXDOMAIN,
        "dropped.example": SILENT,
    }
    with running_dns_server(records) as server:
        resolver = server.resolver("udp")  # probe.resolvers.Resolver("udp", "127.0.0.1", server.port)
        ...                                # or server.spec("tcp") == "tcp://127.0.0.1:<port>" for configs

Server API: ``.host`` ("127.0.0.1"), ``.port``, ``.address`` ("127.0.0.1:<port>"), ``.resolver(engine)``,
``.spec(engine)``, and ``.queries``: every query received, as ``(proto, name, type)`` tuples such as
``("udp", "example.org", "A")``.

Names are matched without the final dot and case-insensitively; names missing from the table get
``default`` (``NXDOMAIN`` unless given). Behaviours:

- ``Answer(addresses, cname=None, ttl=300, delay=0.0)``: NOERROR with the addresses of the asked family
  (IPv4 for A, IPv6 for AAAA), behind a CNAME if ``cname`` is set; an empty answer when none fit, so
  ``Answer(())`` (alias ``NO_ANSWER``) is NOERROR without answers. ``delay`` postpones the reply.
- ``Rcode(rcode)``: an empty reply with that rcode; ``NXDOMAIN``, ``SERVFAIL``, ``REFUSED``.
- ``SILENT``: no reply at all (a resolver whose packets are dropped).
- ``Injected(forged, genuine, delay=0.2)``: over UDP, the forged answer at once and the genuine one
  ``delay`` seconds later, both to the same query id; over TCP only the genuine one (injectors race on UDP).
- ``GARBAGE`` (``Garbage(payload)``): bytes that are not a DNS message.
- ``WRONG_ID`` (``WrongId(addresses)``): a well-formed answer whose id is not the query's, then nothing.

Delayed replies are sent by the server loop itself, so a slow answer never holds up other queries.
Everything stops when the ``with`` block ends.
"""

from __future__ import annotations

import contextlib
import heapq
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

from probe.resolvers import Resolver

HOST = "127.0.0.1"
POLL_INTERVAL = 0.02
"""How often the server threads look at the stop flag."""
MAX_PORT_ATTEMPTS = 50
"""Tries to find a port that is free for both UDP and TCP."""
MAX_QUERIES_PER_CONNECTION = 16
STOP_TIMEOUT = 2.0
MAX_LIFETIME = 600.0
"""A server left running by a broken test stops by itself after this many seconds."""


@dataclass(frozen=True)
class Answer:
    addresses: tuple[str, ...] = ()
    cname: str | None = None
    ttl: int = 300
    delay: float = 0.0


@dataclass(frozen=True)
class Rcode:
    rcode: dns.rcode.Rcode


@dataclass(frozen=True)
class Silent:
    pass


@dataclass(frozen=True)
class Injected:
    forged: tuple[str, ...]
    genuine: tuple[str, ...]
    delay: float = 0.2


@dataclass(frozen=True)
class Garbage:
    payload: bytes = b"\x13\x37garbage"  # shorter than a DNS header: cannot parse


@dataclass(frozen=True)
class WrongId:
    addresses: tuple[str, ...] = ("192.0.2.66",)


Behaviour = Answer | Rcode | Silent | Injected | Garbage | WrongId

NO_ANSWER = Answer(())
NXDOMAIN = Rcode(dns.rcode.NXDOMAIN)
SERVFAIL = Rcode(dns.rcode.SERVFAIL)
REFUSED = Rcode(dns.rcode.REFUSED)
SILENT = Silent()
GARBAGE = Garbage()
WRONG_ID = WrongId()


def _normalise(name: str) -> str:
    return name.rstrip(".").lower()


def _reply(query: dns.message.Message, addresses: tuple[str, ...], *, cname: str | None, ttl: int) -> bytes:
    """A NOERROR reply with the addresses that fit the question's type."""
    reply = dns.message.make_response(query)
    question = query.question[0]
    owner = question.name
    if cname is not None:
        target = dns.name.from_text(cname)
        reply.answer.append(dns.rrset.from_text(owner, ttl, "IN", "CNAME", target.to_text()))
        owner = target
    want_v6 = question.rdtype == dns.rdatatype.AAAA
    fitting = [a for a in addresses if (":" in a) == want_v6]
    if question.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA) and fitting:
        rdtype = dns.rdatatype.to_text(question.rdtype)
        reply.answer.append(dns.rrset.from_text_list(owner, ttl, "IN", rdtype, fitting))
    return reply.to_wire()


def _rcode_reply(query: dns.message.Message, rcode: dns.rcode.Rcode) -> bytes:
    reply = dns.message.make_response(query)
    reply.set_rcode(rcode)
    return reply.to_wire()


def plan(behaviour: Behaviour, query: dns.message.Message, proto: str) -> list[tuple[float, bytes]]:
    """What to send for ``query``: (delay in seconds, datagram or message) pairs."""
    if isinstance(behaviour, Answer):
        return [(behaviour.delay, _reply(query, behaviour.addresses, cname=behaviour.cname, ttl=behaviour.ttl))]
    if isinstance(behaviour, Rcode):
        return [(0.0, _rcode_reply(query, behaviour.rcode))]
    if isinstance(behaviour, Injected):
        genuine = _reply(query, behaviour.genuine, cname=None, ttl=300)
        if proto == "tcp":
            return [(0.0, genuine)]
        return [(0.0, _reply(query, behaviour.forged, cname=None, ttl=60)), (behaviour.delay, genuine)]
    if isinstance(behaviour, Garbage):
        return [(0.0, behaviour.payload)]
    if isinstance(behaviour, WrongId):
        data = _reply(query, behaviour.addresses, cname=None, ttl=300)
        return [(0.0, ((query.id + 1) % 65536).to_bytes(2, "big") + data[2:])]  # the id is the first 2 bytes
    return []  # Silent


@dataclass
class DNSServer:
    """A running server; see the module docstring."""

    records: Mapping[str, Behaviour]
    default: Behaviour
    port: int = 0
    host: str = HOST
    queries: list[tuple[str, str, str]] = field(default_factory=list)
    ends: float = field(default_factory=lambda: time.monotonic() + MAX_LIFETIME)

    def __post_init__(self) -> None:
        self.records = {_normalise(name): behaviour for name, behaviour in self.records.items()}

    def running(self, stop: threading.Event) -> bool:
        return not stop.is_set() and time.monotonic() < self.ends

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def resolver(self, engine: str = "udp") -> Resolver:
        if engine not in ("udp", "tcp"):
            raise ValueError(f"the test server speaks udp and tcp, not {engine!r}")
        return Resolver("udp" if engine == "udp" else "tcp", self.host, self.port)

    def spec(self, engine: str = "udp") -> str:
        return str(self.resolver(engine))

    def behaviour(self, query: dns.message.Message, proto: str) -> Behaviour | None:
        """The behaviour for ``query`` (None for a message without a question), and note the query."""
        if not query.question:
            return None
        question = query.question[0]
        name = _normalise(question.name.to_text())
        self.queries.append((proto, name, dns.rdatatype.to_text(question.rdtype)))
        return self.records.get(name, self.default)


def _bind_pair() -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket bound to the same free port on HOST."""
    for _ in range(MAX_PORT_ATTEMPTS):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((HOST, 0))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind((HOST, udp.getsockname()[1]))
        except OSError:
            udp.close()
            tcp.close()
            continue
        tcp.listen(16)
        return udp, tcp
    raise RuntimeError("no port free for both UDP and TCP on 127.0.0.1")


def _serve_udp(server: DNSServer, sock: socket.socket, stop: threading.Event) -> None:
    pending: list[tuple[float, int, bytes, tuple[str, int]]] = []  # (due, order, data, client)
    order = 0
    while server.running(stop):
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, data, client = heapq.heappop(pending)
            with contextlib.suppress(OSError):
                sock.sendto(data, client)
        wait = POLL_INTERVAL if not pending else min(POLL_INTERVAL, max(pending[0][0] - now, 0.001))
        sock.settimeout(wait)
        try:
            datagram, client = sock.recvfrom(65535)
        except OSError:  # mostly the poll timeout
            continue
        try:
            query = dns.message.from_wire(datagram)
        except Exception:
            continue  # a test server ignores what it cannot parse
        behaviour = server.behaviour(query, "udp")
        if behaviour is None:
            continue
        received = time.monotonic()
        for delay, data in plan(behaviour, query, "udp"):
            order += 1
            heapq.heappush(pending, (received + delay, order, data, client))


def _recv_exactly(server: DNSServer, conn: socket.socket, size: int, stop: threading.Event) -> bytes | None:
    data = b""
    while len(data) < size and server.running(stop):
        try:
            chunk = conn.recv(size - len(data))
        except TimeoutError:
            continue
        if not chunk:
            return None
        data += chunk
    return data if len(data) == size else None


def _serve_tcp_connection(server: DNSServer, conn: socket.socket, stop: threading.Event) -> None:
    # The client may go away at any moment; that ends the connection, not the test.
    with conn, contextlib.suppress(OSError):
        conn.settimeout(POLL_INTERVAL)
        for _ in range(MAX_QUERIES_PER_CONNECTION):
            header = _recv_exactly(server, conn, 2, stop)
            if header is None:
                return
            message = _recv_exactly(server, conn, int.from_bytes(header, "big"), stop)
            if message is None:
                return
            try:
                query = dns.message.from_wire(message)
            except Exception:
                return  # a test server drops what it cannot parse
            behaviour = server.behaviour(query, "tcp")
            if behaviour is None:
                return
            for delay, data in plan(behaviour, query, "tcp"):
                if stop.wait(delay):
                    return
                conn.sendall(len(data).to_bytes(2, "big") + data)


def _serve_tcp(server: DNSServer, sock: socket.socket, stop: threading.Event) -> None:
    workers: list[threading.Thread] = []
    sock.settimeout(POLL_INTERVAL)
    while server.running(stop):
        try:
            conn, _ = sock.accept()
        except TimeoutError:
            continue
        worker = threading.Thread(target=_serve_tcp_connection, args=(server, conn, stop), daemon=True)
        worker.start()
        workers.append(worker)
    for worker in workers:
        worker.join(STOP_TIMEOUT)


@contextlib.contextmanager
def running_dns_server(records: Mapping[str, Behaviour], *, default: Behaviour = NXDOMAIN) -> Iterator[DNSServer]:
    """Run a DNS server on 127.0.0.1 (UDP and TCP, same ephemeral port) for the ``with`` block."""
    udp, tcp = _bind_pair()
    server = DNSServer(records=records, default=default, port=udp.getsockname()[1])
    stop = threading.Event()
    threads = [
        threading.Thread(target=_serve_udp, args=(server, udp, stop), name="dns-udp", daemon=True),
        threading.Thread(target=_serve_tcp, args=(server, tcp, stop), name="dns-tcp", daemon=True),
    ]
    with udp, tcp:
        for thread in threads:
            thread.start()
        try:
            yield server
        finally:
            stop.set()
            for thread in threads:
                thread.join(STOP_TIMEOUT)
