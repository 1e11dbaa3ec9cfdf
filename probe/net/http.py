"""HTTP/1.1 GET with redirects, a capped body and a deadline per round trip (df-001).

Each hop of a redirect chain is one ``HTTPTransaction``: connect (the caller's addresses
for the first hop, ``resolve`` for later ones), TLS for https, GET, response. Everything
that goes wrong on the wire is a failure string on the transaction; nothing is raised.
The TCP connects and TLS handshakes made here appear only as network events.

``connection``: the connection the caller's TCP (and TLS) step already made to the URL's host, which the
first hop uses instead of connecting again, as a browser does: one ClientHello per connection, so one clean
https measurement sends the site's name through the censor once, not twice, and a stateful censor is not
tripped by the probe's own second connection. ``fetch`` owns it from then on and closes it.

Limits, all from ``HTTPSection``:
- ``timeout``: one deadline from connect to the end of the body, however slowly the server
  drips; past it the hop fails with ``generic_timeout_error`` and keeps the status,
  headers and body read so far (the body is then not flagged truncated: the failure says
  it is incomplete).
- ``max_header_bytes`` and at most 100 header lines: else ``unknown_failure http_headers_too_large``.
- ``max_body_bytes``: the body is cut there, ``body_is_truncated`` set, the rest never read.
- ``max_redirects``: that many redirects are followed (at most ``max_redirects + 1``
  transactions); if the last one still redirects it gets ``unknown_failure too_many_redirects``.

A 3xx without a usable ``Location`` is a final response, not a failure. A redirect to a
host the caller's ``resolve`` finds no address for fails with ``dns_no_answer``: the DNS
step itself, with the precise reason, is the caller's to record. ``resolve`` should
return ``[]`` rather than raise; ``OSError`` and ``MeasuredFailure`` from it are recorded.
The body is stored as received: no ``Accept-Encoding`` is sent, so no decoding is done.
"""

from __future__ import annotations

import codecs
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

from probe.addresses import DEFAULT_PORTS, bracketed, format_endpoint, is_ip
from probe.config import HTTPSection
from probe.failures import (
    DNS_NO_ANSWER,
    HTTP_INVALID_REDIRECT,
    HTTP_TOO_MANY_REDIRECTS,
    SSL_FAILED_HANDSHAKE,
    UNSUPPORTED_SCHEME,
    MeasuredFailure,
    classify,
)
from probe.model import HTTPRequestInfo, HTTPResponseInfo, HTTPTransaction, maybe_binary
from probe.net import _http1, html, tcp, tls
from probe.net._deadline import Deadline
from probe.net.names import canonical_name
from probe.net.trace import Trace

INVALID_URL = "unknown_failure invalid_url"
# The Accept headers OONI probe-cli sends, so that servers answer both probes alike.
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
ACCEPT_LANGUAGE = "en-US,en;q=0.9"
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_SAFE_IN_PATH = "/%:@!$&'()*+,;=-._~"
_SAFE_IN_QUERY = _SAFE_IN_PATH + "?"


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # ASCII: an IDNA-encoded name or an IP address without brackets
    port: int
    path: str  # the request-target

    @property
    def host_header(self) -> str:
        host = bracketed(self.host)
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


@dataclass(frozen=True)
class _Options:
    resolve: Callable[[str], list[str]]
    limits: HTTPSection
    tcp_timeout: float
    tls_timeout: float
    ca_bundle: Path | None


@dataclass
class Connection:
    """An open connection (TCP, with TLS for https) to ``ip``:``port``, made and recorded by the caller."""

    sock: socket.socket
    ip: str
    port: int
    alpn: str | None = None

    def close(self) -> None:
        self.sock.close()


@dataclass
class _Hop:
    address: str | None = None
    alpn: str | None = None
    sock: socket.socket | None = None


def _target(url: str) -> _Target:
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise MeasuredFailure(UNSUPPORTED_SCHEME, scheme)
        host = parts.hostname or ""
        port = parts.port or DEFAULT_PORTS[scheme]
        if not is_ip(host):
            host = canonical_name(host)  # IDNA 2008, as browsers (and the DNS step) spell it
    except ValueError:  # UnicodeError too: a bad port, IPv6 literal or IDNA label
        raise MeasuredFailure(INVALID_URL, url) from None
    if not host:
        raise MeasuredFailure(INVALID_URL, url)
    path = quote(parts.path or "/", safe=_SAFE_IN_PATH)
    if parts.query:
        path += "?" + quote(parts.query, safe=_SAFE_IN_QUERY)
    return _Target(scheme, host, port, path)


def _request_headers(target: _Target, user_agent: str) -> list[tuple[str, str]]:
    return [
        ("Host", target.host_header),
        ("User-Agent", user_agent),
        ("Accept", ACCEPT),
        ("Accept-Language", ACCEPT_LANGUAGE),
        ("Connection", "close"),
    ]


def _addresses(target: _Target, given: list[str], resolve: Callable[[str], list[str]]) -> list[str]:
    if given:
        return given
    if is_ip(target.host):
        return [target.host]
    found = resolve(target.host)
    if not found:
        raise MeasuredFailure(DNS_NO_ANSWER, target.host)
    return found


