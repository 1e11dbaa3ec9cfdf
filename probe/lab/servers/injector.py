"""An on-path DNS injector, as the censor runs it on the ISP's router.

It reads every IPv4 packet arriving from the probe's side (a packet socket on that
interface) and, for a UDP query to port 53 of any resolver but the ISP's own whose name
the policy lists, sends back at once a forged answer that appears to come from that
resolver. The query itself goes on: the genuine answer follows later (the public resolver
is slower), so the probe sees two answers to one query, the first one forged.

The ISP resolver is left alone: its queries never cross this router's border, and its
lies are the ``resolver`` part of the policy.
"""

from __future__ import annotations

import contextlib
import ipaddress
import random
import select
import socket
import struct
import threading

import dns.exception
import dns.flags
import dns.message
import dns.rrset

from probe.lab import plan
from probe.lab.policy import PolicyFile
from probe.lab.servers import POLL

ETH_P_IP = 0x0800
PACKET_OUTGOING = 4
FORGED_TTL = 300
MAX_PACKET = 65535


def forge(packet: bytes, policy: PolicyFile) -> tuple[bytes, str] | None:
    """The forged IPv4/UDP answer to ``packet`` and where to send it, or None to let it be."""
    if len(packet) < 28 or packet[0] >> 4 != 4 or packet[9] != socket.IPPROTO_UDP:
        return None
    header = (packet[0] & 0x0F) * 4
    source, destination = socket.inet_ntoa(packet[12:16]), socket.inet_ntoa(packet[16:20])
    lab_only = all(ipaddress.ip_address(a) in plan.LAB_NETWORK for a in (source, destination))
    if not lab_only or destination == plan.ISP_RESOLVER or len(packet) < header + 8:
        return None
    sport, dport = struct.unpack("!HH", packet[header : header + 4])
    if dport != 53:
        return None
    try:
        query = dns.message.from_wire(packet[header + 8 :])
    except (dns.exception.DNSException, ValueError):
        return None
    if query.flags & dns.flags.QR or len(query.question) != 1:
        return None
    question = query.question[0]
    address = policy.current().injection_for(question.name.to_text())
    if address is None:
        return None
    answer = dns.message.make_response(query)
    answer.flags |= dns.flags.RA
    answer.answer.append(dns.rrset.from_text(question.name, FORGED_TTL, "IN", "A", address))
    payload = answer.to_wire()
    udp = struct.pack("!HHHH", 53, sport, 8 + len(payload), 0) + payload  # checksum 0: none (IPv4 allows it)
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(udp),
        random.getrandbits(16),
        0,
        64,
        socket.IPPROTO_UDP,
        0,  # the kernel fills in the checksum
        socket.inet_aton(destination),  # spoofed: the resolver the query was for
        socket.inet_aton(source),
    )
    return ip + udp, source


class Injector:
    def __init__(self, interface: str, policy: PolicyFile) -> None:
        self.policy = policy
        self._sniffer = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
        self._sniffer.bind((interface, ETH_P_IP))
        self._sender = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="injector", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.stop.set()
        self._thread.join(timeout=2 * POLL + 1)
        self._sniffer.close()
        self._sender.close()

    def _serve(self) -> None:
        while not self.stop.is_set():
            readable, _, _ = select.select([self._sniffer], [], [], POLL)
            if not readable:
                continue
            try:
                packet, meta = self._sniffer.recvfrom(MAX_PACKET)
            except OSError:
                continue
            if meta[2] == PACKET_OUTGOING:
                continue
            forged = forge(packet, self.policy)
            if forged is None:
                continue
            data, target = forged
            with contextlib.suppress(OSError):
                self._sender.sendto(data, (target, 0))
