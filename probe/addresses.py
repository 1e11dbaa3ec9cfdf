"""Addresses, ports and endpoints: the small shared vocabulary every layer uses, written once.

An *endpoint* is OONI's ``ip:port`` text, with brackets around IPv6 addresses (``[::1]:443``).
Nothing here touches the network.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

MAX_NAME_LENGTH = 253
_NAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")

DEFAULT_PORTS = {"http": 80, "https": 443}
"""The port a URL of each scheme connects to when it names none."""

BOGON_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
        "64:ff9b:1::/48",
    )
)
"""Space that is never a public server's: RFC 1918, loopback, link-local, CGNAT, benchmarking, multicast,
local-use NAT64. An IPv6 address that carries an IPv4 one is judged by that one too (``embedded_ipv4``)."""

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def is_ip(value: str) -> bool:
    """Whether ``value`` is an IPv4 or IPv6 address (no brackets, no zone)."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _parse(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 one carries, where packets to it may end up.

    IPv4-mapped (``::ffff:0:0/96``), NAT64 (``64:ff9b::/96``), 6to4 (``2002::/16``), Teredo
    (``2001::/32``: its server and, obfuscated, its client) and IPv4-compatible (``::/96``, but
    ``::`` and ``::1``). A check of an IPv6 address that skips these lets ``[::ffff:127.0.0.1]``
    past a loopback rule.
    """
    carried: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        carried.append(address.ipv4_mapped)
    if address in _NAT64:
        carried.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None:
        carried.append(address.sixtofour)
    if address.teredo is not None:
        carried.extend(address.teredo)
    if address in _IPV4_COMPATIBLE and int(address) > 1:
        carried.append(ipaddress.IPv4Address(int(address)))
    return carried


def _forms(address: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """``address`` and every IPv4 address it carries; empty when it is not an address."""
    ip = _parse(address)
    if ip is None:
        return []
    return [ip, *embedded_ipv4(ip)] if isinstance(ip, ipaddress.IPv6Address) else [ip]


def is_bogon(address: str) -> bool:
    """Whether ``address`` (or an IPv4 address it carries) lies in space that is never a public server's."""
    return any(ip.version == network.version and ip in network for ip in _forms(address) for network in BOGON_NETWORKS)


def is_this_host_or_link(address: str) -> bool:
    """Whether ``address`` (or an IPv4 address it carries) is loopback, link-local, unspecified or multicast:
    this machine or its own link, never a server to measure, not even in a lab."""
    return any(ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast for ip in _forms(address))


def default_port(scheme: str) -> int:
    """The port of an http(s) URL that names none: 443 for https, else 80."""
    return 443 if scheme.lower() == "https" else 80


def url_port(url: str) -> int:
    """The port ``url`` connects to: its own, or its scheme's default (also when its own is not a number)."""
    parts = urlsplit(url)
    try:
        explicit = parts.port
    except ValueError:
        explicit = None
    return explicit or default_port(parts.scheme)


def bracketed(host: str) -> str:
    """``host`` as written before ``:port`` in an endpoint, a URL or a Host header: IPv6 in brackets."""
    return f"[{host}]" if ":" in host else host


def format_endpoint(host: str, port: int) -> str:
    """OONI's ``ip:port``, with brackets around IPv6 addresses."""
    return f"{bracketed(host)}:{port}"


def split_endpoint(value: str, *, allow_port_zero: bool = False) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` into its parts; ValueError when it is neither.

    The host is not checked (a name or an address); port 0 ("any free port") only for a listener.
    """
    host, sep, port_text = value.rpartition(":")
    lowest = 0 if allow_port_zero else 1
    if not sep or not port_text.isdigit() or not lowest <= int(port_text) < 65536:
        raise ValueError(f"expected host:port, got {value!r}")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return host, int(port_text)


def endpoint_host(endpoint: str) -> str:
    """``1.2.3.4:443`` and ``[::1]:443`` to their address (a bare address stays as it is)."""
    if endpoint.startswith("["):
        return endpoint[1:].split("]", 1)[0]
    if endpoint.count(":") == 1:
        return endpoint.rsplit(":", 1)[0]
    return endpoint


def check_hostname(value: str) -> str | None:
    """Why ``value`` is not a DNS host name (ASCII labels, at most 253 characters), or None."""
    name = value.rstrip(".")
    if not name or len(name) > MAX_NAME_LENGTH or not all(_NAME_LABEL.match(label) for label in name.split(".")):
        return f"not a host name: {value!r}"
    return None


def split_host_port(value: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port``, the host a name or an address, into its parts; ValueError when it is neither."""
    host, port = split_endpoint(value)
    if not is_ip(host) and check_hostname(host):
        raise ValueError(f"not a host name or IP address: {host!r}")
    return host, port
