"""Typed measurement model, shaped after OONI's data format 0.2.0.

Field names follow the OONI specs (df-000 envelope, df-001 HTTP, df-002 DNS,
df-005 TCP connect, df-006 TLS handshake, df-008 network events) so that an export is
readable by OONI's own tools. Fields OONI does not define carry an ``x_`` prefix.
Times ``t0``/``t`` are seconds since the measurement started.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, SerializerFunctionWrapHandler, model_serializer

from probe.times import DB_TIME_FORMAT as DB_TIME_FORMAT
from probe.times import db_time as db_time
from probe.times import ooni_time as ooni_time
from probe.times import utc_now_iso as utc_now_iso

DATA_FORMAT_VERSION = "0.2.0"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BinaryData(_Model):
    """Bytes that are not valid UTF-8, as OONI stores them."""

    format: Literal["base64"] = "base64"
    data: str

    @classmethod
    def of(cls, raw: bytes) -> BinaryData:
        return cls(data=base64.b64encode(raw).decode("ascii"))


MaybeBinary = str | BinaryData


def maybe_binary(raw: bytes) -> MaybeBinary:
    """Text when ``raw`` is UTF-8, else base64 (df-001's body encoding)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return BinaryData.of(raw)


class DNSAnswer(_Model):
    answer_type: str
    ipv4: str | None = None
    ipv6: str | None = None
    hostname: str | None = None
    ttl: int | None = None
    asn: int | None = None


class DNSQuery(_Model):
    """One DNS query and the answer that counted (df-002).

    Extra answers that arrived for the same query id during the listening window are
    stored as further entries with the same ``transaction_id`` and the tag
    ``late_response``: two different answers to one query is the mark of an injector.
    """

    engine: Literal["system", "udp", "tcp", "doh", "dot"]
    resolver_address: str
    hostname: str
    query_type: str
    answers: list[DNSAnswer] | None = None
    failure: str | None = None
    rcode: int | None = None
    raw_response: str | None = None
    t0: float
    t: float
    transaction_id: int
    tags: list[str] = Field(default_factory=list)
    x_query_id: int | None = None


class TCPConnectStatus(_Model):
    success: bool
    failure: str | None = None
    blocked: bool | None = None


class TCPConnect(_Model):
    ip: str
    port: int
    status: TCPConnectStatus
    t0: float
    t: float
    transaction_id: int


class TLSHandshake(_Model):
    """One TLS handshake with SNI (df-006), with the issuer and subject of the leaf."""

    network: str = "tcp"
    address: str
    server_name: str
    tls_version: str | None = None
    cipher_suite: str | None = None
    negotiated_protocol: str | None = None
    no_tls_verify: bool = False
    peer_certificates: list[BinaryData] | None = None
    failure: str | None = None
    t0: float
    t: float
    transaction_id: int
    x_issuer: str | None = None
    x_subject: str | None = None


class HTTPRequestInfo(_Model):
    url: str
    method: str = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    headers_list: list[tuple[str, str]] = Field(default_factory=list)
    body: str = ""
    body_is_truncated: bool = False
    tor: dict[str, Any] = Field(default_factory=lambda: {"is_tor": False, "exit_ip": None, "exit_name": None})
    x_transport: str = "tcp"


class HTTPResponseInfo(_Model):
    code: int | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    headers_list: list[tuple[str, str]] = Field(default_factory=list)
    body: MaybeBinary | None = None
    body_is_truncated: bool = False
    x_body_length: int | None = None
    x_title: str | None = None


class HTTPTransaction(_Model):
    """One HTTP round trip (one hop of a redirect chain, df-001)."""

    network: str = "tcp"
    address: str | None = None
    alpn: str | None = None
    request: HTTPRequestInfo
    response: HTTPResponseInfo | None = None
    failure: str | None = None
    t0: float
    t: float
    transaction_id: int


class NetworkEvent(_Model):
    operation: str
    t: float
    address: str | None = None
    failure: str | None = None
    num_bytes: int | None = None
    proto: str | None = None
    tags: list[str] = Field(default_factory=list)
    transaction_id: int | None = None


class TestKeys(BaseModel):
    """Common test keys; experiments add their own (extra keys are kept)."""

    __test__ = False  # not a pytest test class
    model_config = ConfigDict(extra="allow")

    queries: list[DNSQuery] = Field(default_factory=list)
    tcp_connect: list[TCPConnect] = Field(default_factory=list)
    tls_handshakes: list[TLSHandshake] = Field(default_factory=list)
    requests: list[HTTPTransaction] = Field(default_factory=list)
    network_events: list[NetworkEvent] = Field(default_factory=list)


class WebTestKeys(TestKeys):
    """web_connectivity-style keys; ``blocking``/``accessible`` stay None until a verdict exists."""

    client_resolver: str | None = None
    dns_experiment_failure: str | None = None
    http_experiment_failure: str | None = None
    control_failure: str | None = None
    control: dict[str, Any] | None = None
    blocking: str | bool | None = None
    accessible: bool | None = None
    # The probe's own keys (hence x_), written only when they apply: absent otherwise, as in OONI's format.
    x_retries: list[dict[str, Any]] | None = None
    """Further tries of a failing target: each one's steps and the failure that decided it."""
    x_control_after: dict[str, Any] | None = None
    """The test helper asked again after every try failed (its answer, as ``control``)."""
    x_control_after_failure: str | None = None
    """Why that second control answer is missing."""
    x_forensics: dict[str, Any] | None = None
    """A forensic re-measurement of the packet a verdict rests on (``probe.stage.forensics``)."""

    @model_serializer(mode="wrap")
    def _only_written_extras(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            for key in _WRITTEN_ONLY:
                if key not in self.model_fields_set:
                    data.pop(key, None)
        return data


_WRITTEN_ONLY = ("x_retries", "x_control_after", "x_control_after_failure", "x_forensics")


class TCPTestKeys(TestKeys):
    """ts-008 tcp_connect keys: ``connection`` is "success" or the failure."""

    connection: str | None = None


class DNSTestKeys(TestKeys):
    addresses: list[str] = Field(default_factory=list)


_NOT_EXPORTED = {"id", "experiment", "failure", "failed_step", "started_at", "verdict", "blocking", "blocking_detail"}


class Measurement(_Model):
    """The OONI envelope (df-000) plus the probe's own bookkeeping (``id``, ``experiment``, ``failure``)."""

    id: str
    experiment: str
    input: str | None
    failure: str | None = Field(
        default=None, description="The failure that decided the outcome; None when the target was reached."
    )
    failed_step: Literal["dns", "tcp", "tls", "http"] | None = None
    started_at: str = Field(description="When the measurement started, ISO 8601 UTC with microseconds.")
    # OONI envelope
    annotations: dict[str, str] = Field(default_factory=dict)
    data_format_version: str = DATA_FORMAT_VERSION
    measurement_start_time: str
    probe_asn: str
    probe_cc: str
    probe_network_name: str = ""
    probe_ip: str = "127.0.0.1"  # OONI's placeholder: the public IP is never recorded
    report_id: str
    software_name: str
    software_version: str
    test_name: str
    test_version: str
    test_runtime: float
    test_start_time: str
    test_keys: SerializeAsAny[TestKeys]
    # The verdict stage's columns, when an experiment can already say (e.g. sms); not exported.
    verdict: Literal["accessible", "blocked", "site_down", "network_down", "inconclusive"] | None = None
    blocking: str | None = None
    blocking_detail: str | None = None

    def to_ooni(self) -> dict[str, Any]:
        """The measurement as OONI's JSON: the envelope without the probe's own bookkeeping."""
        data = self.model_dump(mode="json", exclude=_NOT_EXPORTED)
        data["annotations"] = {**self.annotations, "x_measurement_id": self.id}
        return data
