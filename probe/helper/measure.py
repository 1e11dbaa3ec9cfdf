"""What the test helper measures for one request: the control's view of a URL (OONI's TH shape).

Request (JSON, OONI's web_connectivity control request)::

    {"http_request": "https://guljan.org/", "tcp_connect": ["198.51.100.7:443", ...]}

Response::

    {"dns": {"addrs": [...], "failure": null},
     "tcp_connect": {"ip:port": {"status": true, "failure": null}},
     "tls_handshake": {"ip:port": {"server_name": "guljan.org", "status": true, "failure": null,
                                   "x_issuer": "CN=...,O=..."}},
     "http_request": {"status_code": 200, "headers": {...}, "title": "...", "body_length": 1234,
                      "failure": null, "x_transfer_seconds": 0.41, "x_final_url": "https://..."},
     "ip_info": {}, "x_helper": "zhanaozen-probe 0.1.0", "x_runtime": 0.9}

Method: DNS through the helper's own first resolver; TCP to the probe's addresses and its own on
the URL's port (TLS with the host as SNI for https, verified against the helper's trust store);
an HTTP GET through its own addresses, following redirects. Failed values follow OONI: a status
and body length of -1.

Bounded work: at most ``MAX_ENDPOINTS`` endpoints, each step with the config's timeouts, the whole
redirect chain within ``HTTP_BUDGET`` seconds. Unless ``allow_private`` (tests, the lab), the
helper never connects to private, loopback or otherwise bogon addresses, whether the probe names
them, the DNS answers them or a redirect points at them: it must not become a way into its own
network. Such an endpoint is reported with ``status: false`` and ``x_skipped``.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from probe import SOFTWARE_NAME, __version__
from probe.config import Config
from probe.failures import HTTP_TOO_MANY_REDIRECTS, TIMEOUT
from probe.model import HTTPTransaction
from probe.net import dns, http, tcp, tls
from probe.net.addresses import default_port, format_endpoint, is_bogon, is_ip, split_endpoint
from probe.net.resolvers import parse_resolver
from probe.net.trace import Trace

MAX_ENDPOINTS = 16
"""Endpoints connected to per request (the probe's and the helper's own together)."""
MAX_URL_CHARS = 2048
HTTP_BUDGET = 20.0
"""Seconds the whole redirect chain may take."""
MAX_HOPS = 10
SKIPPED_PRIVATE = "private address: not measured by this helper"
HELPER_NAME = f"{SOFTWARE_NAME} {__version__}"
_NO_RESPONSE: dict[str, Any] = {"status_code": -1, "body_length": -1, "headers": {}, "title": ""}


class RequestError(ValueError):
    """The request cannot be measured; the message is sent back with a 400."""


@dataclass(frozen=True)
class ControlRequest:
    url: str
    endpoints: tuple[tuple[str, int], ...]
    """The probe's ``(ip, port)``: connected to as given."""

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or default_port(parts.scheme)


def _endpoint(value: Any) -> tuple[str, int]:
    if not isinstance(value, str) or len(value) > 64:
        raise RequestError('tcp_connect: entries are "ip:port" strings')
    try:
        host, port = split_endpoint(value)
    except ValueError:
        host, port = "", 0
    if not is_ip(host):
        raise RequestError(f"tcp_connect: not ip:port: {value!r}")
    return host, port


