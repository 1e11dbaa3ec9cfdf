"""TCP connect with a timeout, recorded as df-005."""

from __future__ import annotations

import socket
from typing import Any

from probe.addresses import format_endpoint
from probe.failures import classify
from probe.model import TCPConnect, TCPConnectStatus
from probe.net.trace import Trace


def _sockaddr(ip: str, port: int) -> tuple[socket.AddressFamily, tuple[Any, ...]]:
    try:
        infos = socket.getaddrinfo(ip, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        raise ValueError(f"tcp.connect needs an IP address, got {ip!r}") from None
    family, _, _, _, sockaddr = infos[0]
    return family, sockaddr


def connect(ip: str, port: int, trace: Trace, *, timeout: float) -> tuple[socket.socket | None, TCPConnect]:
    """Connect to ``ip:port`` (IPv4 or IPv6, scoped ``fe80::1%eth0`` too) within ``timeout`` seconds.

    Return the connected socket (its timeout still ``timeout``: callers set their own) and the
    observation; on failure the socket is closed and None returned. A hostname instead of an
    IP is a programming error (``ValueError``): resolution is a step of its own.
    """
    family, sockaddr = _sockaddr(ip, port)
    transaction_id = trace.next_id()
    t0 = trace.elapsed()
    sock = socket.socket(family, socket.SOCK_STREAM)
    failure: str | None = None
    try:
        sock.settimeout(timeout)
        sock.connect(sockaddr)
    except OSError as exc:
        failure = classify(exc)
        sock.close()
    t = trace.elapsed()
    address = format_endpoint(ip, port)
    trace.event("connect", address=address, failure=failure, proto="tcp", transaction_id=transaction_id)
    observation = TCPConnect(
        ip=ip,
        port=port,
        status=TCPConnectStatus(success=failure is None, failure=failure),
        t0=t0,
        t=t,
        transaction_id=transaction_id,
    )
    return (None if failure else sock), observation
