"""Forensic re-measurements: a flow whose verdict rests on a packet, measured once more under capture.

For a reset (``RESET_DETAILS``) the same address and port are connected to again, sending the same
first bytes (a ClientHello with the SNI, or the HTTP request); for DNS injection the resolver that
answered twice is asked again. The packets are judged by ``probe.verdict.forensics``; the result
goes to ``test_keys.x_forensics``. Without root the result says ``unavailable (no root)``; nothing
here raises for what happens on the wire. The capture's modules are imported by the first re-measurement: a
round without a reset or an injected answer never loads them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from probe.addresses import default_port
from probe.config import Config
from probe.model import Measurement
from probe.resolvers import parse_resolver
from probe.verdict.forensics import judge_dns, judge_reset

RESET_DETAILS = frozenset({"tcp_reset", "tls_reset", "http_reset"})
DNS_DETAILS = frozenset({"dns_injection"})
FORENSIC_DETAILS = RESET_DETAILS | DNS_DETAILS


def reset_forensics(address: str, port: int, hello: bytes | None, *, timeout: float) -> dict[str, Any]:
    """Connect to ``address:port`` again (sending ``hello``: a ClientHello or an HTTP request) under
    capture, and judge the reset that comes back."""
    from probe.forensics import capture

    reason = capture.unavailable_reason()
    if reason is not None:
        return {"status": reason}
    packets = capture.capture_reset(address, port, hello, timeout=timeout)
    return {
        "status": "ok",
        "kind": "reset",
        "target": f"{address}:{port}",
        **judge_reset(packets, address, port),
        "packets": [p.to_dict() for p in packets[: capture.MAX_PACKETS]],
    }


def dns_forensics(resolver: str, port: int, hostname: str, *, timeout: float, window: float) -> dict[str, Any]:
    """Ask ``resolver`` for ``hostname`` again under capture, listening ``window`` seconds for more answers."""
    from probe.forensics import capture

    reason = capture.unavailable_reason()
    if reason is not None:
        return {"status": reason}
    packets = capture.capture_dns(resolver, port, hostname, timeout=timeout, window=window)
    return {
        "status": "ok",
        "kind": "dns",
        "target": f"{resolver}:{port}",
        **judge_dns(packets, resolver, port),
    }


def remeasure(measurement: Measurement, blocking_detail: str, config: Config) -> dict[str, Any]:
    """The forensic record for a measurement judged blocked by ``blocking_detail`` (one of ``FORENSIC_DETAILS``)."""
    keys = measurement.test_keys.model_dump(mode="json")
    url = measurement.input or ""
    parts = urlsplit(url)
    timeout = config.tcp.timeout + config.tls.timeout
    if blocking_detail in RESET_DETAILS:
        target = _reset_target(keys, parts.port or default_port(parts.scheme))
        if target is None:
            return {"status": "skipped (no address to connect to)"}
        from probe.forensics.hello import hello_for

        hello = None if blocking_detail == "tcp_reset" else hello_for(parts.scheme, parts.hostname or "")
        return reset_forensics(target[0], target[1], hello, timeout=timeout)
    resolver = _injected_resolver(keys)
    if resolver is None:
        return {"status": "skipped (the injected answer came through the system resolver)"}
    return dns_forensics(
        resolver[0],
        resolver[1],
        parts.hostname or "",
        timeout=config.dns.timeout,
        window=config.dns.late_answer_window,
    )


def _reset_target(keys: dict[str, Any], port: int) -> tuple[str, int] | None:
    for entry in keys.get("tcp_connect") or []:
        if entry.get("port") == port:
            return str(entry["ip"]), port
    return None


def _injected_resolver(keys: dict[str, Any]) -> tuple[str, int] | None:
    for query in keys.get("queries") or []:
        if "late_response" in (query.get("tags") or []) and query.get("engine") == "udp":
            resolver = parse_resolver(f"udp://{query['resolver_address']}")
            return resolver.host, resolver.port
    return None
