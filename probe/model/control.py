"""OONI's web-connectivity test-helper protocol: one typed contract for the probe and the helper.

The probe POSTs a ``ControlRequest`` and the helper answers a ``ControlResponse`` (OONI's
``ts-017-web-connectivity`` "control request and response", the shape of OONI's public helpers
since 2023 and of older ones, whose answers lack ``tls_handshake`` and ``ip_info``)::

    request   {"http_request": URL, "http_request_headers": {name: [values]},
               "tcp_connect": ["ip:port", "[ipv6]:port"], "x_quic_enabled": false}
    response  {"dns": {"addrs", "failure"}, "tcp_connect": {ep: {"status", "failure"}},
               "tls_handshake": {ep: {"server_name", "status", "failure"}}, "quic_handshake": {},
               "http_request": {"status_code", "headers", "title", "body_length", "failure", ...},
               "http3_request": null, "ip_info": {ip: {"asn", "flags"}}}

A failed HTTP request has ``status_code`` and ``body_length`` -1. Unknown keys are kept (OONI adds
keys over time), so that an answer is stored as the helper sent it.

Extensions of this project (``x_`` keys, which OONI's probes ignore): ``x_skipped`` on an
endpoint or request the helper refused to measure (a private address), ``x_issuer`` on a TLS
handshake, ``x_transfer_seconds`` and ``x_final_url`` on the HTTP request, ``x_helper`` and
``x_runtime``, and ``x_client_network``: the ASN, network name and country of the address the
request came from, looked up in the helper's IP databases (never the address itself).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, ValidationError, model_serializer

from probe.addresses import is_ip, split_endpoint

MAX_URL_CHARS = 2048
MAX_ENDPOINTS = 16
"""Endpoints in one request (the probe's); the helper adds its own within the same bound."""
MAX_HEADERS = 32
MAX_HEADER_CHARS = 1024

# ip_info flags, as OONI's helper sets them.
FLAG_RESOLVED_BY_PROBE = 1
FLAG_RESOLVED_BY_HELPER = 2
FLAG_BOGON = 4
FLAG_VALID_FOR_DOMAIN = 8


class _Message(BaseModel):
    """A part of a message: unknown keys are kept, and ``x_`` extensions left unset are not sent."""

    model_config = ConfigDict(extra="allow")

    @model_serializer(mode="wrap")
    def _without_empty_extensions(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (k.startswith("x_") and v is None)}
        return data


class ControlRequest(_Message):
    http_request: str = Field(max_length=MAX_URL_CHARS, description="The URL to measure.")
    http_request_headers: dict[str, list[str]] = Field(
        default_factory=dict, description="Headers the probe sends (the helper uses the same User-Agent)."
    )
    tcp_connect: list[str] = Field(default_factory=list, description='The probe\'s endpoints, "ip:port".')
    x_quic_enabled: bool = False


class DNSControl(_Message):
    failure: str | None = None
    addrs: list[str] = Field(default_factory=list, description="Addresses and CNAMEs the helper resolved.")


class TCPControl(_Message):
    status: bool
    failure: str | None = None
    x_skipped: str | None = None


class TLSControl(_Message):
    server_name: str = ""
    status: bool
    failure: str | None = None
    x_issuer: str | None = None


class HTTPControl(_Message):
    body_length: int = -1
    discovered_h3_endpoint: str = ""
    failure: str | None = None
    title: str = ""
    headers: dict[str, str] = Field(default_factory=dict)
    status_code: int = -1
    x_transfer_seconds: float | None = None
    x_final_url: str | None = None
    x_skipped: str | None = None


class IPInfo(_Message):
    asn: int = 0
    flags: int = 0


class ClientNetwork(_Message):
    """Where the request came from, as the helper's IP databases tell (0/""/"ZZ" when they cannot)."""

    asn: int = Field(0, ge=0, description="The client address's autonomous system number.")
    as_name: str = Field("", max_length=256, description="The network's name.")
    cc: str = Field("ZZ", pattern=r"^[A-Z]{2}$", description="The country code.")

    @property
    def known(self) -> bool:
        return self.asn > 0 or self.cc != "ZZ"


class ControlResponse(_Message):
    tcp_connect: dict[str, TCPControl] = Field(default_factory=dict)
    tls_handshake: dict[str, TLSControl] = Field(default_factory=dict)
    quic_handshake: dict[str, Any] = Field(default_factory=dict)
    http_request: HTTPControl
    http3_request: dict[str, Any] | None = None
    dns: DNSControl = Field(default_factory=DNSControl)
    ip_info: dict[str, IPInfo] = Field(default_factory=dict)
    x_helper: str | None = None
    x_runtime: float | None = None
    x_client_network: ClientNetwork | None = None

    def document(self) -> dict[str, Any]:
        """The answer as JSON-ready data (what the helper sends, what the probe stores)."""
        return self.model_dump(mode="json")


class ProtocolError(ValueError):
    """A message that does not follow the protocol; the text says why, in one line."""


def parse_request(body: bytes) -> ControlRequest:
    try:
        return ControlRequest.model_validate_json(body)
    except ValidationError as exc:
        raise ProtocolError(_why(exc)) from None


def parse_response(body: bytes) -> ControlResponse:
    try:
        return ControlResponse.model_validate_json(body)
    except ValidationError as exc:
        raise ProtocolError(_why(exc)) from None


def _why(exc: ValidationError) -> str:
    error = exc.errors()[0]
    if error["type"] == "json_invalid":
        return "the body is not JSON"
    if error["type"] == "model_type":
        return "the body is not a JSON object"
    where = ".".join(str(part) for part in error["loc"]) or "the body"
    return f"{where}: {error['msg']}"


def parse_endpoint(value: str) -> tuple[str, int]:
    """``"ip:port"`` or ``"[ipv6]:port"`` as ``(ip, port)``; ProtocolError otherwise."""
    try:
        host, port = split_endpoint(value)
    except ValueError:
        host, port = "", 0
    if not is_ip(host):
        raise ProtocolError(f"tcp_connect: not ip:port: {value[:80]!r}")
    return host, port


def user_agent(request: ControlRequest) -> str | None:
    """The User-Agent the probe sent, for the helper to send too (bounded)."""
    for name, values in list(request.http_request_headers.items())[:MAX_HEADERS]:
        if name.lower() == "user-agent" and values and len(values[0]) <= MAX_HEADER_CHARS:
            return values[0]
    return None
