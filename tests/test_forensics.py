"""Packet forensics: judging a reset's TTL and IP-ID, capturing on loopback (root), and naming the hop.

Captures run only against servers on 127.0.0.1 started here; nothing is sent with scapy.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from support.dnsserver import Injected, running_dns_server
from support.servers import Exchange, http_server, page, reset_after_hello_server, tcp_resetting_server

from probe.cli.main import cli
from probe.forensics import capture
from probe.forensics.hello import client_hello, http_request
from probe.forensics.trace import Probe, TraceError, TraceResult, locate, trace
from probe.model.packet import Packet
from probe.stage.forensics import dns_forensics, reset_forensics
from probe.verdict.forensics import judge_dns, judge_reset

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="packet capture needs root")
SERVER, CLIENT = "198.51.100.7", "198.18.1.2"


def from_server(flags: str, ttl: int, ip_id: int) -> Packet:
    return Packet(0.0, "tcp", SERVER, 80, CLIENT, 40000, ttl, ip_id, flags)


def test_a_reset_whose_ttl_does_not_fit_the_servers_is_injected() -> None:
    packets = [from_server("SA", 52, 0), from_server("A", 52, 3100), from_server("R", 61, 54321)]
    judged = judge_reset(packets, SERVER, 80)
    assert judged["injected"] is True and "TTL 61" in judged["conclusion"] and "52" in judged["conclusion"]


def test_a_reset_off_the_servers_ip_id_sequence_is_injected() -> None:
    packets = [from_server("SA", 52, 0), from_server("A", 52, 3100), from_server("PA", 52, 3101)]
    judged = judge_reset([*packets, from_server("R", 52, 40000)], SERVER, 80)
    assert judged["injected"] is True and "IP-ID 40000" in judged["conclusion"]


def test_a_reset_that_fits_the_servers_packets_is_genuine() -> None:
    packets = [from_server("SA", 52, 0), from_server("A", 52, 3100), from_server("R", 52, 3101)]
    judged = judge_reset(packets, SERVER, 80)
    assert judged["injected"] is False and len(judged["genuine"]) == 2


def test_a_lone_reset_has_nothing_to_be_compared_with() -> None:
    judged = judge_reset([from_server("R", 61, 1)], SERVER, 80)
    assert judged["injected"] is None
    assert "no genuine packet" in judged["conclusion"]


def test_two_dns_answers_with_different_ttls_are_an_injection() -> None:
    answers = [
        Packet(0.0, "udp", "8.8.8.8", 53, CLIENT, 5353, 60, 7),
        Packet(0.2, "udp", "8.8.8.8", 53, CLIENT, 5353, 115, 31000),
    ]
    assert judge_dns(answers, "8.8.8.8", 53)["injected"] is True
    assert judge_dns(answers[:1], "8.8.8.8", 53)["injected"] is None


def test_the_test_requests_carry_the_name() -> None:
    assert b"twitter.com" in client_hello("twitter.com") and client_hello("x.test")[0] == 0x16
    assert b"Host: twitter.com\r\n" in http_request("twitter.com")


@needs_root
def test_capture_of_a_servers_own_reset_on_loopback() -> None:
    with tcp_resetting_server() as server:
        found = reset_forensics(server.host, server.port, None, timeout=1.0)
    assert found["status"] == "ok"
    assert found["suspicious"] and found["suspicious"][0]["flags"].startswith("R")
    assert any(p["flags"] == "SA" for p in found["genuine"])
    assert found["injected"] is False  # it is the server's own reset: same TTL, next IP-ID


@needs_root
def test_capture_of_a_reset_after_the_request_on_loopback() -> None:
    with reset_after_hello_server() as server:
        found = reset_forensics(server.host, server.port, http_request("guljan.org"), timeout=1.0)
    assert found["status"] == "ok" and found["injected"] is False
    assert [p["ttl"] for p in found["suspicious"]] == [64]


class LaggingCapture(capture.Capture):
    """A capture whose thread spends ``lag`` seconds on each packet it keeps: it reads a flow's last packets
    well after the flow ended, later than ``SETTLE_SECONDS`` (a busy machine's capture)."""

    lag = 0.1

    def __init__(self, iface: str | None, keep: Callable[[Any], bool], **options: Any) -> None:
        def slow(raw: Any) -> bool:
            kept = keep(raw)
            if kept:
                time.sleep(self.lag)
            return kept

        super().__init__(iface, slow, **options)


@needs_root
def test_a_capture_that_lags_behind_the_flow_still_records_the_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capture, "Capture", LaggingCapture)
    with reset_after_hello_server() as server:
        found = reset_forensics(server.host, server.port, http_request("guljan.org"), timeout=1.0)
    assert [p["ttl"] for p in found["suspicious"]] == [64]
    assert any(p["flags"] == "SA" for p in found["genuine"])


