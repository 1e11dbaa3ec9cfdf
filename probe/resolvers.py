"""Resolver specifications as written in the config: ``system``, ``udp://IP:PORT``, ``tcp://IP:PORT``."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from probe.addresses import format_endpoint
from probe.errors import ConfigError


@dataclass(frozen=True)
class Resolver:
    engine: Literal["system", "udp", "tcp"]
    host: str = ""
    port: int = 53

    @property
    def address(self) -> str:
        """OONI's ``resolver_address``: ``ip:port`` (``[ip]:port`` for IPv6), or empty for system."""
        if self.engine == "system":
            return ""
        return format_endpoint(self.host, self.port)

    def __str__(self) -> str:
        return "system" if self.engine == "system" else f"{self.engine}://{self.address}"


def parse_resolver(spec: str) -> Resolver:
    """Parse one resolver spec; raise ``ConfigError`` with the spec on anything else."""
    if spec == "system":
        return Resolver("system")
    parts = urlsplit(spec)
    if parts.scheme not in ("udp", "tcp"):
        raise ConfigError(f'resolver {spec!r}: expected "system", "udp://IP:PORT" or "tcp://IP:PORT"')
    try:
        host = parts.hostname or ""
        ipaddress.ip_address(host)
        port = parts.port or 53
    except ValueError:
        raise ConfigError(f"resolver {spec!r}: the host must be an IP address and the port a number") from None
    engine: Literal["udp", "tcp"] = "udp" if parts.scheme == "udp" else "tcp"
    return Resolver(engine, host, port)
