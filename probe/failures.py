"""Map what went wrong on the wire to OONI's stable failure strings (df-007).

Every experiment step records ``failure``: ``None`` for success, otherwise one of the
strings below. ``classify`` is the one place exceptions become strings, most specific
first, so data from this probe stays comparable with OONI's.
"""

from __future__ import annotations

import errno
import http.client
import socket
import ssl

import dns.exception

from probe.errors import ProbeError

DNS_NXDOMAIN = "dns_nxdomain_error"
DNS_NO_ANSWER = "dns_no_answer"
DNS_SERVFAIL = "dns_servfail_error"
DNS_REFUSED = "dns_refused_error"
DNS_BOGON = "dns_bogon_error"
DNS_MISBEHAVING = "dns_server_misbehaving"
DNS_TEMPORARY = "dns_temporary_failure"
DNS_WRONG_QUERY_ID = "dns_reply_with_wrong_query_id"
TIMEOUT = "generic_timeout_error"
CONNECTION_REFUSED = "connection_refused"
CONNECTION_RESET = "connection_reset"
CONNECTION_ABORTED = "connection_aborted"
EOF_ERROR = "eof_error"
HOST_UNREACHABLE = "host_unreachable"
NETWORK_UNREACHABLE = "network_unreachable"
NETWORK_DOWN = "network_down"
SSL_INVALID_HOSTNAME = "ssl_invalid_hostname"
SSL_UNKNOWN_AUTHORITY = "ssl_unknown_authority"
SSL_INVALID_CERTIFICATE = "ssl_invalid_certificate"
SSL_FAILED_HANDSHAKE = "ssl_failed_handshake"
HTTP_INVALID_REDIRECT = "http_invalid_redirect_location_host"
# How Android's resolver (and OONI Probe on Android) reports a name that resolved to nothing.
ANDROID_DNS_NO_DATA = "android_dns_cache_no_data"
# Not in df-007 as such; kept stable so analyses can rely on them.
HTTP_TOO_MANY_REDIRECTS = "unknown_failure too_many_redirects"
HTTP_HEADERS_TOO_LARGE = "unknown_failure http_headers_too_large"
HTTP_MALFORMED_RESPONSE = "unknown_failure http_malformed_response"
UNSUPPORTED_SCHEME = "unknown_failure unsupported_scheme"
INVALID_URL = "unknown_failure invalid_url"

_ERRNO_FAILURES = {
    errno.ECONNREFUSED: CONNECTION_REFUSED,
    errno.ECONNRESET: CONNECTION_RESET,
    errno.EPIPE: CONNECTION_RESET,
    errno.ECONNABORTED: CONNECTION_ABORTED,
    errno.EHOSTUNREACH: HOST_UNREACHABLE,
    errno.ENETUNREACH: NETWORK_UNREACHABLE,
    errno.ENETDOWN: NETWORK_DOWN,
    errno.ETIMEDOUT: TIMEOUT,
}

# OpenSSL X509_V_ERR_* codes that mean "no trusted root for this chain".
_UNKNOWN_AUTHORITY_CODES = {2, 18, 19, 20, 21, 27}
_HOSTNAME_MISMATCH_CODE = 62


class MeasuredFailure(ProbeError):
    """Raised inside ``probe.net`` to carry an already-classified failure string.

    It never escapes the network layer: primitives catch it and record ``failure``.
    """

    def __init__(self, failure: str, detail: str = "") -> None:
        super().__init__(f"{failure}: {detail}" if detail else failure)
        self.failure = failure


def _ssl_failure(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = getattr(exc, "verify_code", None)
        if code == _HOSTNAME_MISMATCH_CODE:
            return SSL_INVALID_HOSTNAME
        if code in _UNKNOWN_AUTHORITY_CODES:
            return SSL_UNKNOWN_AUTHORITY
        return SSL_INVALID_CERTIFICATE
    if isinstance(exc, ssl.SSLZeroReturnError | ssl.SSLEOFError):
        return EOF_ERROR
    return SSL_FAILED_HANDSHAKE


def _gai_failure(exc: socket.gaierror) -> str:
    if exc.errno == socket.EAI_NONAME:
        return DNS_NXDOMAIN
    if exc.errno == getattr(socket, "EAI_NODATA", -5):
        return DNS_NO_ANSWER
    if exc.errno == socket.EAI_AGAIN:
        return DNS_TEMPORARY
    return DNS_MISBEHAVING


def classify(exc: BaseException) -> str:
    """Return OONI's failure string for ``exc`` (``unknown_failure <detail>`` as a last resort)."""
    if isinstance(exc, MeasuredFailure):
        return exc.failure
    if isinstance(exc, dns.exception.DNSException):
        # Whatever raised a resolver's error has loaded dns.resolver; importing it at the top would cost every
        # command that only reads a database a tenth of a second (it brings DNS over HTTPS and httpx).
        from dns import resolver

        if isinstance(exc, resolver.NXDOMAIN):
            return DNS_NXDOMAIN
        if isinstance(exc, resolver.NoAnswer):
            return DNS_NO_ANSWER
    if isinstance(exc, dns.exception.Timeout | socket.timeout | TimeoutError):
        return TIMEOUT
    if isinstance(exc, socket.gaierror):
        return _gai_failure(exc)
    if isinstance(exc, ssl.SSLError):
        return _ssl_failure(exc)
    # RemoteDisconnected subclasses ConnectionResetError but means a clean close.
    if isinstance(exc, http.client.RemoteDisconnected | http.client.IncompleteRead | EOFError):
        return EOF_ERROR
    if isinstance(exc, http.client.LineTooLong):
        return HTTP_HEADERS_TOO_LARGE
    if isinstance(exc, http.client.HTTPException):
        return HTTP_MALFORMED_RESPONSE
    if isinstance(exc, OSError) and exc.errno in _ERRNO_FAILURES:
        return _ERRNO_FAILURES[exc.errno]
    if isinstance(exc, ConnectionResetError):
        return CONNECTION_RESET
    if isinstance(exc, ConnectionRefusedError):
        return CONNECTION_REFUSED
    detail = str(exc).strip() or type(exc).__name__
    return f"unknown_failure {detail}"


def is_dns_failure(failure: str | None) -> bool:
    """Whether ``failure`` is a DNS answer (or its absence): ``dns_*``, or Android's ``android_dns_cache_no_data``."""
    return failure is not None and (failure.startswith("dns_") or failure == ANDROID_DNS_NO_DATA)
