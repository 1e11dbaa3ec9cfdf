"""DNS over HTTPS (RFC 8484) and over TLS (RFC 7858): the transport, through dnspython (``dnspython[doh]``
2.9 or later, which brings httpx2 and h2; DoT needs nothing more).

``exchange`` sends one query and returns the reply, raising what dnspython or httpx2 raise; ``failure``
names such an exception with OONI's failure strings. ``probe.net.dns`` records the exchange as a df-002
entry (engine ``doh`` or ``dot``; ``resolver_address`` the DoH URL, or the DoT ``ip:port``).

The resolver's certificate is verified against ``ca_bundle`` (else the system store): for DoH against the
URL's host, for DoT against the IP address (its certificate must name it, as public DoT resolvers' do). A
TLS failure says the path to the resolver is tampered with, which is itself evidence.

Known limits: a DoH URL that names a host needs that name resolved first (by getaddrinfo, which a censor
may lie to: give the address, ``https://IP/dns-query``, where the certificate allows it); no late-answer
window (injectors race on UDP only).
"""

from __future__ import annotations

import ssl
from pathlib import Path

import dns.exception
import dns.message

from probe import failures
from probe.resolvers import Resolver

DOT_ALPN = ["dot"]
_CHAIN_DEPTH = 8


def exchange(
    message: dns.message.Message, resolver: Resolver, *, timeout: float, ca_bundle: Path | None
) -> dns.message.Message:
    """``message`` to a doh or dot ``resolver``; its reply (exceptions for anything else)."""
    # Imported here: dns.query brings httpx2 and h2, 15 MB that a probe whose resolvers are all plain
    # (the shipped config's) would hold for nothing, on a machine with 512 MB.
    import dns.query
    import httpx2

    context = ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle is not None else None)
    if resolver.engine == "doh":
        # Our own httpx2 session (dnspython's own transport drops why a connection failed): the DoH host is
        # resolved by getaddrinfo, the failure keeps its OSError, nothing is retried.
        transport = httpx2.HTTPTransport(verify=context, retries=0)
        with httpx2.Client(verify=context, transport=transport) as session:
            return dns.query.https(message, resolver.url, timeout=timeout, session=session)
    if resolver.engine == "dot":
        context.set_alpn_protocols(DOT_ALPN)
        return dns.query.tls(
            message,
            resolver.host,
            timeout=timeout,
            port=resolver.port,
            ssl_context=context,
            server_hostname=resolver.host,
        )
    raise ValueError(f"{resolver} is not an encrypted resolver")


def failure(exc: BaseException) -> str:
    """The failure string for an exception of dnspython or httpx2: the most telling one in its chain."""
    seen: BaseException | None = exc
    for _ in range(_CHAIN_DEPTH):
        if seen is None:
            break
        if isinstance(seen, OSError | ssl.SSLError | dns.exception.Timeout | EOFError):
            return failures.classify(seen)
        if "Timeout" in type(seen).__name__:  # httpx2's ConnectTimeout, ReadTimeout, PoolTimeout
            return failures.TIMEOUT
        seen = seen.__cause__ or seen.__context__
    if isinstance(exc, ValueError) and "status code" in str(exc):  # dnspython: a DoH answer that is not 2xx
        return "unknown_failure doh_http_status " + str(exc).split("status code", 1)[1].split()[0]
    return failures.classify(exc)
