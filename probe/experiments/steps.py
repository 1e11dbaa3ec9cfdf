"""Steps shared by experiments: DNS through every resolver, TCP (+TLS) to every address.

Network work happens in ``probe.net``; these functions only fan it out and collect.
"""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from probe.addresses import is_ip
from probe.config import Config
from probe.model import DNSQuery, TCPConnect, TLSHandshake
from probe.net import dns, http, tcp, tls
from probe.net.trace import Trace
from probe.resolvers import parse_resolver


@dataclass
class DNSStep:
    queries: list[DNSQuery]
    addresses: list[str]
    """Addresses from the first configured resolver: the ones a browser would have used."""
    failure: str | None


@dataclass
class ConnectStep:
    tcp_connect: list[TCPConnect] = field(default_factory=list)
    tls_handshakes: list[TLSHandshake] = field(default_factory=list)
    reachable: list[str] = field(default_factory=list)
    """Addresses where TCP (and TLS, when asked) succeeded, in the order given."""
    failure: str | None = None
    failed_step: str | None = None
    connection: http.Connection | None = None
    """With ``keep``: the first reachable address's connection, left open for the HTTP step to use."""

    def close(self) -> None:
        """Close the kept connection if nobody took it (``http.fetch`` closes the one it uses)."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def resolve(host: str, config: Config, trace: Trace) -> DNSStep:
    """Ask every configured resolver (A and/or AAAA) at once; later answers are compared, not used."""
    if is_ip(host):
        return DNSStep([], [host], None)
    jobs = [(parse_resolver(spec), qtype) for spec in config.dns.resolvers for qtype in config.dns.query_types]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(
            pool.map(
                lambda job: dns.lookup(
                    host,
                    job[0],
                    job[1],
                    trace,
                    timeout=config.dns.timeout,
                    late_window=config.dns.late_answer_window,
                    ca_bundle=config.tls.ca_bundle,
                ),
                jobs,
            )
        )
    queries = [query for result in results for query in result]
    first = parse_resolver(config.dns.resolvers[0])
    first_results = [result for (resolver, _), result in zip(jobs, results, strict=True) if resolver == first]
    addresses = dns.addresses([query for result in first_results for query in result])
    failure = None
    if not addresses:
        failures = [q.failure for result in first_results for q in result if q.failure]
        failure = failures[0] if failures else "dns_no_answer"
    return DNSStep(queries, addresses, failure)


def connect_all(
    addresses: list[str],
    port: int,
    config: Config,
    trace: Trace,
    *,
    server_name: str | None = None,
    keep: bool = False,
) -> ConnectStep:
    """TCP connect to every address on ``port``; with ``server_name``, a TLS handshake over each.

    With ``keep``, the first reachable address's connection stays open (``ConnectStep.connection``) for the
    HTTP step, as a browser reuses the connection it made; every other one is closed at once."""
    step = ConnectStep()
    targets = addresses[: config.tcp.max_addresses]
    if not targets:
        return step

    def one(ip: str) -> tuple[TCPConnect, TLSHandshake | None, socket.socket | None]:
        sock, connect = tcp.connect(ip, port, trace, timeout=config.tcp.timeout)
        if sock is None or server_name is None:
            return connect, None, sock
        tls_sock, handshake = tls.handshake(
            sock, server_name, trace, timeout=config.tls.timeout, ca_bundle=config.tls.ca_bundle
        )
        return connect, handshake, tls_sock

    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        results = list(pool.map(one, targets))
    for ip, (connect, handshake, sock) in zip(targets, results, strict=True):
        step.tcp_connect.append(connect)
        if handshake is not None:
            step.tls_handshakes.append(handshake)
        if connect.status.success and (handshake is None or handshake.failure is None):
            step.reachable.append(ip)
        if sock is None:
            continue
        if keep and step.connection is None:
            alpn = handshake.negotiated_protocol if handshake is not None else None
            step.connection = http.Connection(sock, ip, port, alpn)
        else:
            sock.close()
    if not step.reachable:
        first_connect, first_tls, _ = results[0]
        if first_connect.status.failure:
            step.failure, step.failed_step = first_connect.status.failure, "tcp"
        elif first_tls is not None:
            step.failure, step.failed_step = first_tls.failure, "tls"
    return step
