"""probe.net.dns against a real DNS server on 127.0.0.1; the system engine on /etc/hosts and stand-ins.

No test sends a packet beyond loopback: UDP/TCP lookups go to the local test server, and system lookups
are either of ``localhost`` (answered from /etc/hosts), of IP literals, or of a stand-in getaddrinfo.
"""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import dns.message
import dns.rcode
import pytest
from support.dnsserver import (
    GARBAGE,
    NO_ANSWER,
    NXDOMAIN,
    REFUSED,
    SERVFAIL,
    SILENT,
    WRONG_ID,
    Answer,
    Behaviour,
    DNSServer,
    Injected,
    running_dns_server,
)

from probe.model import DNSAnswer, DNSQuery
from probe.net.dns import MAX_LATE_REPLIES, addresses, lookup
from probe.net.trace import Trace
from probe.resolvers import Resolver

TIMEOUT = 0.5
SHORT_LATE_WINDOW = 0.05
# Generous bound for "returned about when it should", loaded CI machines included.
SLACK = 1.0

RECORDS: dict[str, Behaviour] = {
    "example.org": Answer(("93.184.216.34", "2606:2800:220:1::1"), ttl=1234),
    "www.example.org": Answer(("93.184.216.34",), cname="cdn.example.net"),
    "blocked.example": Injected(forged=("10.10.34.35",), genuine=("93.184.216.34",), delay=0.1),
    "gone.example": NXDOMAIN,
    "broken.example": SERVFAIL,
    "refused.example": REFUSED,
    "empty.example": NO_ANSWER,
    "dropped.example": SILENT,
    "garbage.example": GARBAGE,
    "wrong-id.example": WRONG_ID,
}


@pytest.fixture(scope="module")
def server() -> Iterator[DNSServer]:
    with running_dns_server(RECORDS) as running:
        yield running


@pytest.fixture
def trace() -> Trace:
    return Trace()


