"""An IPv4 packet's headers read from its bytes (sans-IO): what forensics and ``probe trace`` look at.

Only the fields ``Packet`` keeps are read: addresses, TTL and IP-ID (RFC 791); ports, flags and payload length of
TCP (RFC 9293) and UDP (RFC 768); type and code of ICMP (RFC 792) and, for an ICMP error, the source port of the
TCP or UDP packet it quotes. Anything else (IPv6, a fragment after the first, a header cut short) is None.
"""

from __future__ import annotations

import socket
import struct

from probe.model.packet import Packet

TCP, UDP, ICMP = 6, 17, 1
TCP_FLAGS = "FSRPAUECN"
"""TCP's flag bits from the lowest (FIN) up, as one letter each: ``SA`` is a SYN-ACK (scapy's spelling too)."""
ICMP_ERRORS = frozenset({3, 4, 5, 11, 12})
"""ICMP types that quote the IP header and first 8 bytes of the packet they answer."""
ICMP_HEADER = 8
UDP_HEADER = 8
MIN_IP_HEADER = 20
MIN_TCP_HEADER = 20


def tcp_flags(bits: int) -> str:
    """``bits`` (the 9 flag bits of a TCP header) as letters, lowest bit first: 0x12 is ``SA``."""
    return "".join(letter for i, letter in enumerate(TCP_FLAGS) if bits >> i & 1)


def _ip_header(data: bytes) -> tuple[int, int, bytes] | None:
    """The header length, transport protocol and transport bytes (cut at the IP total length) of an IPv4
    packet that is not a later fragment; None otherwise."""
    if len(data) < MIN_IP_HEADER or data[0] >> 4 != 4:
        return None
    header = (data[0] & 0x0F) * 4
    total = struct.unpack_from("!H", data, 2)[0]
    if header < MIN_IP_HEADER or len(data) < header or struct.unpack_from("!H", data, 6)[0] & 0x1FFF:
        return None
    # A packet captured on its way out may not have its total length yet (segmentation offload): then all of it.
    end = total if header <= total <= len(data) else len(data)
    return header, data[9], data[header:end]


def parse_ipv4(data: bytes, when: float) -> Packet | None:
    """The packet whose IPv4 header starts ``data``, captured at ``when``; None if it is not TCP, UDP or ICMP over
    IPv4, or is cut short."""
    found = _ip_header(data)
    if found is None:
        return None
    _, proto, body = found
    ip_id, ttl = struct.unpack_from("!H", data, 4)[0], data[8]
    src, dst = socket.inet_ntoa(data[12:16]), socket.inet_ntoa(data[16:20])
    if proto == TCP and len(body) >= MIN_TCP_HEADER:
        sport, dport = struct.unpack_from("!HH", body)
        offset = (body[12] >> 4) * 4
        flags = tcp_flags((body[12] & 1) << 8 | body[13])
        return Packet(when, "tcp", src, sport, dst, dport, ttl, ip_id, flags, max(len(body) - offset, 0))
    if proto == UDP and len(body) >= UDP_HEADER:
        sport, dport = struct.unpack_from("!HH", body)
        return Packet(when, "udp", src, sport, dst, dport, ttl, ip_id, "", len(body) - UDP_HEADER)
    if proto == ICMP and len(body) >= ICMP_HEADER:
        kind, code = body[0], body[1]
        quoted = _quoted_sport(body[ICMP_HEADER:]) if kind in ICMP_ERRORS else None
        return Packet(when, "icmp", src, 0, dst, 0, ttl, ip_id, f"{kind}/{code}", 0, quoted)
    return None


def _quoted_sport(quoted: bytes) -> int | None:
    """The source port of the TCP or UDP packet an ICMP error quotes (its IP header, then at least 8 bytes)."""
    found = _ip_header(quoted)
    if found is None:
        return None
    header, proto, _ = found
    if proto not in (TCP, UDP) or len(quoted) < header + 2:
        return None
    return int(struct.unpack_from("!H", quoted, header)[0])
