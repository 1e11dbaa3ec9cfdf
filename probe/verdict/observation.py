"""What the verdict rules look at: one web measurement as typed records, however it was stored.

- ``Observation``: the URL, its attempts and the control's view, before and after them.
- ``Attempt``: one try of the target from the probe (DNS, TCP, TLS, HTTP chain). The probe's
  retries (``x_retries``) are further attempts.
- ``Control``: the test helper's view of the same URL (``control``), after the retries too
  (``x_control_after``).

``probe.verdict.reader`` fills them from OONI-shaped test keys (the probe's or OONI's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from probe import failures
from probe.addresses import format_endpoint, url_port
from probe.net.names import canonical_name

ENCRYPTED_ENGINES = frozenset({"doh", "dot"})


@dataclass
class DNSView:
    """The answer one side got for the URL's host."""

    addresses: list[str] = field(default_factory=list)
    cnames: list[str] = field(default_factory=list)
    failure: str | None = None
    asns: dict[str, int] = field(default_factory=dict)
    engine: str | None = None
    """How it was asked: system, udp, tcp, doh, dot (None for the control's)."""
    resolver: str = ""
    """The resolver's address (a DoH resolver's URL), empty for the system resolver."""

    @property
    def nxdomain(self) -> bool:
        return self.failure == failures.DNS_NXDOMAIN

    @property
    def encrypted(self) -> bool:
        """Asked over DoH or DoT: an answer no one on the path could rewrite."""
        return self.engine in ENCRYPTED_ENGINES


@dataclass
class Injection:
    """Two different answers to one UDP query: the first (usually forged) and a later one."""

    resolver: str
    first: list[str]
    late: list[str]


@dataclass
class TCPResult:
    ip: str
    port: int
    ok: bool
    failure: str | None

    @property
    def endpoint(self) -> str:
        return format_endpoint(self.ip, self.port)


@dataclass
class TLSResult:
    address: str
    server_name: str
    failure: str | None
    issuer: str | None = None
    no_tls_verify: bool = False


@dataclass
class HTTPHop:
    """One round trip of the redirect chain, oldest first."""

    url: str
    failure: str | None
    code: int | None
    headers: dict[str, str]
    body: bytes | None
    """None when the response had no body or it could not be decoded (trimmed OONI fixtures)."""
    body_length: int | None
    truncated: bool
    title: str | None
    seconds: float | None
    """How long the round trip took, when the measurement says."""

    @property
    def host(self) -> str:
        return canonical_name(urlsplit(self.url).hostname or "")

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class Attempt:
    dns: DNSView
    resolvers: list[DNSView]
    """Every other resolver's answer, for comparison."""
    injections: list[Injection]
    tcp: list[TCPResult]
    tls: list[TLSResult]
    http: list[HTTPHop]
    dns_failure: str | None
    http_failure: str | None
    failure: str | None
    failed_step: str | None

    @property
    def final(self) -> HTTPHop | None:
        return self.http[-1] if self.http else None

    @property
    def encrypted_answer(self) -> DNSView | None:
        """The first answer with addresses from a DoH/DoT resolver other than the one used, if any."""
        return next((view for view in self.resolvers if view.encrypted and view.addresses), None)

    @property
    def fetched(self) -> bool:
        """A final response arrived and nothing failed."""
        final = self.final
        return self.failure is None and final is not None and final.failure is None and final.code is not None


@dataclass
class ControlHTTP:
    status: int | None
    headers: dict[str, str]
    title: str | None
    body_length: int | None
    failure: str | None
    seconds: float | None = None
    final_url: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None and self.status is not None and self.status > 0


@dataclass
class Control:
    dns: DNSView | None
    tcp: dict[str, tuple[bool, str | None]]
    tls: dict[str, TLSResult]
    http: ControlHTTP | None


@dataclass
class Observation:
    url: str
    attempts: list[Attempt]
    control: Control | None
    control_failure: str | None
    control_after: Control | None = None
    control_after_failure: str | None = None
    source: str = "probe"

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme.lower()

    @property
    def host(self) -> str:
        return canonical_name(urlsplit(self.url).hostname or "")

    @property
    def port(self) -> int:
        return url_port(self.url)

    @property
    def first(self) -> Attempt:
        return self.attempts[0]


def encrypted_name(view: DNSView) -> str:
    """``DNS over HTTPS via https://...`` or ``DNS over TLS via ip:853``."""
    kind = "DNS over HTTPS" if view.engine == "doh" else "DNS over TLS"
    return f"{kind} via {view.resolver}" if view.resolver else kind