def parse_request(body: bytes) -> ControlRequest:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RequestError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise RequestError("the body is not a JSON object")
    url = data.get("http_request")
    if not isinstance(url, str) or len(url) > MAX_URL_CHARS:
        raise RequestError("http_request: an http(s) URL is required")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise RequestError("http_request: not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RequestError("http_request: an http(s) URL is required")
    raw = data.get("tcp_connect", [])
    if not isinstance(raw, list):
        raise RequestError('tcp_connect: a list of "ip:port"')
    endpoints = tuple(dict.fromkeys(_endpoint(value) for value in raw[:MAX_ENDPOINTS]))
    return ControlRequest(url, endpoints)


def _header(transaction: HTTPTransaction, name: str) -> str | None:
    if transaction.response is None:
        return None
    values = [v for k, v in transaction.response.headers_list if k.lower() == name]
    return values[-1] if values else None


def _format(ip: str, port: int) -> str:
    return format_endpoint(ip, port)


class ControlMeasurement:
    """One request's measurement; ``run`` returns the response document."""

    def __init__(self, request: ControlRequest, config: Config, *, allow_private: bool = False) -> None:
        self.request = request
        self.config = config
        self.allow_private = allow_private
        self.trace = Trace()

    def allowed(self, ip: str) -> bool:
        return self.allow_private or not is_bogon(ip)

    def run(self) -> dict[str, Any]:
        begin = time.monotonic()
        addresses, dns_part = self._dns()
        own = [(ip, self.request.port) for ip in addresses]
        endpoints = list(dict.fromkeys([*self.request.endpoints, *own]))[:MAX_ENDPOINTS]
        tcp_part, tls_part = self._connect(endpoints)
        allowed = [ip for ip in addresses if self.allowed(ip)]
        if addresses and not allowed:
            http_part = {**_NO_RESPONSE, "failure": "unknown_failure not_measured", "x_skipped": SKIPPED_PRIVATE}
        else:
            http_part = self._http(allowed)
        return {
            "dns": dns_part,
            "tcp_connect": tcp_part,
            "tls_handshake": tls_part,
            "http_request": http_part,
            "ip_info": {},
            "x_helper": HELPER_NAME,
            "x_runtime": round(time.monotonic() - begin, 3),
        }

    def _dns(self) -> tuple[list[str], dict[str, Any]]:
        host = self.request.host
        if is_ip(host.strip("[]")):
            return [host.strip("[]")], {"addrs": [host.strip("[]")], "failure": None}
        settings = self.config.dns
        resolver = parse_resolver(settings.resolvers[0])
        queries = []
        for query_type in settings.query_types:
            queries += dns.lookup(host, resolver, query_type, self.trace, timeout=settings.timeout, late_window=0.0)
        addresses = dns.addresses(queries)
        cnames = [a.hostname for q in queries for a in q.answers or [] if a.hostname]
        failure = None
        if not addresses:
            failure = next((q.failure for q in queries if q.failure), "dns_no_answer")
        return addresses, {"addrs": list(dict.fromkeys([*cnames, *addresses])), "failure": failure}

    def _connect(self, endpoints: list[tuple[str, int]]) -> tuple[dict[str, Any], dict[str, Any]]:
        tcp_part: dict[str, Any] = {}
        tls_part: dict[str, Any] = {}
        if not endpoints:
            return tcp_part, tls_part
        sni = self.request.host if urlsplit(self.request.url).scheme == "https" else None

        def one(endpoint: tuple[str, int]) -> tuple[dict[str, Any], dict[str, Any] | None]:
            ip, port = endpoint
            if not self.allowed(ip):
                return {"status": False, "failure": None, "x_skipped": SKIPPED_PRIVATE}, None
            sock, connect = tcp.connect(ip, port, self.trace, timeout=self.config.tcp.timeout)
            status = {"status": connect.status.success, "failure": connect.status.failure}
            if sock is None or sni is None:
                if sock is not None:
                    sock.close()
                return status, None
            tls_sock, handshake = tls.handshake(
                sock, sni, self.trace, timeout=self.config.tls.timeout, ca_bundle=self.config.tls.ca_bundle
            )
            if tls_sock is not None:
                tls_sock.close()
            return status, {
                "server_name": sni,
                "status": handshake.failure is None,
                "failure": handshake.failure,
                "x_issuer": handshake.x_issuer,
            }

        with ThreadPoolExecutor(max_workers=len(endpoints), thread_name_prefix="helper-connect") as pool:
            results = list(pool.map(one, endpoints))
        for (ip, port), (status, handshake) in zip(endpoints, results, strict=True):
            tcp_part[_format(ip, port)] = status
            if handshake is not None:
                tls_part[_format(ip, port)] = handshake
        return tcp_part, tls_part

    def _resolve(self, name: str) -> list[str]:
        resolver = parse_resolver(self.config.dns.resolvers[0])
        queries = dns.lookup(
            name, resolver, self.config.dns.query_types[0], self.trace, timeout=self.config.dns.timeout, late_window=0
        )
        return dns.addresses(queries)

    def _http(self, addresses: list[str]) -> dict[str, Any]:
        """GET the URL hop by hop, so that every hop's addresses are checked and the chain has one budget."""
        begin = time.monotonic()
        url = self.request.url
        last: HTTPTransaction | None = None
        failure: str | None = None
        for hop in range(MAX_HOPS + 1):
            remaining = HTTP_BUDGET - (time.monotonic() - begin)
            if remaining <= 0:
                failure = TIMEOUT
                break
            if hop:
                host = urlsplit(url).hostname or ""
                addresses = [host] if is_ip(host) else self._resolve(host)
                addresses = [ip for ip in addresses if self.allowed(ip)]
            if not addresses:
                failure = "dns_no_answer" if hop else "dns_lookup_error"
                break
            limits = self.config.http.model_copy(
                update={"timeout": min(self.config.http.timeout, remaining), "max_redirects": 0}
            )
            (last,) = http.fetch(
                url,
                self.trace,
                addresses=addresses,
                resolve=lambda _: [],
                limits=limits,
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
        if response is None or response.code is None:
            return {**_NO_RESPONSE, "failure": failure or TIMEOUT}
        return {
            "status_code": response.code,
            "headers": response.headers,
            "title": response.x_title or "",
            "body_length": response.x_body_length if response.x_body_length is not None else -1,
            "failure": failure,
            "x_transfer_seconds": round(last.t - last.t0, 3) if last is not None else None,
            "x_final_url": url,
        }
