"""DNS lookups through the system resolver (getaddrinfo), UDP/TCP resolvers, and DoH/DoT resolvers.

Each lookup returns df-002 ``DNSQuery`` entries and never raises for what happens on the wire.

Method:

- ``system``: ``getaddrinfo`` in a daemon worker thread, waited for at most ``timeout`` (getaddrinfo has
  no timeout of its own). It shows what applications on this machine see, including ``/etc/hosts`` and any
  local cache; it carries no rcode, TTL or raw bytes.
- ``udp``: one query from one connected UDP socket. The first datagram that is a response to the query
  (same id, same question) counts. The socket then stays open for ``late_window`` seconds and every further
  response to the same id is stored as an extra entry tagged ``late_response``: an on-path injector answers
  first and the genuine resolver later, so two different answers to one query is the mark of injection.
- ``tcp``: one length-prefixed exchange on a fresh connection; no late window (injectors race on UDP).
- ``doh``, ``dot``: one exchange over HTTPS or TLS with a verified certificate (``probe.net.encrypted_dns``):
  the comparison path a censor cannot rewrite on the way.

Known false positives: a resolver that retransmits or an anycast path that duplicates datagrams yields late
responses that are *identical* to the first one; only a late answer that differs is a sign of injection.
A ``dns_server_misbehaving`` (unparseable datagrams only) may come from a broken middlebox rather than
censorship. Truncated UDP replies (TC flag) are recorded as they are, without a TCP retry.
"""

from __future__ import annotations

import base64
import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from probe import failures
from probe.model import DNSAnswer, DNSQuery
from probe.net import encrypted_dns
from probe.net.names import canonical_name
from probe.net.trace import Trace
from probe.resolvers import Resolver

LATE_RESPONSE_TAG = "late_response"
MAX_LATE_REPLIES = 16
"""Late responses kept per query; a flood beyond this adds nothing to the evidence."""
MAX_DATAGRAMS_READ = 256
"""Datagrams read per listening phase, so that a flood of junk cannot keep the loop busy."""
MAX_UDP_PAYLOAD = 65535

_T = TypeVar("_T")

_SYSTEM_FAMILIES = {"A": socket.AF_INET, "AAAA": socket.AF_INET6}

# Rcodes that are an answer of their own; any other non-zero rcode means the server is misbehaving.
_RCODE_FAILURES = {
    dns.rcode.NXDOMAIN: failures.DNS_NXDOMAIN,
    dns.rcode.SERVFAIL: failures.DNS_SERVFAIL,
    dns.rcode.REFUSED: failures.DNS_REFUSED,
}


def lookup(
    hostname: str,
    resolver: Resolver,
    query_type: str,
    trace: Trace,
    *,
    timeout: float,
    late_window: float,
    ca_bundle: Path | None = None,
) -> list[DNSQuery]:
    """Resolve ``hostname``; return the answer that counted first, then any late answers.

    The first entry is the one that counts (its ``failure`` is ``None`` on success); UDP entries after it
    carry the tag ``late_response`` and the same ``transaction_id``. ``timeout`` bounds the wait for the
    first answer, ``late_window`` the listening after it (UDP only). ``ca_bundle`` verifies DoH/DoT resolvers.
    """
    rdtype = _rdtype(query_type)  # a wrong query type is the caller's error, not a network outcome
    hostname = canonical_name(hostname)  # IDNA 2008, as a browser asks: яндекс.рф is xn--d1acpjx3f.xn--p1ai
    if resolver.engine == "system":
        return [_system_lookup(hostname, dns.rdatatype.to_text(rdtype), trace, timeout=timeout)]
    if resolver.engine == "udp":
        return _udp_lookup(hostname, resolver, rdtype, trace, timeout=timeout, late_window=late_window)
    if resolver.engine == "tcp":
        return [_tcp_lookup(hostname, resolver, rdtype, trace, timeout=timeout)]
    if resolver.encrypted:
        return [_encrypted_lookup(hostname, resolver, rdtype, trace, timeout=timeout, ca_bundle=ca_bundle)]
    raise ValueError(f"unknown resolver engine {resolver.engine!r}")


def addresses(queries: list[DNSQuery]) -> list[str]:
    """Unique IPv4/IPv6 addresses of the answers that counted (not late ones), in order."""
    seen: dict[str, None] = {}
    for query in queries:
        if LATE_RESPONSE_TAG in query.tags:
            continue
        for answer in query.answers or []:
            for address in (answer.ipv4, answer.ipv6):
                if address is not None:
                    seen.setdefault(address, None)
    return list(seen)


# --- system resolver -------------------------------------------------------------------------------------


