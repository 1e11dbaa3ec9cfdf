"""What the test helper measures for one request: the control's view of a URL.

The request and the answer are OONI's web-connectivity test-helper messages (``probe.model.control``).

Method: DNS through the helper's own first resolver; TCP to the probe's addresses and its own on
the URL's port (TLS with the host as SNI for https, verified against the helper's trust store);
an HTTP GET through its own addresses, following redirects, with the probe's User-Agent. Failed
values follow OONI: a status and body length of -1. ``ip_info`` flags each address (resolved by
the probe, by the helper, a bogon, valid for the domain: a TLS handshake for it succeeded) with its
ASN when the helper has an ASN database.

Bounded work: at most ``MAX_ENDPOINTS`` endpoints, each step with the config's timeouts, the whole
redirect chain within ``HTTP_BUDGET`` seconds.

The helper must not become a way into its own network. It never connects to loopback, link-local,
unspecified or multicast addresses, and, unless ``allow_private`` (the lab), to private or otherwise
bogon ones (``probe.addresses``), IPv4 carried in IPv6 included (``[::ffff:127.0.0.1]``, NAT64,
6to4, Teredo), whether the probe names them (``tcp_connect``), the DNS answers them or a redirect
points at them. Each name is resolved once and the helper connects to the very addresses it checked
(the HTTP client gets them, and no resolver), so a name that answers differently the second time
gains nothing. Such an endpoint is reported with ``status: false`` and ``x_skipped``; an HTTP
request none of whose addresses may be measured, with ``x_skipped``.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from probe import SOFTWARE_NAME, __version__
from probe.addresses import default_port, format_endpoint, is_bogon, is_ip, is_this_host_or_link
from probe.config import Config
from probe.failures import HTTP_TOO_MANY_REDIRECTS, TIMEOUT
from probe.model import DNSQuery, HTTPTransaction
from probe.model import control as protocol
from probe.model.control import (
    MAX_ENDPOINTS,
    ClientNetwork,
    ControlResponse,
    DNSControl,
    HTTPControl,
    IPInfo,
    TCPControl,
    TLSControl,
)
from probe.net import dns, http, tcp, tls
from probe.net.trace import Trace
from probe.resolvers import parse_resolver

HTTP_BUDGET = 20.0
"""Seconds the whole redirect chain may take."""
MAX_HOPS = 10
SKIPPED_PRIVATE = "private address: not measured by this helper"
HELPER_NAME = f"{SOFTWARE_NAME} {__version__}"
RequestError = protocol.ProtocolError
"""The request cannot be measured; the message is sent back with a 400."""
AsnLookup = Callable[[str], int]
"""An address's ASN (0: unknown)."""


@dataclass(frozen=True)
class ControlRequest:
    """A checked request: the URL and the probe's endpoints, connected to as given."""

    url: str
    endpoints: tuple[tuple[str, int], ...]
    user_agent: str | None = None

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or default_port(parts.scheme)


