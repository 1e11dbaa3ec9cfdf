"""TLS handshake with SNI over a connected socket, recorded as df-006."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

from probe.model import TLSHandshake
from probe.net.trace import Trace


def handshake(
    sock: socket.socket,
    server_name: str,
    trace: Trace,
    *,
    timeout: float,
    ca_bundle: Path | None,
) -> tuple[ssl.SSLSocket | None, TLSHandshake]:
    """Handshake over ``sock`` with ``server_name`` as SNI, verifying against ``ca_bundle``
    (or the system store). On failure the socket is closed and None returned.

    INTERFACE STUB: implemented by the TLS/HTTP work package.
    """
    raise NotImplementedError