def _system_lookup(hostname: str, query_type: str, trace: Trace, *, timeout: float) -> DNSQuery:
    family = _SYSTEM_FAMILIES.get(query_type)
    if family is None:
        raise ValueError(f"the system resolver answers only A and AAAA, not {query_type!r}")
    transaction_id = trace.next_id()
    t0 = trace.elapsed()

    def entry(answers: list[DNSAnswer], failure: str | None) -> DNSQuery:
        return DNSQuery(
            engine="system",
            resolver_address="",
            hostname=hostname,
            query_type=query_type,
            answers=answers or None,
            failure=failure,
            t0=t0,
            t=trace.elapsed(),
            transaction_id=transaction_id,
        )

    literal = _ip_literal(hostname)
    if literal is not None:
        if literal.version != (4 if family == socket.AF_INET else 6):
            return entry([], failures.DNS_NO_ANSWER)
        return entry([_address_answer(str(literal))], None)

    outcome = _call_with_deadline(
        lambda: socket.getaddrinfo(hostname, None, family, socket.SOCK_STREAM), timeout=timeout
    )
    if outcome is None:
        return entry([], failures.TIMEOUT)
    result, error = outcome
    if error is not None:
        if isinstance(error, OSError | UnicodeError):
            return entry([], failures.classify(error))
        raise error
    found: dict[str, None] = {}
    for _family, _type, _proto, _canonname, sockaddr in result or []:
        # Drop an IPv6 scope id ("fe80::1%eth0"): the model stores the bare address.
        found.setdefault(str(sockaddr[0]).split("%", 1)[0], None)
    answers = [_address_answer(address) for address in found]
    return entry(answers, None if answers else failures.DNS_NO_ANSWER)


def _call_with_deadline(function: Callable[[], _T], *, timeout: float) -> tuple[_T | None, BaseException | None] | None:
    """Run ``function`` in a daemon thread; its (result, error), or None if it is still running at timeout.

    A thread that outlives the timeout is abandoned, not killed: getaddrinfo cannot be interrupted, and the
    C library ends it by its own resolver timeouts.
    """
    outcome: list[tuple[_T | None, BaseException | None]] = []

    def work() -> None:
        try:
            outcome.append((function(), None))
        except BaseException as exc:  # handed to the caller, which decides
            outcome.append((None, exc))

    worker = threading.Thread(target=work, name="probe-getaddrinfo", daemon=True)
    worker.start()
    worker.join(max(timeout, 0.0))
    return outcome[0] if outcome else None


# --- UDP and TCP resolvers -------------------------------------------------------------------------------


class _Exchange:
    """One query to one resolver: builds the df-002 entries that share its transaction id."""

    def __init__(self, hostname: str, resolver: Resolver, rdtype: dns.rdatatype.RdataType, trace: Trace) -> None:
        self.hostname = hostname
        self.resolver = resolver
        self.rdtype = rdtype
        self.query_type = dns.rdatatype.to_text(rdtype)
        self.trace = trace
        self.transaction_id = trace.next_id()
        self.t0 = trace.elapsed()
        self.query: dns.message.QueryMessage | None = None

    def build_query(self) -> bytes:
        """The query's wire form; raises DNSException/ValueError for a hostname that is not a DNS name."""
        self.query = dns.message.make_query(dns.name.from_text(self.hostname), self.rdtype)
        return self.query.to_wire()

    def failed(self, failure: str, raw: bytes | None = None) -> DNSQuery:
        return self._entry(failure=failure, raw=raw)

    def answered(self, reply: dns.message.Message, raw: bytes, *, late: bool = False) -> DNSQuery:
        answers = _answers(reply)
        return self._entry(
            failure=_reply_failure(reply, self.rdtype),
            answers=answers,
            rcode=reply.rcode(),
            raw=raw,
            tags=[LATE_RESPONSE_TAG] if late else [],
        )

    def event(self, operation: str, **fields: object) -> None:
        self.trace.event(
            operation,
            address=self.resolver.address,
            proto=self.resolver.engine,
            transaction_id=self.transaction_id,
            **fields,
        )

    def _entry(
        self,
        *,
        failure: str | None,
        answers: list[DNSAnswer] | None = None,
        rcode: int | None = None,
        raw: bytes | None = None,
        tags: list[str] | None = None,
    ) -> DNSQuery:
        engine = self.resolver.engine
        assert engine != "system"
        return DNSQuery(
            engine=engine,
            resolver_address=self.resolver.address,
            hostname=self.hostname,
            query_type=self.query_type,
            answers=answers or None,
            failure=failure,
            rcode=rcode,
            raw_response=base64.b64encode(raw).decode("ascii") if raw is not None else None,
            t0=self.t0,
            t=self.trace.elapsed(),
            transaction_id=self.transaction_id,
            tags=tags or [],
            x_query_id=self.query.id if self.query is not None else None,
        )