def parse_request(body: bytes) -> ControlRequest:
    """The request in ``body`` (OONI's shape), checked; RequestError says what is wrong."""
    message = protocol.parse_request(body)
    url = message.http_request
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise RequestError("http_request: not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RequestError("http_request: an http(s) URL is required")
    endpoints = tuple(dict.fromkeys(protocol.parse_endpoint(v) for v in message.tcp_connect[:MAX_ENDPOINTS]))
    return ControlRequest(url, endpoints, protocol.user_agent(message))


def _header(transaction: HTTPTransaction, name: str) -> str | None:
    if transaction.response is None:
        return None
    values = [v for k, v in transaction.response.headers_list if k.lower() == name]
    return values[-1] if values else None


class ControlMeasurement:
    """One request's measurement; ``run`` returns the answer.

    ``client_network`` (the requesting address's network, when the helper can tell) is sent as
    ``x_client_network``; ``asn`` fills ``ip_info``.
    """

    def __init__(
        self,
        request: ControlRequest,
        config: Config,
        *,
        allow_private: bool = False,
        client_network: ClientNetwork | None = None,
        asn: AsnLookup | None = None,
        test_loopback: bool = False,
    ) -> None:
        self.request = request
        self.config = config
        self.allow_private = allow_private
        self.test_loopback = test_loopback
        self.client_network = client_network
        self.asn = asn
        self.trace = Trace()

    def allowed(self, ip: str) -> bool:
        """Whether the helper may connect to ``ip`` (see the module's docstring)."""
        if self.test_loopback and (ip.startswith("127.") or ip == "::1") and is_ip(ip):
            return True  # a test server, written as such (never in an IPv6 disguise)
        if not is_ip(ip.split("%", 1)[0]) or is_this_host_or_link(ip):
            return False
        return self.allow_private or not is_bogon(ip)

    def run(self) -> ControlResponse:
        begin = time.monotonic()
        addresses, dns_part = self._dns()
        own = [(ip, self.request.port) for ip in addresses]
        endpoints = list(dict.fromkeys([*self.request.endpoints, *own]))[:MAX_ENDPOINTS]
        tcp_part, tls_part = self._connect(endpoints)
        allowed = [ip for ip in addresses if self.allowed(ip)]
        if addresses and not allowed:
            http_part = HTTPControl(failure="unknown_failure not_measured", x_skipped=SKIPPED_PRIVATE)
        else:
            http_part = self._http(allowed)
        return ControlResponse(
            dns=dns_part,
            tcp_connect=tcp_part,
            tls_handshake=tls_part,
            http_request=http_part,
            ip_info=self._ip_info(addresses, tls_part),
            x_helper=HELPER_NAME,
            x_runtime=round(time.monotonic() - begin, 3),
            x_client_network=self.client_network,
        )

    def _ip_info(self, addresses: list[str], tls_part: dict[str, TLSControl]) -> dict[str, IPInfo]:
        valid = {protocol.parse_endpoint(ep)[0] for ep, handshake in tls_part.items() if handshake.status}
        flags: dict[str, int] = {}
        for ip, _ in self.request.endpoints:
            flags[ip] = flags.get(ip, 0) | protocol.FLAG_RESOLVED_BY_PROBE
        for ip in addresses:
            flags[ip] = flags.get(ip, 0) | protocol.FLAG_RESOLVED_BY_HELPER
        info = {}
        for ip, flag in flags.items():
            flag |= protocol.FLAG_BOGON if is_bogon(ip) else 0
            flag |= protocol.FLAG_VALID_FOR_DOMAIN if ip in valid else 0
            info[ip] = IPInfo(asn=self.asn(ip) if self.asn is not None else 0, flags=flag)
        return info

    def _dns(self) -> tuple[list[str], DNSControl]:
        host = self.request.host
        if is_ip(host.strip("[]")):
            return [host.strip("[]")], DNSControl(addrs=[host.strip("[]")])
        queries = self._lookup(host)
        addresses = dns.addresses(queries)
        cnames = [a.hostname for q in queries for a in q.answers or [] if a.hostname]
        failure = None
        if not addresses:
            failure = next((q.failure for q in queries if q.failure), "dns_no_answer")
        return addresses, DNSControl(addrs=list(dict.fromkeys([*cnames, *addresses])), failure=failure)

    def _connect(self, endpoints: list[tuple[str, int]]) -> tuple[dict[str, TCPControl], dict[str, TLSControl]]:
        tcp_part: dict[str, TCPControl] = {}
        tls_part: dict[str, TLSControl] = {}
        if not endpoints:
            return tcp_part, tls_part
        sni = self.request.host if urlsplit(self.request.url).scheme == "https" else None

        def one(endpoint: tuple[str, int]) -> tuple[TCPControl, TLSControl | None]:
            ip, port = endpoint
            if not self.allowed(ip):
                return TCPControl(status=False, x_skipped=SKIPPED_PRIVATE), None
            sock, connect = tcp.connect(ip, port, self.trace, timeout=self.config.tcp.timeout)
            if sock is not None and not self.allowed(_peer(sock)):  # never expected: the address was checked
                sock.close()
                return TCPControl(status=False, x_skipped=SKIPPED_PRIVATE), None
            status = TCPControl(status=connect.status.success, failure=connect.status.failure)
            if sock is None or sni is None:
                if sock is not None:
                    sock.close()
                return status, None
            tls_sock, handshake = tls.handshake(
                sock, sni, self.trace, timeout=self.config.tls.timeout, ca_bundle=self.config.tls.ca_bundle
            )
            if tls_sock is not None:
                tls_sock.close()
            return status, TLSControl(
                server_name=sni,
                status=handshake.failure is None,
                failure=handshake.failure,
                x_issuer=handshake.x_issuer,
            )

        with ThreadPoolExecutor(max_workers=len(endpoints), thread_name_prefix="helper-connect") as pool:
            results = list(pool.map(one, endpoints))
        for (ip, port), (status, handshake) in zip(endpoints, results, strict=True):
            tcp_part[format_endpoint(ip, port)] = status
            if handshake is not None:
                tls_part[format_endpoint(ip, port)] = handshake
        return tcp_part, tls_part

    def _lookup(self, name: str) -> list[DNSQuery]:
        """``name`` asked once of the helper's first resolver, for every configured query type."""
        settings = self.config.dns
        resolver = parse_resolver(settings.resolvers[0])
        queries = []
        for query_type in settings.query_types:
            queries += dns.lookup(name, resolver, query_type, self.trace, timeout=settings.timeout, late_window=0.0)
        return queries

    def _http(self, addresses: list[str]) -> HTTPControl:
        """GET the URL hop by hop, so that every hop's addresses are checked and the chain has one budget."""
        begin = time.monotonic()
        url = self.request.url
        last: HTTPTransaction | None = None
        failure: str | None = None
        skipped = False
        for hop in range(MAX_HOPS + 1):
            remaining = HTTP_BUDGET - (time.monotonic() - begin)
            if remaining <= 0:
                failure = TIMEOUT
                break
            if hop:
                host = urlsplit(url).hostname or ""
                resolved = [host] if is_ip(host) else dns.addresses(self._lookup(host))
                addresses = [ip for ip in resolved if self.allowed(ip)]
                skipped = bool(resolved) and not addresses
            if skipped:
                failure = "unknown_failure not_measured"
                break
            if not addresses:
                failure = "dns_no_answer" if hop else "dns_lookup_error"
                break
            update: dict[str, object] = {"timeout": min(self.config.http.timeout, remaining), "max_redirects": 0}
            if self.request.user_agent:
                update["user_agent"] = self.request.user_agent
            (last,) = http.fetch(
                url,
                self.trace,
                addresses=addresses,
                resolve=lambda _: [],
                limits=self.config.http.model_copy(update=update),
                tcp_timeout=self.config.tcp.timeout,
                tls_timeout=self.config.tls.timeout,
                ca_bundle=self.config.tls.ca_bundle,
            )
            location = _header(last, "location")
            if last.failure != HTTP_TOO_MANY_REDIRECTS or not location:
                failure = last.failure
                break
            url = urljoin(url, location.strip())
        else:
            failure = HTTP_TOO_MANY_REDIRECTS
        response = last.response if last is not None else None
        if skipped:  # a redirect to where the helper does not go: not measured, whatever came before
            return HTTPControl(failure=failure, x_skipped=SKIPPED_PRIVATE, x_final_url=url)
        if response is None or response.code is None:
            return HTTPControl(failure=failure or TIMEOUT)
        return HTTPControl(
            status_code=response.code,
            headers=response.headers,
            title=response.x_title or "",
            body_length=response.x_body_length if response.x_body_length is not None else -1,
            failure=failure,
            x_transfer_seconds=round(last.t - last.t0, 3) if last is not None else None,
            x_final_url=url,
        )


def _peer(sock: socket.socket) -> str:
    try:
        return str(sock.getpeername()[0])
    except OSError:
        return ""
