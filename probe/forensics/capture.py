"""Packet capture: a flow measured again while its packets are recorded.

An injected RST or DNS answer is made by a middlebox, not by the server; capturing the flow puts
the suspicious packet next to the server's genuine ones (its SYN-ACK, its data), and
``probe.verdict.forensics`` says what their TTL and IP-ID mean. Capture reads IPv4 packets from a packet
socket (``AF_PACKET``, every interface, link headers left out by the kernel) and their headers with
``probe.forensics.headers``: no scapy, whose 60 MB a run or a daemon would otherwise keep for good after its
first reset. It needs root (``CAP_NET_RAW``): ``unavailable_reason`` says why it cannot run. Only received
packets are looked at: nothing here sends a packet of its own making.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dns.message

from probe.forensics.headers import parse_ipv4
from probe.model.packet import Packet

UNAVAILABLE_NO_ROOT = "unavailable (no root)"
ETH_P_IP = 0x0800
"""The link layer's protocol number for IPv4: the packet socket is given IPv4 packets only."""
READ_POLL = 0.05
"""How often the capture's thread looks whether it was asked to stop."""
SETTLE_SECONDS = 0.15
"""Time for packets already on their way to be captured before the capture stops."""
CATCH_UP_TIMEOUT = 5.0
"""At most this long for the capture to record the packets the flow is known to have had (``wait_for``): the
capture reads in a thread of its own that a busy machine may leave behind the flow."""
MAX_PACKETS = 64
MAX_PACKET_BYTES = 65535


def _packet_socket() -> socket.socket:
    """A socket that receives a copy of every IPv4 packet in and out of this network namespace."""
    return socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))


def unavailable_reason() -> str | None:
    """Why packet capture cannot run here, or None."""
    if os.geteuid() != 0:
        return UNAVAILABLE_NO_ROOT
    if not hasattr(socket, "AF_PACKET"):
        return "unavailable (no packet sockets on this system)"
    try:
        _packet_socket().close()
    except OSError as exc:
        return f"unavailable (packet socket: {exc.strerror or exc})"
    return None


class Capture:
    """Packets seen while a ``with`` block runs; ``keep(packet)`` chooses which.

    The socket is open when ``with`` enters, so nothing the block sends is missed. ``packets`` grows as the
    capture's thread reads (each packet once: on loopback it is seen sent and received, and a packet may cross
    more than one interface); ``wait_for`` waits until it holds what the flow is known to have sent or
    received. ``iface`` limits the capture to one interface (None: every one)."""

    def __init__(
        self, iface: str | None, keep: Callable[[Packet], bool], *, max_packets: int = 4 * MAX_PACKETS
    ) -> None:
        self.iface = iface
        self.keep = keep
        self.max_packets = max_packets
        self.packets: list[Packet] = []
        self._seen: set[tuple[Any, ...]] = set()
        self._arrived = threading.Condition()
        self._stop = threading.Event()
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Capture:
        self._socket = _packet_socket()
        if self.iface is not None:
            self._socket.bind((self.iface, ETH_P_IP))
        self._thread = threading.Thread(target=self._read, name="capture", daemon=True)
        self._thread.start()
        return self

    def _read(self) -> None:
        assert self._socket is not None
        kept = 0
        while not self._stop.is_set() and kept < self.max_packets:
            ready, _, _ = select.select([self._socket], [], [], READ_POLL)
            if not ready:
                continue
            try:
                data = self._socket.recv(MAX_PACKET_BYTES)
            except OSError:
                return
            packet = parse_ipv4(data, time.time())
            if packet is not None and self.keep(packet):
                kept += 1
                self._record(packet)

    def _record(self, packet: Packet) -> None:
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
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._socket is not None:
            self._socket.close()


def tcp_filter(address: str, port: int) -> Callable[[Packet], bool]:
    """The TCP packets between here and ``address:port``, and every ICMP packet (a router's error for them)."""

    def keep(packet: Packet) -> bool:
        if packet.proto == "tcp":
            return (packet.src == address and packet.sport == port) or (packet.dst == address and packet.dport == port)
        return packet.proto == "icmp"

    return keep


# --- measuring again under capture ------------------------------------------------------------------------


@contextmanager
def _captured(keep: Callable[[Packet], bool]) -> Iterator[Capture]:
    capture = Capture(None, keep)
    with capture:
        yield capture


def _recorded(address: str) -> bool:
    """Whether the capture records the packets of ``address`` (``parse_ipv4`` reads IPv4 only)."""
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

    with _captured(tcp_filter(address, port)) as capture:
        flow_end = action()
        if flow_end is not None and _recorded(address):
            capture.wait_for(flow_end)
    return [p for p in capture.packets if p.proto == "tcp"]


def capture_dns(resolver: str, port: int, hostname: str, *, timeout: float, window: float) -> list[Packet]:
    """Ask ``resolver`` for ``hostname`` again under capture, listening ``window`` seconds for more answers;
    the resolver's packets. Needs root (``unavailable_reason``)."""
    query = dns.message.make_query(hostname, "A").to_wire()
    family = socket.AF_INET6 if ":" in resolver else socket.AF_INET

    def keep(packet: Packet) -> bool:
        return packet.proto == "udp" and packet.src == resolver and packet.sport == port

    answers = 0
    with _captured(keep) as capture, socket.socket(family, socket.SOCK_DGRAM) as sock:
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
