"""Real DNS-over-TLS and DNS-over-HTTPS servers on 127.0.0.1 for tests, with a certificate of the test CA.

They answer from the same table of behaviours as ``support.dnsserver`` (``Answer``, ``NXDOMAIN``, ...)::

    with running_doh_server({"guljan.test": Answer(("127.0.0.1",))}, pki.leaf) as doh:
        doh.spec   # "https://127.0.0.1:<port>/dns-query", for [dns] resolvers
    with running_dot_server(records, pki.leaf) as dot:
        dot.spec   # "tls://127.0.0.1:<port>"

``.queries`` lists every query received as ``(proto, name, type)``, proto ``doh`` or ``dot``. DoH speaks
HTTP/1.1 (POST and GET ``?dns=``, RFC 8484); DoT length-prefixed messages (RFC 7858). Both stop with the
``with`` block (``support.servers``' accept loop, bounded in time).
"""

from __future__ import annotations

import base64
import socket
import ssl
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import dns.message

from support.dnsserver import MAX_QUERIES_PER_CONNECTION, NXDOMAIN, Behaviour, DNSServer, plan
from support.servers import _serving
from support.testca import Leaf

_MAX_HEAD = 16384
_MAX_BODY = 65535


@dataclass
class EncryptedDNSServer:
    table: DNSServer
    spec: str

    @property
    def queries(self) -> list[tuple[str, str, str]]:
        return self.table.queries


def _context(leaf: Leaf, alpn: list[str]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(leaf.chain_path, leaf.key_path)
    context.set_alpn_protocols(alpn)
    return context


def _exactly(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _answers(table: DNSServer, wire: bytes, proto: str, stopping: threading.Event) -> list[bytes]:
    query = dns.message.from_wire(wire)
    behaviour = table.behaviour(query, proto)
    if behaviour is None:
        return []
    replies = []
    for delay, data in plan(behaviour, query, "tcp"):
        if stopping.wait(delay):
            return []
        replies.append(data)
    return replies


@contextmanager
def running_dot_server(
    records: Mapping[str, Behaviour], leaf: Leaf, *, default: Behaviour = NXDOMAIN
) -> Iterator[EncryptedDNSServer]:
    table = DNSServer(records=records, default=default)
    context = _context(leaf, ["dot"])

    def handler(conn: socket.socket, stopping: threading.Event) -> None:
        with context.wrap_socket(conn, server_side=True) as tls_conn:
            for _ in range(MAX_QUERIES_PER_CONNECTION):
                header = _exactly(tls_conn, 2)
                message = _exactly(tls_conn, int.from_bytes(header, "big")) if header else None
                if message is None:
                    return
                for data in _answers(table, message, "dot", stopping):
                    tls_conn.sendall(len(data).to_bytes(2, "big") + data)

    with _serving(handler) as server:
        table.port = server.endpoint.port
        yield EncryptedDNSServer(table, f"tls://127.0.0.1:{server.endpoint.port}")


def _http_request(conn: socket.socket) -> tuple[str, str, bytes] | None:
    """Method, target and body of one HTTP/1.1 request (Content-Length bodies only)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk or len(data) > _MAX_HEAD:
            return None
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = min(int(value.strip()), _MAX_BODY)
    rest = _exactly(conn, length - len(body)) if length > len(body) else b""
    return (method, target, body + (rest or b"")) if rest is not None else None


@contextmanager
def running_doh_server(
    records: Mapping[str, Behaviour], leaf: Leaf, *, default: Behaviour = NXDOMAIN, path: str = "/dns-query"
) -> Iterator[EncryptedDNSServer]:
    table = DNSServer(records=records, default=default)
    context = _context(leaf, ["http/1.1"])

    def handler(conn: socket.socket, stopping: threading.Event) -> None:
        with context.wrap_socket(conn, server_side=True) as tls_conn:
            request = _http_request(tls_conn)
            if request is None:
                return
            method, target, body = request
            parts = urlsplit(target)
            if method == "GET":
                encoded = parse_qs(parts.query).get("dns", [""])[0]
                body = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            if parts.path != path:
                tls_conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            for data in _answers(table, body, "doh", stopping)[:1]:
                head = (
                    "HTTP/1.1 200 OK\r\nContent-Type: application/dns-message\r\n"
                    f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
                )
                tls_conn.sendall(head.encode("ascii") + data)

    with _serving(handler) as server:
        table.port = server.endpoint.port
        yield EncryptedDNSServer(table, f"https://127.0.0.1:{server.endpoint.port}{path}")
