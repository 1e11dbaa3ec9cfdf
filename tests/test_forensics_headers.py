"""Reading a captured packet's headers from its bytes (``probe.forensics.headers``), checked against packets
scapy builds: the fields forensics and ``probe trace`` compare are the ones on the wire."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.packet import Raw

from probe.forensics.headers import parse_ipv4, tcp_flags
from probe.model.packet import Packet

SERVER, CLIENT = "198.51.100.7", "198.18.1.2"


@pytest.mark.parametrize("flags", [0x12, 0x04, 0x14, 0x18, 0x11, 0x02, 0xC2, 0x100])
def test_tcp_flags_are_spelled_as_scapy_spells_them(flags: int) -> None:
    raw = bytes(IP(src=SERVER, dst=CLIENT) / TCP(flags=flags))
    packet = parse_ipv4(raw, 1.0)
    assert packet is not None and packet.flags == str(TCP(flags=flags).flags)


def test_every_flag_bit_has_its_letter() -> None:
    assert tcp_flags(0x1FF) == "FSRPAUECN" and tcp_flags(0) == ""


def test_a_servers_data_segment_with_options_gives_its_addresses_ttl_ip_id_and_payload_length() -> None:
    segment = IP(src=SERVER, dst=CLIENT, ttl=52, id=3101) / TCP(
        sport=80, dport=40000, flags="PA", options=[("MSS", 1460), ("NOP", None), ("WScale", 7)]
    )
    raw = bytes(segment / Raw(b"HTTP/1.1 200 OK\r\n\r\n"))
    assert parse_ipv4(raw, 2.5) == Packet(2.5, "tcp", SERVER, 80, CLIENT, 40000, 52, 3101, "PA", 19)


def test_link_padding_after_the_ip_total_length_is_not_payload() -> None:
    raw = bytes(IP(src=SERVER, dst=CLIENT) / TCP(sport=80, dport=40000, flags="R")) + bytes(6)
    packet = parse_ipv4(raw, 0.0)
    assert packet is not None and packet.length == 0


def test_a_dns_answer_gives_its_udp_ports_and_length() -> None:
    raw = bytes(IP(src="8.8.8.8", dst=CLIENT, ttl=115, id=7) / UDP(sport=53, dport=5353) / Raw(bytes(40)))
    assert parse_ipv4(raw, 0.0) == Packet(0.0, "udp", "8.8.8.8", 53, CLIENT, 5353, 115, 7, "", 40)


@pytest.mark.parametrize("quoted", [TCP(sport=41000, dport=80, flags="PA"), UDP(sport=41000, dport=53)])
def test_an_icmp_error_names_the_source_port_of_the_packet_it_quotes(quoted: TCP | UDP) -> None:
    original = bytes(IP(src=CLIENT, dst=SERVER, ttl=1) / quoted / Raw(b"GET / HTTP/1.1\r\n"))
    raw = bytes(IP(src="198.18.1.1", dst=CLIENT, ttl=64) / ICMP(type=11, code=0) / Raw(original[:28]))
    packet = parse_ipv4(raw, 0.0)
    assert packet is not None
    assert (packet.proto, packet.src, packet.flags, packet.quoted_sport) == ("icmp", "198.18.1.1", "11/0", 41000)


def test_an_icmp_echo_quotes_nothing() -> None:
    packet = parse_ipv4(bytes(IP(src=SERVER, dst=CLIENT) / ICMP(type=0) / Raw(bytes(32))), 0.0)
    assert packet is not None and (packet.flags, packet.quoted_sport) == ("0/0", None)


@pytest.mark.parametrize(
    "raw",
    [
        bytes(IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP()),
        bytes(IP(src=SERVER, dst=CLIENT, frag=185) / Raw(bytes(40))),  # a later fragment has no TCP header
        bytes(IP(src=SERVER, dst=CLIENT) / TCP())[:30],
        bytes(IP(src=SERVER, dst=CLIENT, proto=47) / Raw(bytes(24))),
        b"",
    ],
    ids=["ipv6", "later-fragment", "cut-short", "gre", "empty"],
)
def test_what_is_not_tcp_udp_or_icmp_over_ipv4_is_left_out(raw: bytes) -> None:
    assert parse_ipv4(raw, 0.0) is None
