"""Resolver specifications as written in the config.

    system                        getaddrinfo: what applications on this machine see
    udp://IP[:PORT]               plain DNS over UDP (port 53 by default)
    tcp://IP[:PORT]               plain DNS over TCP
    https://HOST[:PORT]/PATH      DNS over HTTPS (RFC 8484), e.g. https://dns.example/dns-query
    tls://IP[:PORT]               DNS over TLS (RFC 7858, port 853 by default), certificate checked for the IP

Encrypted resolvers are comparison paths: inside a network that lies on port 53, their answer is the clean one.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from probe.addresses import format_endpoint
from probe.errors import ConfigError

Engine = Literal["system", "udp", "tcp", "doh", "dot"]
_DEFAULT_PORTS = {"udp": 53, "tcp": 53, "https": 443, "tls": 853}
_SCHEME_ENGINES: dict[str, Engine] = {"udp": "udp", "tcp": "tcp", "https": "doh", "tls": "dot"}
_EXPECTED = '"system", "udp://IP:PORT", "tcp://IP:PORT", "https://HOST/dns-query" or "tls://IP:853"'


@dataclass(frozen=True)
class Resolver:
    engine: Engine
    host: str = ""
    port: int = 53
    path: str = ""
    """The URL path of a DoH resolver (``/dns-query``)."""

    @property
    def encrypted(self) -> bool:
        return self.engine in ("doh", "dot")

    @property
    def url(self) -> str:
        """A DoH resolver's URL."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port == 443 else f":{self.port}"
        return f"https://{host}{port}{self.path}"

    @property
    def address(self) -> str:
        """OONI's ``resolver_address``: ``ip:port`` (``[ip]:port`` for IPv6), a DoH resolver's URL, or empty for
        the system resolver."""
        if self.engine == "system":
            return ""
        if self.engine == "doh":
            return self.url
        return format_endpoint(self.host, self.port)

    def __str__(self) -> str:
        if self.engine == "system":
            return "system"
        if self.engine == "doh":
            return self.url
        scheme = "tls" if self.engine == "dot" else self.engine
        return f"{scheme}://{self.address}"


def parse_resolver(spec: str) -> Resolver:
    """Parse one resolver spec; raise ``ConfigError`` with the spec on anything else."""
    if spec == "system":
        return Resolver("system")
    parts = urlsplit(spec)
    engine = _SCHEME_ENGINES.get(parts.scheme)
    if engine is None:
        raise ConfigError(f"resolver {spec!r}: expected {_EXPECTED}")
    try:
        host = parts.hostname or ""
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ConfigError(f"resolver {spec!r}: the port must be a number") from None
    if engine == "doh":
        if not host or parts.query or parts.fragment:
            raise ConfigError(f'resolver {spec!r}: DNS over HTTPS is "https://HOST[:PORT]/PATH", e.g. /dns-query')
        return Resolver("doh", host, port, parts.path or "/dns-query")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(f"resolver {spec!r}: the host must be an IP address") from None
    return Resolver(engine, host, port)
