"""TCP connect with a timeout, recorded as df-005."""

from __future__ import annotations

import socket
from typing import Any

from probe.addresses import format_endpoint, is_ip
from probe.failures import classify
from probe.model import TCPConnect, TCPConnectStatus
from probe.net.trace import Trace

NO_SUCH_ZONE = "unknown_failure: no such network interface"
"""The failure of a scoped IPv6 address whose zone (``fe80::1%eth9``) names no interface here."""


def _sockaddr(ip: str, port: int) -> tuple[socket.AddressFamily, tuple[Any, ...]] | None:
    """The socket address of ``ip``; None for a scoped address whose zone is no interface here."""
    # A URL writes the zone's "%" as "%25" (RFC 6874): fe80::1%25eth0 is fe80::1 on eth0.
    candidates = [ip, ip.replace("%25", "%", 1)] if "%25" in ip else [ip]
    for candidate in candidates:
        try:
            infos = socket.getaddrinfo(candidate, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        except socket.gaierror:
            continue
        family, _, _, _, sockaddr = infos[0]
        return family, sockaddr
    if "%" in ip and is_ip(ip.split("%", 1)[0]):
        return None
    raise ValueError(f"tcp.connect needs an IP address, got {ip!r}")


def connect(ip: str, port: int, trace: Trace, *, timeout: float) -> tuple[socket.socket | None, TCPConnect]:
    """Connect to ``ip:port`` (IPv4 or IPv6, scoped ``fe80::1%eth0`` too) within ``timeout`` seconds.

    Return the connected socket (its timeout still ``timeout``: callers set their own) and the
    observation; on failure the socket is closed and None returned. A hostname instead of an
    IP is a programming error (``ValueError``): resolution is a step of its own.
    """
    where = _sockaddr(ip, port)
    transaction_id = trace.next_id()
    t0 = trace.elapsed()
    failure: str | None = None
    if where is None:
        failure = NO_SUCH_ZONE
    else:
        family, sockaddr = where
        sock = socket.socket(family, socket.SOCK_STREAM)
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
    return (None if failure or where is None else sock), observation
