"""TLS handshake with SNI over a connected socket, recorded as df-006.

The certificate chain the server sent is recorded even when verification fails: a chain
that ends in an unknown root is the evidence of TLS interception. CPython (3.10+) keeps
the peer chain on the SSL object after a failed verification and exposes it through the
private ``SSLObject.get_unverified_chain()``; where that is missing, only the leaf of a
successful handshake is recorded (``getpeercert(binary_form=True)``).
"""

from __future__ import annotations

import errno
import functools
import socket
import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from probe.addresses import format_endpoint
from probe.failures import classify
from probe.model import BinaryData, TLSHandshake
from probe.net.trace import Trace

ALPN_PROTOCOLS = ["http/1.1"]

# RFC 4514 short names for the attributes ``getpeercert()`` spells out; others keep their long name.
_SHORT_NAMES = {
    "commonName": "CN",
    "countryName": "C",
    "localityName": "L",
    "stateOrProvinceName": "ST",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "streetAddress": "STREET",
    "domainComponent": "DC",
    "userId": "UID",
}


@functools.lru_cache(maxsize=8)
def _context(ca_bundle: str | None) -> ssl.SSLContext:
    # One context per bundle: loading the system store costs milliseconds, and contexts are
    # safe to share between threads.
    context = ssl.create_default_context(cafile=ca_bundle)
    context.set_alpn_protocols(ALPN_PROTOCOLS)
    return context


def _escape(value: str) -> str:
    escaped = "".join("\\" + c if c in ',+"\\<>;' else c for c in value)
    if escaped.startswith(("#", " ")):
        escaped = "\\" + escaped
    if escaped.endswith(" ") and len(escaped) > 1:
        escaped = escaped[:-1] + "\\ "
    return escaped


def rfc4514(name: Sequence[Sequence[tuple[str, str]]]) -> str:
    """A name as ``getpeercert()`` gives it, written as RFC 4514 (most specific RDN first)."""
    rdns = ("+".join(f"{_SHORT_NAMES.get(k, k)}={_escape(v)}" for k, v in rdn) for rdn in reversed(name))
    return ",".join(rdns)


def _peer_chain(sslsock: ssl.SSLSocket, handshake_done: bool) -> tuple[list[bytes], dict[str, Any] | None]:
    """DER certificates the server sent (leaf first) and the decoded leaf, as far as they are known."""
    sslobj = getattr(sslsock, "_sslobj", None)
    get_chain = getattr(sslobj, "get_unverified_chain", None)
    chain = get_chain() if get_chain is not None else None
    if chain:
        der = [cert.public_bytes(ssl._ssl.ENCODING_DER) for cert in chain]  # type: ignore[attr-defined]
        return der, chain[0].get_info()
    if not handshake_done:
        return [], None
    leaf = sslsock.getpeercert(binary_form=True)
    return ([leaf] if leaf else []), sslsock.getpeercert() or None


def _peer_address(sock: socket.socket) -> str:
    try:
        host, port = sock.getpeername()[:2]
    except OSError:
        return ""
    return format_endpoint(str(host), int(port))


def _failure(exc: OSError, sock: socket.socket) -> str:
    # An RST that arrived before the handshake leaves the socket "not connected" with the
    # reset pending in SO_ERROR: report the reset, not the symptom.
    if exc.errno == errno.ENOTCONN:
        try:
            pending = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        except OSError:
            pending = 0
        if pending:
            return classify(OSError(pending, ""))
    return classify(exc)


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

    Verification checks the chain and the name (an IP address as ``server_name`` is matched
    against IP SANs, and sent without SNI as TLS requires). ALPN offers ``http/1.1``.
    ``timeout`` bounds the whole handshake, however slowly the server drips its bytes.
    Failures: ``ssl_unknown_authority``, ``ssl_invalid_hostname``, ``ssl_invalid_certificate``,
    ``ssl_failed_handshake``, ``connection_reset``, ``eof_error``, ``generic_timeout_error``.
    A bad ``ca_bundle`` path is a configuration error and raises.
    """
    context = _context(str(ca_bundle) if ca_bundle is not None else None)
    transaction_id = trace.next_id()
    t0 = trace.elapsed()
    address = _peer_address(sock)
    trace.event("tls_handshake_start", address=address, transaction_id=transaction_id)
    failure: str | None = None
    sslsock: ssl.SSLSocket | None = None
    try:
        sock.settimeout(timeout)
        sslsock = context.wrap_socket(sock, server_hostname=server_name, do_handshake_on_connect=False)
        sslsock.do_handshake()
    except OSError as exc:
        failure = _failure(exc, sslsock if sslsock is not None else sock)
    t = trace.elapsed()
    chain, leaf = _peer_chain(sslsock, failure is None) if sslsock is not None else ([], None)
    observation = TLSHandshake(
        address=address,
        server_name=server_name,
        peer_certificates=[BinaryData.of(der) for der in chain],
        failure=failure,
        t0=t0,
        t=t,
        transaction_id=transaction_id,
        x_issuer=rfc4514(leaf["issuer"]) if leaf and "issuer" in leaf else None,
        x_subject=rfc4514(leaf["subject"]) if leaf and "subject" in leaf else None,
    )
    if failure is None and sslsock is not None:
        cipher = sslsock.cipher()
        observation.tls_version = sslsock.version()
        observation.cipher_suite = cipher[0] if cipher else None
        observation.negotiated_protocol = sslsock.selected_alpn_protocol()
    trace.event("tls_handshake_done", address=address, failure=failure, transaction_id=transaction_id)
    if failure is not None:
        (sslsock if sslsock is not None else sock).close()
        return None, observation
    return sslsock, observation