def closed_port(kind: socket.SocketKind) -> int:
    """A port on 127.0.0.1 with nobody listening (bound, then released)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def udp(
    server: DNSServer, name: str, trace: Trace, query_type: str = "A", late_window: float = SHORT_LATE_WINDOW
) -> list[DNSQuery]:
    return lookup(name, server.resolver("udp"), query_type, trace, timeout=TIMEOUT, late_window=late_window)


def timed(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = function(*args, **kwargs)
    return result, time.monotonic() - started


# --- UDP ---------------------------------------------------------------------------------------------------


def test_udp_lookup_returns_a_records_with_ttl_rcode_and_raw_reply(server: DNSServer, trace: Trace) -> None:
    [query] = udp(server, "example.org", trace)

    assert query.failure is None
    assert query.engine == "udp"
    assert query.resolver_address == server.address
    assert query.answers == [DNSAnswer(answer_type="A", ipv4="93.184.216.34", ttl=1234)]
    assert query.rcode == dns.rcode.NOERROR
    assert query.raw_response is not None
    reply = dns.message.from_wire(base64.b64decode(query.raw_response))
    assert reply.id == query.x_query_id
    assert 0 <= query.t0 <= query.t
    assert query.tags == []


def test_udp_lookup_returns_aaaa_records(server: DNSServer, trace: Trace) -> None:
    [query] = udp(server, "example.org", trace, query_type="AAAA")

    assert query.failure is None
    assert query.answers == [DNSAnswer(answer_type="AAAA", ipv6="2606:2800:220:1::1", ttl=1234)]
    assert server.queries[-1] == ("udp", "example.org", "AAAA")


def test_udp_lookup_records_cname_before_its_addresses(server: DNSServer, trace: Trace) -> None:
    [query] = udp(server, "www.example.org", trace)

    assert query.failure is None
    assert query.answers is not None
    assert [(a.answer_type, a.hostname, a.ipv4) for a in query.answers] == [
        ("CNAME", "cdn.example.net", None),
        ("A", None, "93.184.216.34"),
    ]
    assert addresses([query]) == ["93.184.216.34"]


def test_udp_lookup_records_forged_then_genuine_answer_as_late_response(server: DNSServer, trace: Trace) -> None:
    queries = udp(server, "blocked.example", trace, late_window=0.6)

    assert len(queries) == 2
    first, late = queries
    assert first.failure is None and late.failure is None
    assert first.answers is not None and late.answers is not None
    assert [a.ipv4 for a in first.answers] == ["10.10.34.35"]
    assert [a.ipv4 for a in late.answers] == ["93.184.216.34"]
    assert first.tags == [] and late.tags == ["late_response"]
    assert late.transaction_id == first.transaction_id
    assert late.x_query_id == first.x_query_id
    assert late.raw_response != first.raw_response
    assert first.t < late.t
    # What counted is the first answer; the late one is evidence, not an address to connect to.
    assert addresses(queries) == ["10.10.34.35"]


def test_udp_lookup_keeps_listening_for_the_late_window_only(server: DNSServer, trace: Trace) -> None:
    queries, elapsed = timed(udp, server, "example.org", trace, late_window=0.3)

    assert len(queries) == 1
    assert 0.3 <= elapsed < 0.3 + SLACK


def test_late_response_after_the_window_is_not_recorded(server: DNSServer, trace: Trace) -> None:
    queries = udp(server, "blocked.example", trace, late_window=0.0)

    assert len(queries) == 1
    assert queries[0].answers is not None
    assert [a.ipv4 for a in queries[0].answers] == ["10.10.34.35"]


@pytest.mark.parametrize(
    ("name", "failure", "rcode"),
    [
        ("gone.example", "dns_nxdomain_error", dns.rcode.NXDOMAIN),
        ("broken.example", "dns_servfail_error", dns.rcode.SERVFAIL),
        ("refused.example", "dns_refused_error", dns.rcode.REFUSED),
        ("empty.example", "dns_no_answer", dns.rcode.NOERROR),
    ],
)
def test_nxdomain_is_recorded_not_raised(server: DNSServer, trace: Trace, name: str, failure: str, rcode: int) -> None:
    """Also SERVFAIL, REFUSED and an empty NOERROR: each is an answer with its failure string."""
    [query] = udp(server, name, trace)

    assert query.failure == failure
    assert query.rcode == rcode
    assert query.answers is None
    assert query.raw_response is not None


def test_answer_of_another_family_only_is_dns_no_answer(server: DNSServer, trace: Trace) -> None:
    with running_dns_server({"v4only.example": Answer(("192.0.2.7",))}) as v4only:
        [query] = udp(v4only, "v4only.example", trace, query_type="AAAA")

    assert query.failure == "dns_no_answer"
    assert query.rcode == dns.rcode.NOERROR


def test_silent_resolver_times_out_within_timeout(server: DNSServer, trace: Trace) -> None:
    [query], elapsed = timed(udp, server, "dropped.example", trace)

    assert query.failure == "generic_timeout_error"
    assert query.answers is None and query.raw_response is None and query.rcode is None
    assert TIMEOUT <= elapsed < TIMEOUT + SLACK
    assert query.t - query.t0 >= TIMEOUT


def test_garbage_reply_is_dns_server_misbehaving(server: DNSServer, trace: Trace) -> None:
    [query], elapsed = timed(udp, server, "garbage.example", trace)

    assert query.failure == "dns_server_misbehaving"
    assert query.raw_response is not None
    assert base64.b64decode(query.raw_response) == b"\x13\x37garbage"
    # A valid answer could still have followed the garbage, so the lookup waited for it.
    assert TIMEOUT <= elapsed < TIMEOUT + SLACK


def test_reply_with_wrong_id_is_ignored_and_named_after_the_timeout(server: DNSServer, trace: Trace) -> None:
    [query], elapsed = timed(udp, server, "wrong-id.example", trace)

    assert query.failure == "dns_reply_with_wrong_query_id"
    assert query.answers is None
    assert TIMEOUT <= elapsed < TIMEOUT + SLACK


def test_closed_udp_port_is_connection_refused(trace: Trace) -> None:
    resolver = Resolver("udp", "127.0.0.1", closed_port(socket.SOCK_DGRAM))

    [query], elapsed = timed(
        lookup, "example.org", resolver, "A", trace, timeout=TIMEOUT, late_window=SHORT_LATE_WINDOW
    )

    assert query.failure == "connection_refused"
    assert elapsed < TIMEOUT + SLACK


def test_flood_of_late_replies_is_bounded(trace: Trace) -> None:
    """A resolver (or injector) that answers many times fills at most MAX_LATE_REPLIES late entries."""
    stop = threading.Event()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as flooder:
        flooder.bind(("127.0.0.1", 0))
        flooder.settimeout(TIMEOUT)

        def answer_many_times() -> None:
            data, client = flooder.recvfrom(512)
            reply = dns.message.make_response(dns.message.from_wire(data)).to_wire()
            for _ in range(MAX_LATE_REPLIES + 10):
                if stop.is_set():
                    break
                flooder.sendto(reply, client)

        worker = threading.Thread(target=answer_many_times, daemon=True)
        worker.start()
        resolver = Resolver("udp", "127.0.0.1", flooder.getsockname()[1])
        queries = lookup("example.org", resolver, "A", trace, timeout=TIMEOUT, late_window=0.3)
        stop.set()
        worker.join(TIMEOUT + SLACK)

    assert len(queries) == 1 + MAX_LATE_REPLIES
    assert all(query.tags == ["late_response"] for query in queries[1:])


def test_each_lookup_has_its_own_transaction_id_and_network_events(server: DNSServer, trace: Trace) -> None:
    [first] = udp(server, "example.org", trace)
    [second] = udp(server, "example.org", trace)

    assert first.transaction_id != second.transaction_id
    operations = [(e.operation, e.proto, e.transaction_id) for e in trace.network_events]
    assert ("write", "udp", first.transaction_id) in operations
    assert ("read", "udp", second.transaction_id) in operations
    assert all(e.address == server.address for e in trace.network_events)


def test_hostname_that_is_not_a_dns_name_is_recorded_not_raised(server: DNSServer, trace: Trace) -> None:
    [query] = udp(server, "a..b", trace)

    assert query.failure is not None and query.failure.startswith("unknown_failure")
    assert all(name != "a..b" for _, name, _ in server.queries)


# --- TCP ---------------------------------------------------------------------------------------------------


def tcp(server: DNSServer, name: str, trace: Trace, query_type: str = "A") -> list[DNSQuery]:
    return lookup(name, server.resolver("tcp"), query_type, trace, timeout=TIMEOUT, late_window=SHORT_LATE_WINDOW)


def test_tcp_lookup_returns_the_answer(server: DNSServer, trace: Trace) -> None:
    [query] = tcp(server, "example.org", trace)

    assert query.engine == "tcp"
    assert query.failure is None
    assert query.answers == [DNSAnswer(answer_type="A", ipv4="93.184.216.34", ttl=1234)]
    assert query.raw_response is not None
    assert server.queries[-1] == ("tcp", "example.org", "A")


def test_tcp_lookup_of_injected_name_gets_one_genuine_answer_and_no_late_window(
    server: DNSServer, trace: Trace
) -> None:
    queries = tcp(server, "blocked.example", trace)

    assert len(queries) == 1
    assert addresses(queries) == ["93.184.216.34"]


def test_tcp_nxdomain_is_recorded_not_raised(server: DNSServer, trace: Trace) -> None:
    [query] = tcp(server, "gone.example", trace)

    assert query.failure == "dns_nxdomain_error"
    assert query.rcode == dns.rcode.NXDOMAIN


def test_tcp_garbage_reply_is_dns_server_misbehaving(server: DNSServer, trace: Trace) -> None:
    [query] = tcp(server, "garbage.example", trace)

    assert query.failure == "dns_server_misbehaving"


def test_tcp_silent_resolver_times_out_within_timeout(server: DNSServer, trace: Trace) -> None:
    [query], elapsed = timed(tcp, server, "dropped.example", trace)

    assert query.failure == "generic_timeout_error"
    assert TIMEOUT <= elapsed < TIMEOUT + SLACK


def test_tcp_closed_port_is_connection_refused(trace: Trace) -> None:
    resolver = Resolver("tcp", "127.0.0.1", closed_port(socket.SOCK_STREAM))

    [query] = lookup("example.org", resolver, "A", trace, timeout=TIMEOUT, late_window=SHORT_LATE_WINDOW)

    assert query.failure == "connection_refused"
    assert [(e.operation, e.failure) for e in trace.network_events] == [("connect", "connection_refused")]


# --- system resolver ---------------------------------------------------------------------------------------

SYSTEM = Resolver("system")


def system(name: str, trace: Trace, query_type: str = "A", timeout: float = TIMEOUT) -> DNSQuery:
    [query] = lookup(name, SYSTEM, query_type, trace, timeout=timeout, late_window=SHORT_LATE_WINDOW)
    return query


def refuse_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_lookup(*args: object, **kwargs: object) -> object:
        raise AssertionError("getaddrinfo must not be called")

    monkeypatch.setattr(socket, "getaddrinfo", no_lookup)


def test_system_resolver_answers_localhost_from_the_hosts_file(trace: Trace) -> None:
    # /etc/hosts comes before DNS in nsswitch, so this lookup stays on the machine.
    query = system("localhost", trace)

    assert query.engine == "system"
    assert query.resolver_address == ""
    assert query.failure is None
    assert addresses([query]) == ["127.0.0.1"]
    assert query.answers == [DNSAnswer(answer_type="A", ipv4="127.0.0.1", ttl=None)]


@pytest.mark.parametrize(
    ("literal", "query_type", "answer"),
    [
        ("192.0.2.1", "A", DNSAnswer(answer_type="A", ipv4="192.0.2.1")),
        ("2001:db8::1", "AAAA", DNSAnswer(answer_type="AAAA", ipv6="2001:db8::1")),
    ],
)
def test_system_resolver_answers_ip_literal_without_lookup(
    monkeypatch: pytest.MonkeyPatch, trace: Trace, literal: str, query_type: str, answer: DNSAnswer
) -> None:
    refuse_lookups(monkeypatch)

    query = system(literal, trace, query_type)

    assert query.failure is None
    assert query.answers == [answer]


def test_system_resolver_ip_literal_of_other_family_is_dns_no_answer(
    monkeypatch: pytest.MonkeyPatch, trace: Trace
) -> None:
    refuse_lookups(monkeypatch)

    assert system("192.0.2.1", trace, "AAAA").failure == "dns_no_answer"


def test_system_resolver_asks_the_family_of_the_query_type_and_dedupes(
    monkeypatch: pytest.MonkeyPatch, trace: Trace
) -> None:
    asked: list[tuple[str, int]] = []

    def fake_getaddrinfo(host: str, port: object, family: int = 0, *args: object) -> list[Any]:
        asked.append((host, family))
        sockaddr = ("2001:db8::5", 0, 0, 0)
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", sockaddr)] * 2

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)

    query = system("dual.example", trace, "AAAA")

    assert asked == [("dual.example", socket.AF_INET6)]
    assert query.answers == [DNSAnswer(answer_type="AAAA", ipv6="2001:db8::5")]


def test_system_resolver_nxdomain_is_recorded_not_raised(monkeypatch: pytest.MonkeyPatch, trace: Trace) -> None:
    def nxdomain(*args: object, **kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", nxdomain)

    query = system("x.invalid", trace)

    assert query.failure == "dns_nxdomain_error"
    assert query.answers is None


def test_system_resolver_hung_lookup_times_out_within_timeout(monkeypatch: pytest.MonkeyPatch, trace: Trace) -> None:
    release = threading.Event()

    def hang(*args: object, **kwargs: object) -> object:
        release.wait(10)
        raise socket.gaierror(socket.EAI_AGAIN, "released")

    monkeypatch.setattr(socket, "getaddrinfo", hang)
    try:
        query, elapsed = timed(system, "hung.example", trace)
    finally:
        release.set()

    assert query.failure == "generic_timeout_error"
    assert TIMEOUT <= elapsed < TIMEOUT + SLACK


def test_system_resolver_rejects_query_types_it_cannot_ask(trace: Trace) -> None:
    with pytest.raises(ValueError, match="MX"):
        system("localhost", trace, "MX")


# --- addresses ---------------------------------------------------------------------------------------------


def test_addresses_are_unique_in_order_and_skip_late_responses() -> None:
    def entry(*ips: str, tags: list[str] | None = None, transaction_id: int = 1) -> DNSQuery:
        answers = [
            DNSAnswer(answer_type="AAAA", ipv6=ip) if ":" in ip else DNSAnswer(answer_type="A", ipv4=ip) for ip in ips
        ]
        return DNSQuery(
            engine="udp",
            resolver_address="127.0.0.1:53",
            hostname="example.org",
            query_type="A",
            answers=answers or None,
            t0=0.0,
            t=0.1,
            transaction_id=transaction_id,
            tags=tags or [],
        )

    queries = [
        entry("192.0.2.2", "192.0.2.1"),
        entry("198.51.100.9", tags=["late_response"]),
        entry(transaction_id=2),
        entry("2001:db8::1", "192.0.2.2", transaction_id=3),
    ]

    assert addresses(queries) == ["192.0.2.2", "192.0.2.1", "2001:db8::1"]


def test_unknown_query_type_is_a_programming_error(server: DNSServer, trace: Trace) -> None:
    with pytest.raises(ValueError, match="BOGUS"):
        udp(server, "example.org", trace, query_type="BOGUS")