def _udp_lookup(
    hostname: str,
    resolver: Resolver,
    rdtype: dns.rdatatype.RdataType,
    trace: Trace,
    *,
    timeout: float,
    late_window: float,
) -> list[DNSQuery]:
    exchange = _Exchange(hostname, resolver, rdtype, trace)
    try:
        wire = exchange.build_query()
    except (dns.exception.DNSException, ValueError) as exc:
        return [exchange.failed(failures.classify(exc))]
    query = exchange.query
    assert query is not None

    try:
        sock = socket.socket(_family_of(resolver.host), socket.SOCK_DGRAM)
    except OSError as exc:
        return [exchange.failed(failures.classify(exc))]
    with sock:
        try:
            # Connected, so that an ICMP port unreachable comes back as ConnectionRefusedError.
            sock.connect((resolver.host, resolver.port))
            sent = sock.send(wire)
        except OSError as exc:
            exchange.event("write", failure=failures.classify(exc))
            return [exchange.failed(failures.classify(exc))]
        exchange.event("write", num_bytes=sent)

        first, stray = _first_reply(sock, query, exchange, deadline=time.monotonic() + timeout)
        if isinstance(first, str):
            return [exchange.failed(first, stray)]
        reply, raw = first
        entries = [exchange.answered(reply, raw)]
        for late_reply, late_raw in _late_replies(sock, query, exchange, deadline=time.monotonic() + late_window):
            entries.append(exchange.answered(late_reply, late_raw, late=True))
    return entries


_Received = tuple[dns.message.Message, bytes]


def _first_reply(
    sock: socket.socket, query: dns.message.Message, exchange: _Exchange, *, deadline: float
) -> tuple[_Received | str, bytes | None]:
    """The first response to ``query``, or a failure string and the stray datagram that explains it.

    Datagrams that are not a response to the query are skipped without extending the deadline. If none
    counted, unparseable ones make it ``dns_server_misbehaving``, responses with another id
    ``dns_reply_with_wrong_query_id``, and silence ``generic_timeout_error``.
    """
    garbage: bytes | None = None
    wrong_id: bytes | None = None
    for _ in range(MAX_DATAGRAMS_READ):
        received = _receive(sock, exchange, deadline)
        if isinstance(received, str):
            if received != failures.TIMEOUT:
                return received, None
            break
        reply = _parse(received)
        if reply is None:
            garbage = garbage or received
        elif query.is_response(reply):
            return (reply, received), None
        elif reply.id != query.id:
            wrong_id = wrong_id or received
    if garbage is not None:
        return failures.DNS_MISBEHAVING, garbage
    if wrong_id is not None:
        return failures.DNS_WRONG_QUERY_ID, wrong_id
    return failures.TIMEOUT, None


def _late_replies(
    sock: socket.socket, query: dns.message.Message, exchange: _Exchange, *, deadline: float
) -> list[_Received]:
    """Further responses to ``query`` until ``deadline``; other datagrams are skipped, an error ends it."""
    replies: list[_Received] = []
    for _ in range(MAX_DATAGRAMS_READ):
        if len(replies) >= MAX_LATE_REPLIES:
            break
        received = _receive(sock, exchange, deadline)
        if isinstance(received, str):
            break
        reply = _parse(received)
        if reply is not None and query.is_response(reply):
            replies.append((reply, received))
    return replies


