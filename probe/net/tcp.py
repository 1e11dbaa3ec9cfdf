"""TCP connect with a timeout, recorded as df-005."""

from __future__ import annotations

import socket

from probe.model import TCPConnect
from probe.net.trace import Trace


def connect(ip: str, port: int, trace: Trace, *, timeout: float) -> tuple[socket.socket | None, TCPConnect]:
    """Connect to ``ip:port``; return the connected socket (or None) and the observation.

    INTERFACE STUB: implemented by the TLS/HTTP work package.
    """
    raise NotImplementedError
