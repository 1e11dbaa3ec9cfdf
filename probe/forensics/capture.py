"""Packet capture with scapy: a flow measured again while its packets are recorded.

An injected RST or DNS answer is made by a middlebox, not by the server; capturing the flow puts
the suspicious packet next to the server's genuine ones (its SYN-ACK, its data), and
``probe.verdict.forensics`` says what their TTL and IP-ID mean. Capture needs root (raw sockets):
``unavailable_reason`` says why it cannot run. Only received packets are looked at: nothing here
sends with scapy.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dns.message

from probe.model.packet import Packet

UNAVAILABLE_NO_ROOT = "unavailable (no root)"
START_TIMEOUT = 10.0
"""At most this long for the capture to open its socket (a loaded machine is slow to); then the flow goes on."""
SETTLE_SECONDS = 0.15
"""Time for packets already on their way to be captured before the capture stops."""
CATCH_UP_TIMEOUT = 5.0
"""At most this long for the capture to record the packets the flow is known to have had (``wait_for``): the
capture reads in a thread of its own that a busy machine may leave behind the flow."""
MAX_PACKETS = 64


def unavailable_reason() -> str | None:
    """Why packet capture cannot run here, or None."""
    if os.geteuid() != 0:
        return UNAVAILABLE_NO_ROOT
    try:
        import scapy.all  # noqa: F401
    except Exception as exc:  # scapy fails in many ways on odd systems
        return f"unavailable (scapy: {exc})"
    return None


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
    """Packets seen on one interface while a ``with`` block runs; ``keep(raw)`` chooses which.

    ``packets`` grows as the capture's thread reads (each packet once: on loopback it is seen sent and
    received); ``wait_for`` waits until it holds what the flow is known to have sent or received."""

    def __init__(self, iface: str | None, keep: Callable[[Any], bool], *, max_packets: int = 4 * MAX_PACKETS) -> None:
        self.iface = iface
        self.keep = keep
        self.max_packets = max_packets
        self.packets: list[Packet] = []
        self._seen: set[tuple[Any, ...]] = set()
        self._arrived = threading.Condition()
        self._started = threading.Event()
        self._sniffer: Any = None

    def __enter__(self) -> Capture:
        from scapy.sendrecv import AsyncSniffer

        self._sniffer = AsyncSniffer(
            iface=self.iface,
            lfilter=self.keep,
            prn=self._record,
            store=False,
            count=self.max_packets,
            started_callback=self._started.set,
        )
        self._sniffer.start()
        self._started.wait(START_TIMEOUT)
        return self

    def _record(self, raw: Any) -> None:
        """In the capture's thread, for every packet ``keep`` chose (returns None: scapy prints what it returns)."""
        packet = _convert(raw)
        if packet is None:
            return
        key = (packet.proto, packet.src, packet.sport, packet.dst, packet.dport, packet.ip_id, packet.flags)
        with self._arrived:
            if key not in self._seen:
                self._seen.add(key)
                self.packets.append(packet)
                self._arrived.notify_all()

    def wait_for(self, recorded: Callable[[list[Packet]], bool], timeout: float = CATCH_UP_TIMEOUT) -> bool:
        """Wait (at most ``timeout``) until ``recorded(packets so far)``; whether it came true."""
        with self._arrived:
            return self._arrived.wait_for(lambda: recorded(list(self.packets)), timeout)

    def __exit__(self, *exc_info: object) -> None:
        time.sleep(SETTLE_SECONDS)
        self._started.wait(START_TIMEOUT)  # a sniffer that is not running yet could not be stopped
        try:
            if self._sniffer.running:
                self._sniffer.stop()
        except Exception:  # scapy fails in many ways on odd systems; what was recorded is kept
            pass


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


# --- measuring again under capture ------------------------------------------------------------------------


@contextmanager
def _captured(iface: str | None, keep: Callable[[Any], bool]) -> Iterator[Capture]:
    capture = Capture(iface, keep)
    with capture:
        yield capture


def _recorded(address: str) -> bool:
    """Whether the capture records the packets of ``address`` (``_convert`` reads IPv4 only)."""
    return ":" not in address


def _reset_from(address: str) -> Callable[[list[Packet]], bool]:
    return lambda packets: any(p.src == address and "R" in p.flags for p in packets)


def _closed_to(address: str) -> Callable[[list[Packet]], bool]:
    return lambda packets: any(p.dst == address and ("F" in p.flags or "R" in p.flags) for p in packets)


def capture_reset(address: str, port: int, hello: bytes | None, *, timeout: float) -> list[Packet]:
    """Connect to ``address:port`` again (sending ``hello``: a ClientHello or an HTTP request) under
    capture; the TCP packets of the flow. Needs root (``unavailable_reason``)."""

    def action() -> Callable[[list[Packet]], bool] | None:
        """Measure; the flow's last packet, which the capture must hold once it has caught up (None: unknown)."""
        connected = False
        try:
            with socket.create_connection((address, port), timeout=timeout) as sock:
                connected = True
                if hello:
                    sock.sendall(hello)
                    sock.settimeout(timeout)
                    sock.recv(4096)
        except (ConnectionResetError, ConnectionRefusedError):
            return _reset_from(address)
        except OSError:
            pass
        # Closing a connection sends a FIN (or a RST); a connect that never completed sends nothing more.
        return _closed_to(address) if connected else None

    with _captured(interface_for(address), tcp_filter(address, port)) as capture:
        flow_end = action()
        if flow_end is not None and _recorded(address):
            capture.wait_for(flow_end)
    return [p for p in capture.packets if p.proto == "tcp"]


def capture_dns(resolver: str, port: int, hostname: str, *, timeout: float, window: float) -> list[Packet]:
    """Ask ``resolver`` for ``hostname`` again under capture, listening ``window`` seconds for more answers;
    the resolver's packets. Needs root (``unavailable_reason``)."""
    query = dns.message.make_query(hostname, "A").to_wire()
    family = socket.AF_INET6 if ":" in resolver else socket.AF_INET

    def keep(raw: Any) -> bool:
        from scapy.layers.inet import IP, UDP

        return bool(IP in raw and UDP in raw and raw[IP].src == resolver and raw[UDP].sport == port)

    answers = 0
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
                answers += 1
        except OSError:
            pass
        if _recorded(resolver):
            capture.wait_for(lambda packets: len(packets) >= answers)
    return capture.packets
