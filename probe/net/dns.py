"""DNS lookups through the system resolver (getaddrinfo) and through UDP/TCP resolvers."""

from __future__ import annotations

from probe.model import DNSQuery
from probe.net.resolvers import Resolver
from probe.net.trace import Trace


def lookup(
    hostname: str,
    resolver: Resolver,
    query_type: str,
    trace: Trace,
    *,
    timeout: float,
    late_window: float,
) -> list[DNSQuery]:
    """Resolve ``hostname``; return the answer that counted first, then any late answers.

    INTERFACE STUB: implemented by the DNS work package.
    """
    raise NotImplementedError


def addresses(queries: list[DNSQuery]) -> list[str]:
    """Unique IPv4/IPv6 addresses of the answers that counted (not late ones), in order."""
    raise NotImplementedError
