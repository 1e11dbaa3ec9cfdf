"""HTTP/1.1 GET with redirects, a capped body and a deadline per round trip (df-001)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from probe.config import HTTPSection
from probe.model import HTTPTransaction
from probe.net.trace import Trace


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
) -> list[HTTPTransaction]:
    """GET ``url`` following redirects; return the round trips, most recent first (as OONI does).

    INTERFACE STUB: implemented by the TLS/HTTP work package.
    """
    raise NotImplementedError