@needs_root
def test_a_capture_that_lags_behind_the_flow_still_records_both_dns_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capture, "Capture", LaggingCapture)
    records = {"guljan.org": Injected(forged=("10.10.34.35",), genuine=("198.51.100.7",), delay=0.2)}
    with running_dns_server(records) as server:
        found = dns_forensics(server.host, server.port, "guljan.org", timeout=0.5, window=0.3)
    assert found["status"] == "ok" and len(found["answers"]) == 2
    assert found["injected"] is False  # both from the test server: the same TTL


def test_without_root_forensics_are_unavailable_and_trace_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert reset_forensics("127.0.0.1", 9, None, timeout=0.1) == {"status": "unavailable (no root)"}
    with pytest.raises(TraceError, match="no root"):
        trace("127.0.0.1", 9, "x.test")
    result = CliRunner().invoke(cli, ["trace", "--address", "127.0.0.1", "http://x.test/"])
    assert result.exit_code != 0 and "no root" in str(result.exception or result.output)


# --- naming the hop ---------------------------------------------------------------------------------------


def traced(*probes: Probe) -> TraceResult:
    result = TraceResult(SERVER, 80, "twitter.com", "example.com", "request", list(probes))
    locate(result)
    return result


def test_a_censor_that_resets_what_it_forwards_is_named_at_its_hop() -> None:
    # The lab's http_host_reset: the ISP router (hop 1) resets forwarded requests naming the site.
    result = traced(
        Probe(1, "test", "time_exceeded", "198.18.1.1"),
        Probe(1, "control", "time_exceeded", "198.18.1.1"),
        Probe(2, "test", "reset"),
        Probe(2, "control", "response", detail="HTTP/1.1 200 OK"),
    )
    assert (result.censor_hop, result.censor_address) == (1, "198.18.1.1")
    assert "reset at TTL 2" in result.conclusion


def test_a_censor_that_answers_in_the_sites_place_is_named_at_its_hop() -> None:
    # DNAT to a blockpage server on the router: the test request is answered before its TTL runs out.
    result = traced(
        Probe(1, "test", "response", detail="HTTP/1.1 200 OK"),
        Probe(1, "control", "time_exceeded", "198.18.1.1"),
    )
    assert (result.censor_hop, result.censor_address) == (1, "198.18.1.1")


def test_a_censor_that_drops_is_named_at_the_last_hop_that_answered() -> None:
    result = traced(
        Probe(1, "test", "time_exceeded", "10.0.0.1"),
        Probe(1, "control", "time_exceeded", "10.0.0.1"),
        Probe(2, "test", "time_exceeded", "10.0.1.1"),
        Probe(2, "control", "time_exceeded", "10.0.1.1"),
        Probe(3, "test", "timeout"),
        Probe(3, "control", "time_exceeded", "10.0.2.1"),
    )
    assert (result.censor_hop, result.censor_address) == (2, "10.0.1.1")
    assert "dropped" in result.conclusion


def test_a_tap_that_injects_next_to_the_routers_icmp_is_named_at_that_hop() -> None:
    result = traced(
        Probe(1, "test", "reset", "10.0.0.1"),
        Probe(1, "control", "time_exceeded", "10.0.0.1"),
    )
    assert (result.censor_hop, result.censor_address) == (1, "10.0.0.1")


def test_the_same_fate_for_test_and_control_is_no_interference() -> None:
    result = traced(Probe(1, "test", "reset"), Probe(1, "control", "reset"))
    assert result.censor_hop is None and "no interference" in result.conclusion


def test_syn_probes_name_the_hop_before_an_address_block() -> None:
    result = TraceResult(SERVER, 80, "twitter.com", "example.com", "syn")
    result.probes = [Probe(1, "syn", "time_exceeded", "198.18.1.1"), Probe(2, "syn", "reset")]
    locate(result)
    assert (result.censor_hop, result.censor_address) == (1, "198.18.1.1")


@needs_root
def test_trace_on_loopback_finds_the_request_that_is_reset_and_the_control_that_is_not() -> None:
    def censor(exchange: Exchange) -> None:
        if exchange.request.header("Host") == "blocked.test":
            exchange.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            exchange.conn.close()
            return
        page("<title>fine</title>")(exchange)

    with http_server({"/": censor}) as server:
        result = trace("127.0.0.1", server.port, "blocked.test", control_host="example.com", max_ttl=3, hop_timeout=1.0)
    assert [(p.kind, p.outcome) for p in result.probes] == [("test", "reset"), ("control", "response")]
    assert result.censor_hop == 1 and "reset at TTL 1" in result.conclusion
