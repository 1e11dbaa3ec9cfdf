"""TCP connect against real loopback servers: success, refusal, reset, dropped SYNs."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from support.servers import Endpoint, tcp_blackhole_server, tcp_refusing_port, tcp_resetting_server, tcp_server
from support.timing import PATIENT, SLACK

from probe.addresses import format_endpoint
from probe.failures import classify
from probe.net import tcp
from probe.net.trace import Trace


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_connect_to_listening_port_succeeds_and_is_recorded() -> None:
    trace = Trace()
    with tcp_server() as endpoint:
        sock, observation = tcp.connect("127.0.0.1", endpoint.port, trace, timeout=2)
    assert sock is not None
    sock.close()
    assert observation.status.success and observation.status.failure is None
    assert (observation.ip, observation.port) == ("127.0.0.1", endpoint.port)
    assert 0 <= observation.t0 <= observation.t
    [event] = trace.network_events
    assert event.operation == "connect" and event.proto == "tcp" and event.failure is None
    assert event.address == endpoint.address
    assert event.transaction_id == observation.transaction_id


def test_connect_to_closed_port_is_connection_refused() -> None:
    trace = Trace()
    with tcp_refusing_port() as endpoint:
        started = time.monotonic()
        sock, observation = tcp.connect(endpoint.host, endpoint.port, trace, timeout=PATIENT)
    assert sock is None
    assert not observation.status.success
    assert observation.status.failure == "connection_refused"
    assert trace.network_events[0].failure == "connection_refused"
    assert time.monotonic() - started < SLACK


def test_reset_after_accept_connects_and_then_reads_connection_reset() -> None:
    connected = threading.Event()
    with tcp_resetting_server(after=connected) as endpoint:
        sock, observation = tcp.connect(endpoint.host, endpoint.port, Trace(), timeout=2)
        connected.set()
        assert sock is not None and observation.status.success  # the kernel completed the handshake
        with sock, pytest.raises(OSError) as raised:
            sock.recv(1)
    assert classify(raised.value) == "connection_reset"


def test_dropped_syn_is_generic_timeout_error_within_the_timeout() -> None:
    with tcp_blackhole_server() as endpoint:
        started = time.monotonic()
        sock, observation = tcp.connect(endpoint.host, endpoint.port, Trace(), timeout=1.0)
        elapsed = time.monotonic() - started
    assert sock is None
    assert observation.status.failure == "generic_timeout_error"
    assert 0.9 <= elapsed < 1.0 + SLACK


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")
def test_connect_over_ipv6_loopback_records_bracketed_address() -> None:
    trace = Trace()
    with tcp_server("::1") as endpoint:
        sock, observation = tcp.connect("::1", endpoint.port, trace, timeout=2)
    assert sock is not None
    sock.close()
    assert observation.status.success
    assert trace.network_events[0].address == f"[::1]:{endpoint.port}"


def test_hostname_instead_of_ip_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="IP address"):
        tcp.connect("localhost", 80, Trace(), timeout=1)


def test_endpoint_address_formats_ipv6_with_brackets() -> None:
    assert Endpoint("::1", 8).address == format_endpoint("::1", 8) == "[::1]:8"
