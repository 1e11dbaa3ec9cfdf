"""The first bytes a censor looks at: an HTTP request's ``Host`` and a TLS ClientHello's SNI.

``client_hello`` lets Python's own TLS stack write a real ClientHello (into memory, nothing is
sent), so a middlebox sees what a browser-like client sends.
"""

from __future__ import annotations

import contextlib
import ssl

from probe.net.http import ACCEPT


def http_request(host: str, path: str = "/") -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", f"Accept: {ACCEPT}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii", errors="replace")


def client_hello(server_name: str) -> bytes:
    """A TLS ClientHello with ``server_name`` as SNI, as bytes."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def hello_for(scheme: str, host: str, path: str = "/") -> bytes:
    return client_hello(host) if scheme == "https" else http_request(host, path)
