"""Packet capture with scapy, and what the TTL and IP-ID of a suspicious packet say.

An injected RST or DNS answer is made by a middlebox, not by the server: it usually arrives with
another TTL (the box is fewer hops away, or starts from another initial TTL) and an IP-ID that
does not follow the server's sequence (ICLab, CenTrace). Capturing a flow and putting the
suspicious packet next to the server's genuine ones (its SYN-ACK, its data) makes that visible.

Capture needs root (raw sockets); without it every function here returns
``{"status": "unavailable (no root)"}`` and never raises. Only received packets are looked at:
nothing here sends with scapy. Known limits: a server that sends its RST from another machine
(a load balancer) also looks injected; Linux sends IP-ID 0 on its SYN-ACKs, so the IP-ID test
needs the server's data packets.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

UNAVAILABLE_NO_ROOT = "unavailable (no root)"
START_TIMEOUT = 3.0
SETTLE_SECONDS = 0.15
"""Time for packets already on their way to be captured before the capture stops."""
MAX_PACKETS = 64
TTL_TOLERANCE = 0
"""Hops a genuine packet's TTL may differ from the server's others. The packets of one flow, seconds
apart, come over one path: a middlebox one hop nearer than the server is one TTL off. (A route that
changes in the middle of a flow is a known false positive.)"""
IPID_WINDOW = 256
"""How far past the server's last IP-ID its next packet may be (other connections share the counter)."""


def unavailable_reason() -> str | None:
    """Why packet capture cannot run here, or None."""
    if os.geteuid() != 0:
        return UNAVAILABLE_NO_ROOT
    try:
        import scapy.all  # noqa: F401
    except Exception as exc:  # scapy fails in many ways on odd systems
        return f"unavailable (scapy: {exc})"
    return None


@dataclass(frozen=True)
class Packet:
    t: float
    proto: str
    """``tcp``, ``udp`` or ``icmp``."""
    src: str
    sport: int
    dst: str
    dport: int
    ttl: int
    ip_id: int
    flags: str = ""
    """TCP flags (``SA``, ``R``, ``PA`` ...), or ``type/code`` for ICMP."""
    length: int = 0
    quoted_sport: int | None = None
    """For an ICMP error: the source port of the packet it quotes."""

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _convert(raw: Any) -> Packet | None:
    from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, TCPerror, UDPerror

    if IP not in raw:
        return None
    ip = raw[IP]
    when = float(raw.time)
    if ICMP in raw:
        icmp = raw[ICMP]
        quoted = None
        if IPerror in raw:
            inner = TCPerror if TCPerror in raw else UDPerror if UDPerror in raw else None
            if inner is not None:
                quoted = int(raw[inner].sport)
        return Packet(when, "icmp", ip.src, 0, ip.dst, 0, ip.ttl, ip.id, f"{icmp.type}/{icmp.code}", 0, quoted)
    if TCP in raw:
        tcp = raw[TCP]
        payload = len(bytes(tcp.payload))
        return Packet(
            when, "tcp", ip.src, int(tcp.sport), ip.dst, int(tcp.dport), ip.ttl, ip.id, str(tcp.flags), payload
        )
    if UDP in raw:
        udp = raw[UDP]
        return Packet(when, "udp", ip.src, int(udp.sport), ip.dst, int(udp.dport), ip.ttl, ip.id, "", len(udp.payload))
    return None


def interface_for(address: str) -> str | None:
    """The interface packets to ``address`` leave by (``lo`` for loopback)."""
    from scapy.config import conf

    try:
        iface = conf.route.route(address)[0]
    except Exception:
        return None
    return str(iface) if iface else None


class Capture:
    """Packets seen on one interface while a ``with`` block runs; ``keep(raw)`` chooses which."""

    def __init__(self, iface: str | None, keep: Callable[[Any], bool], *, max_packets: int = 4 * MAX_PACKETS) -> None:
        self.iface = iface
        self.keep = keep
        self.max_packets = max_packets
        self.packets: list[Packet] = []
        self._sniffer: Any = None

    def __enter__(self) -> Capture:
        from scapy.sendrecv import AsyncSniffer

        started = threading.Event()
        self._sniffer = AsyncSniffer(
            iface=self.iface,
            lfilter=self.keep,
            store=True,
            count=self.max_packets,
            started_callback=started.set,
        )
        self._sniffer.start()
        started.wait(START_TIMEOUT)
        return self

    def __exit__(self, *exc_info: object) -> None:
        time.sleep(SETTLE_SECONDS)
        try:
            raw = self._sniffer.stop() if self._sniffer.running else self._sniffer.results
        except Exception:
            raw = self._sniffer.results or []
        seen: set[tuple[Any, ...]] = set()
        for item in raw or []:
            packet = _convert(item)
            if packet is None:
                continue
            # On loopback every packet is seen twice (sent and received).
            key = (packet.proto, packet.src, packet.sport, packet.dst, packet.dport, packet.ip_id, packet.flags)
            if key in seen:
                continue
            seen.add(key)
            self.packets.append(packet)


def tcp_filter(address: str, port: int) -> Callable[[Any], bool]:
    def keep(raw: Any) -> bool:
        from scapy.layers.inet import ICMP, IP, TCP

        if IP not in raw:
            return False
        if TCP in raw and ICMP not in raw:
            tcp, ip = raw[TCP], raw[IP]
            return bool((ip.src == address and tcp.sport == port) or (ip.dst == address and tcp.dport == port))
        return ICMP in raw

    return keep