def _connect(
    ips: list[str], target: _Target, trace: Trace, deadline: Deadline, opts: _Options, hop: _Hop
) -> socket.socket:
    """Connect to the first address that accepts (then TLS for https); the last failure otherwise.

    The socket is also kept in ``hop`` as soon as it exists, for the caller to close."""
    failure = DNS_NO_ANSWER
    sock: socket.socket | None = None
    for ip in ips:
        hop.address = format_endpoint(ip, target.port)
        sock, connect = tcp.connect(ip, target.port, trace, timeout=deadline.timeout(opts.tcp_timeout))
        if sock is not None:
            break
        failure = connect.status.failure or failure
    if sock is None:
        raise MeasuredFailure(failure)
    hop.sock = sock
    if target.scheme == "https":
        timeout = deadline.timeout(opts.tls_timeout)
        hop.sock = None  # from here on the handshake owns the socket and closes it on failure
        tls_sock, handshake = tls.handshake(sock, target.host, trace, timeout=timeout, ca_bundle=opts.ca_bundle)
        if tls_sock is None:
            raise MeasuredFailure(handshake.failure or SSL_FAILED_HANDSHAKE)
        hop.sock = sock = tls_sock
        hop.alpn = handshake.negotiated_protocol
    return sock


def _whole_characters(body: bytes) -> bytes:
    """A body cut at the cap may end inside a UTF-8 character: drop that partial character so
    that a text page stays text rather than turning into base64."""
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(body, final=False)
    except UnicodeDecodeError:
        return body
    return text.encode("utf-8")


def _response_info(response: _http1.Response) -> HTTPResponseInfo:
    body = bytes(response.body)
    stored = _whole_characters(body) if response.truncated else body
    return HTTPResponseInfo(
        code=response.code,
        headers=dict(response.headers),
        headers_list=response.headers,
        body=maybe_binary(stored),
        body_is_truncated=response.truncated,
        x_body_length=len(body),
        x_title=html.title(body, response.header("content-type")),
    )


def _redirect(url: str, response: _http1.Response) -> tuple[str | None, str | None]:
    """The next URL (or None) and a failure for a Location that names no host."""
    location = (response.header("location") or "").strip()
    if response.code not in REDIRECT_CODES or not location:
        return None, None
    try:
        given = urlsplit(location)
        after_scheme = location[len(given.scheme) + 1 :] if given.scheme else location
        next_url = urljoin(url, location)
        joined = urlsplit(next_url)
        # urljoin reads "http://" (an authority with no host) as "this page": it is not.
        if after_scheme.startswith("//") and not given.hostname:
            return None, HTTP_INVALID_REDIRECT
        if joined.scheme.lower() in DEFAULT_PORTS and not joined.hostname:
            return None, HTTP_INVALID_REDIRECT
    except ValueError:
        return None, HTTP_INVALID_REDIRECT
    return next_url, None


def _round_trip(
    url: str, trace: Trace, opts: _Options, given: list[str], reuse: Connection | None = None
) -> tuple[HTTPTransaction, str | None]:
    transaction_id = trace.next_id()
    t0 = trace.elapsed()
    trace.event("http_transaction_start", transaction_id=transaction_id)
    request = HTTPRequestInfo(url=url)
    response = _http1.Response()
    hop = _Hop()
    failure: str | None = None
    try:
        target = _target(url)
        request.headers_list = _request_headers(target, opts.limits.user_agent)
        request.headers = dict(request.headers_list)
        deadline = Deadline(opts.limits.timeout)
        if reuse is not None and reuse.port == target.port:
            hop.address, hop.alpn, hop.sock = format_endpoint(reuse.ip, reuse.port), reuse.alpn, reuse.sock
            reuse = None
            sock = hop.sock
        else:
            ips = _addresses(target, given, opts.resolve)
            sock = _connect(ips, target, trace, deadline, opts, hop)
        _http1.send(sock, _http1.request_bytes(target.path, request.headers_list), deadline)
        _http1.read_response(sock, deadline, opts.limits, response)
    except (OSError, MeasuredFailure) as exc:
        failure = classify(exc)
    finally:
        if hop.sock is not None:
            hop.sock.close()
        if reuse is not None:  # a connection this hop could not use
            reuse.close()
    next_url = None
    if failure is None:
        next_url, failure = _redirect(url, response)
    trace.event("http_transaction_done", address=hop.address, failure=failure, transaction_id=transaction_id)
    transaction = HTTPTransaction(
        address=hop.address,
        alpn=hop.alpn,
        request=request,
        response=_response_info(response) if response.code is not None else None,
        failure=failure,
        t0=t0,
        t=trace.elapsed(),
        transaction_id=transaction_id,
    )
    return transaction, next_url


def fetch(
    url: str,
    trace: Trace,
    *,
    addresses: list[str],
    resolve: Callable[[str], list[str]],
    limits: HTTPSection,
    tcp_timeout: float,
    tls_timeout: float,
    ca_bundle: Path | None,
    connection: Connection | None = None,
) -> list[HTTPTransaction]:
    """GET ``url`` following redirects; return the round trips, most recent first (as OONI does).

    The first hop uses ``connection`` when given, else connects to ``addresses`` in order until
    one accepts (``resolve(host)`` if empty); later hops resolve their host. See the module
    docstring for limits and failures.
    """
    opts = _Options(resolve, limits, tcp_timeout, tls_timeout, ca_bundle)
    transactions: list[HTTPTransaction] = []
    next_url: str | None = url
    while next_url is not None:
        first = not transactions
        transaction, next_url = _round_trip(
            next_url, trace, opts, addresses if first else [], connection if first else None
        )
        transactions.append(transaction)
        if next_url is not None and len(transactions) > limits.max_redirects:
            transaction.failure = HTTP_TOO_MANY_REDIRECTS
            break
    return transactions[::-1]