def _receive(sock: socket.socket, exchange: _Exchange, deadline: float) -> bytes | str:
    """One datagram, or a failure string (``generic_timeout_error`` once ``deadline`` has passed)."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return failures.TIMEOUT
    sock.settimeout(remaining)
    try:
        data = sock.recv(MAX_UDP_PAYLOAD)
    except OSError as exc:
        failure = failures.classify(exc)
        if failure != failures.TIMEOUT:
            exchange.event("read", failure=failure)
        return failure
    exchange.event("read", num_bytes=len(data))
    return data


def _tcp_lookup(
    hostname: str, resolver: Resolver, rdtype: dns.rdatatype.RdataType, trace: Trace, *, timeout: float
) -> DNSQuery:
    exchange = _Exchange(hostname, resolver, rdtype, trace)
    try:
        wire = exchange.build_query()
    except (dns.exception.DNSException, ValueError) as exc:
        return exchange.failed(failures.classify(exc))
    query = exchange.query
    assert query is not None

    deadline = time.monotonic() + timeout
    operation = "connect"
    try:
        with socket.create_connection((resolver.host, resolver.port), timeout=timeout) as sock:
            exchange.event(operation)
            operation = "write"
            sock.settimeout(max(deadline - time.monotonic(), 0.0))
            sock.sendall(len(wire).to_bytes(2, "big") + wire)
            exchange.event(operation, num_bytes=len(wire) + 2)
            operation = "read"
            length = int.from_bytes(_recv_exactly(sock, 2, deadline), "big")
            raw = _recv_exactly(sock, length, deadline)
            exchange.event(operation, num_bytes=length + 2)
    except (OSError, EOFError) as exc:
        exchange.event(operation, failure=failures.classify(exc))
        return exchange.failed(failures.classify(exc))

    reply = _parse(raw)
    if reply is None:
        return exchange.failed(failures.DNS_MISBEHAVING, raw)
    if query.is_response(reply):
        return exchange.answered(reply, raw)
    if reply.id != query.id:
        return exchange.failed(failures.DNS_WRONG_QUERY_ID, raw)
    return exchange.failed(failures.DNS_MISBEHAVING, raw)


def _encrypted_lookup(
    hostname: str,
    resolver: Resolver,
    rdtype: dns.rdatatype.RdataType,
    trace: Trace,
    *,
    timeout: float,
    ca_bundle: Path | None,
) -> DNSQuery:
    exchange = _Exchange(hostname, resolver, rdtype, trace)
    try:
        exchange.build_query()
    except (dns.exception.DNSException, ValueError) as exc:
        return exchange.failed(failures.classify(exc))
    query = exchange.query
    assert query is not None
    exchange.event("resolve_start")
    try:
        reply = encrypted_dns.exchange(query, resolver, timeout=timeout, ca_bundle=ca_bundle)
    except Exception as exc:  # dnspython and httpx2 raise many kinds; each becomes a failure string
        failure = encrypted_dns.failure(exc)
        exchange.event("resolve_done", failure=failure)
        return exchange.failed(failure)
    exchange.event("resolve_done")
    return exchange.answered(reply, reply.to_wire())


def _recv_exactly(sock: socket.socket, size: int, deadline: float) -> bytes:
    """``size`` bytes from a stream; EOFError if the peer closes first, TimeoutError past ``deadline``."""
    data = bytearray()
    # Each recv returns at least one byte or ends the loop, so ``size + 1`` rounds are enough.
    for _ in range(size + 1):
        if len(data) >= size:
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("DNS over TCP: no complete reply before the deadline")
        sock.settimeout(remaining)
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError("DNS over TCP: connection closed before the reply was complete")
        data += chunk
    return bytes(data)


# --- helpers ---------------------------------------------------------------------------------------------


def _parse(data: bytes) -> dns.message.Message | None:
    """The DNS message in ``data``, or None when it cannot be parsed."""
    try:
        return dns.message.from_wire(data)
    # Bytes from the wire: dnspython reports bad input as DNSException, occasionally as ValueError.
    except (dns.exception.DNSException, ValueError):
        return None


def _answers(reply: dns.message.Message) -> list[DNSAnswer]:
    answers: list[DNSAnswer] = []
    for rrset in reply.answer:
        if rrset.rdclass != dns.rdataclass.IN:
            continue
        for rdata in rrset:
            if rrset.rdtype == dns.rdatatype.A:
                answers.append(DNSAnswer(answer_type="A", ipv4=rdata.address, ttl=rrset.ttl))
            elif rrset.rdtype == dns.rdatatype.AAAA:
                answers.append(DNSAnswer(answer_type="AAAA", ipv6=rdata.address, ttl=rrset.ttl))
            elif rrset.rdtype == dns.rdatatype.CNAME:
                hostname = rdata.target.to_text(omit_final_dot=True)
                answers.append(DNSAnswer(answer_type="CNAME", hostname=hostname, ttl=rrset.ttl))
    return answers


def _reply_failure(reply: dns.message.Message, rdtype: dns.rdatatype.RdataType) -> str | None:
    rcode = reply.rcode()
    if rcode != dns.rcode.NOERROR:
        return _RCODE_FAILURES.get(rcode, failures.DNS_MISBEHAVING)
    if not any(rrset.rdtype == rdtype and len(rrset) > 0 for rrset in reply.answer):
        return failures.DNS_NO_ANSWER
    return None


def _rdtype(query_type: str) -> dns.rdatatype.RdataType:
    try:
        return dns.rdatatype.from_text(query_type)
    except dns.rdatatype.UnknownRdatatype:
        raise ValueError(f"unknown DNS query type {query_type!r}") from None


def _address_answer(address: str) -> DNSAnswer:
    if ":" in address:
        return DNSAnswer(answer_type="AAAA", ipv6=address)
    return DNSAnswer(answer_type="A", ipv4=address)


def _ip_literal(hostname: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(hostname.strip("[]"))
    except ValueError:
        return None


def _family_of(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