# --- judging a reset --------------------------------------------------------------------------------------


def judge_reset(packets: list[Packet], server: str, port: int) -> dict[str, Any]:
    """Put the server's RSTs next to its other packets; say whether they fit."""
    from_server = [p for p in packets if p.proto == "tcp" and p.src == server and p.sport == port]
    resets = [p for p in from_server if "R" in p.flags]
    genuine = [p for p in from_server if "R" not in p.flags]
    result: dict[str, Any] = {
        "suspicious": [p.to_dict() for p in resets[:8]],
        "genuine": [p.to_dict() for p in genuine[:8]],
        "injected": None,
    }
    if not resets:
        result["conclusion"] = "no reset came back this time"
        return result
    if not genuine:
        result["conclusion"] = (
            f"reset with TTL {resets[0].ttl}, IP-ID {resets[0].ip_id}; no genuine packet of the server to compare with"
        )
        return result
    reference_ttl = statistics.median_low(p.ttl for p in genuine)
    odd_ttl = [r for r in resets if abs(r.ttl - reference_ttl) > TTL_TOLERANCE]
    ids = [p.ip_id for p in genuine if p.ip_id]
    odd_id = [r for r in resets if ids and r.ip_id and not 0 <= (r.ip_id - max(ids)) % 65536 <= IPID_WINDOW]
    first = resets[0]
    if odd_ttl:
        result["injected"] = True
        result["conclusion"] = (
            f"the reset's TTL {odd_ttl[0].ttl} does not fit the server's {reference_ttl}: "
            "sent by a box on the path, not by the server"
        )
    elif odd_id and len(ids) >= 2:
        result["injected"] = True
        result["conclusion"] = (
            f"the reset's IP-ID {odd_id[0].ip_id} is off the server's sequence (last {max(ids)}): likely injected"
        )
    else:
        result["injected"] = False
        result["conclusion"] = (
            f"the reset (TTL {first.ttl}, IP-ID {first.ip_id}) fits the server's packets (TTL {reference_ttl}): "
            "no sign of injection"
        )
    return result


def judge_dns(packets: list[Packet], resolver: str, port: int) -> dict[str, Any]:
    """Answers from the resolver: with two or more, whether the first fits the later ones."""
    answers = [p for p in packets if p.proto == "udp" and p.src == resolver and p.sport == port]
    result: dict[str, Any] = {"answers": [p.to_dict() for p in answers[:8]], "injected": None}
    if len(answers) < 2:
        result["conclusion"] = f"{len(answers)} answer(s); nothing to compare"
        return result
    first, genuine = answers[0], answers[-1]
    if abs(first.ttl - genuine.ttl) > TTL_TOLERANCE:
        result["injected"] = True
        result["conclusion"] = (
            f"the first answer (TTL {first.ttl}, IP-ID {first.ip_id}) does not fit the later one "
            f"(TTL {genuine.ttl}, IP-ID {genuine.ip_id}): injected"
        )
    else:
        result["injected"] = False
        result["conclusion"] = "the answers' TTLs agree: both could come from the resolver"
    return result


# --- forensic re-measurements -----------------------------------------------------------------------------


@contextmanager
def _captured(iface: str | None, keep: Callable[[Any], bool]) -> Iterator[Capture]:
    capture = Capture(iface, keep)
    with capture:
        yield capture


def reset_forensics(address: str, port: int, hello: bytes | None, *, timeout: float) -> dict[str, Any]:
    """Connect to ``address:port`` again (sending ``hello``: a ClientHello or an HTTP request) under
    capture, and judge the reset that comes back."""
    reason = unavailable_reason()
    if reason is not None:
        return {"status": reason}
    import socket

    def action() -> None:
        try:
            with socket.create_connection((address, port), timeout=timeout) as sock:
                if hello:
                    sock.sendall(hello)
                    sock.settimeout(timeout)
                    sock.recv(4096)
        except OSError:
            pass

    with _captured(interface_for(address), tcp_filter(address, port)) as capture:
        action()
    packets = [p for p in capture.packets if p.proto == "tcp"]
    return {
        "status": "ok",
        "kind": "reset",
        "target": f"{address}:{port}",
        **judge_reset(packets, address, port),
        "packets": [p.to_dict() for p in packets[:MAX_PACKETS]],
    }


def dns_forensics(resolver: str, port: int, hostname: str, *, timeout: float, window: float) -> dict[str, Any]:
    """Ask ``resolver`` for ``hostname`` again under capture, listening ``window`` seconds for more answers."""
    reason = unavailable_reason()
    if reason is not None:
        return {"status": reason}
    import socket

    import dns.message

    query = dns.message.make_query(hostname, "A").to_wire()
    family = socket.AF_INET6 if ":" in resolver else socket.AF_INET

    def keep(raw: Any) -> bool:
        from scapy.layers.inet import IP, UDP

        return bool(IP in raw and UDP in raw and raw[IP].src == resolver and raw[UDP].sport == port)

    with _captured(interface_for(resolver), keep) as capture, socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect((resolver, port))
            sock.send(query)
            end = time.monotonic() + timeout + window
            for _ in range(16):
                remaining = end - time.monotonic()
                if remaining <= 0:
                    break
                sock.settimeout(remaining)
                sock.recv(65535)
        except OSError:
            pass
    return {
        "status": "ok",
        "kind": "dns",
        "target": f"{resolver}:{port}",
        **judge_dns(capture.packets, resolver, port),
    }
