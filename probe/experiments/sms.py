"""The ``sms`` experiment: does SMS get through, or can an SMS gateway be reached?

The input says what to measure; its form picks the back-end, which must be listed in
``[sms] backends`` (empty by default: SMS measurements are off):

    self-loop                          a recipient label from ``[sms.recipients]``: ``at_modem``
                                       sends it an SMS (``self-loop``: the modem's own number)
    smsc.example.kz:2775               ``host:port`` of an SMSC: ``smpp`` (recipient: ``[sms.smpp]``)
    https://sms.example.kz/cgi-bin/sendsms
                                       a gateway API's URL: ``http_gateway`` (recipient: ``[sms.http_gateway]``)

An input is never a phone number: numbers live only in the config and are never stored. See
``probe.sms`` for each back-end's method and ``probe.sms.conclusion`` for the conclusions and
the verdict each one gives (conservative: one failed SMS is never ``blocked``).

``failure`` is None for ``sms_ok`` and ``gateway_reachable``; OONI's failure string with the
stage (``failed_step`` dns/tcp/tls/http) for ``gateway_unreachable``; else the conclusion's name.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from probe.addresses import default_port
from probe.config import Config, SMSBackend, SMSRecipient
from probe.errors import ProbeError
from probe.experiments import steps
from probe.experiments.base import Context, Outcome, measure
from probe.experiments.tcp import split_host_port
from probe.failures import TIMEOUT
from probe.model import Measurement
from probe.model.sms import SMSTestKeys, Stage
from probe.net import http, tcp, tls
from probe.net.trace import Trace
from probe.sms import at_modem, conclusion, http_gateway, smpp
from probe.testlist import check_url

_LABEL = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_LOOKS_LIKE_NUMBER = re.compile(r"^\+?[0-9][0-9 ()./-]{3,}$")
_NETWORK_STAGES = ("dns", "tcp", "tls", "http")


@dataclass(frozen=True)
class SMSTarget:
    backend: SMSBackend
    label: str | None = None
    host: str = ""
    port: int = 0
    url: str = ""


def _backend(value: str) -> SMSBackend:
    if "://" in value:
        return "http_gateway"
    return "at_modem" if _LABEL.match(value) else "smpp"


def parse_target(value: str, config: Config) -> SMSTarget:
    """What ``value`` asks to measure, or ``ProbeError`` saying why it cannot be measured."""
    sms = config.sms
    if _LOOKS_LIKE_NUMBER.match(value):
        raise ProbeError("SMS inputs are never phone numbers: use a recipient label from [sms.recipients]")
    backend = _backend(value)
    if backend not in sms.backends:
        raise ProbeError(f"the {backend} back-end is not enabled ([sms] backends = {sms.backends})")
    if backend == "http_gateway":
        reason = check_url(value)
        parts = urlsplit(value)
        if not reason and (parts.username or parts.password or parts.query or parts.fragment):
            reason = "a gateway URL without credentials, query or fragment (credentials live in the config)"
        if reason:
            raise ProbeError(reason)
        return SMSTarget(backend, url=value, label=sms.http_gateway.recipient)
    if backend == "at_modem":
        if value not in sms.recipients:
            raise ProbeError(f"no recipient {value!r} in [sms.recipients]")
        return SMSTarget(backend, label=value)
    try:
        host, port = split_host_port(value)
    except ValueError as exc:
        raise ProbeError(f"{exc} (SMS inputs: a recipient label, SMSC host:port, or a gateway URL)") from None
    return SMSTarget(backend, host=host, port=port, label=sms.smpp.recipient)


class SMSExperiment:
    name = "sms"
    version = "0.1.0"
    test_name = "sms_reachability"

    # A rejected input may be a phone number given by mistake: the run records its position only.
    redact_rejected_inputs = True

    def check_input(self, value: str) -> str | None:
        # The input's form is checked here; whether its back-end is enabled needs the config, in run().
        if _LOOKS_LIKE_NUMBER.match(value):
            return "SMS inputs are never phone numbers: use a recipient label from [sms.recipients]"
        backend = _backend(value)
        if backend != "smpp":
            return check_url(value) if backend == "http_gateway" else None
        try:
            split_host_port(value)
        except ValueError as exc:
            return f"{exc} (SMS inputs: a recipient label, SMSC host:port, or a gateway URL)"
        return None

    def run(self, value: str, ctx: Context) -> Measurement:
        target = parse_target(value, ctx.config)
        measurement = measure(self, value, ctx, lambda trace: self._measure(target, ctx.config, trace))
        keys = measurement.test_keys
        assert isinstance(keys, SMSTestKeys)
        measurement.verdict, measurement.blocking = conclusion.verdict(keys.conclusion)
        measurement.blocking_detail = conclusion.blocking_detail(keys.conclusion, keys.failed_stage)
        return measurement

    def _measure(self, target: SMSTarget, config: Config, trace: Trace) -> Outcome:
        recipient = config.sms.recipients.get(target.label or "")
        keys = SMSTestKeys(
            backend=target.backend,
            recipient=target.label,
            direction=recipient.direction if recipient is not None else None,
        )
        if target.backend == "at_modem":
            if recipient is None:  # parse_target checked it: only a broken caller gets here
                raise ProbeError(f"no recipient {target.label!r} in [sms.recipients]")
            at_modem.measure(config.sms.at_modem, recipient, keys)
        elif target.backend == "smpp":
            sock = _connect(target.host, target.port, config, config.sms.smpp.tls, keys, trace)
            if sock is not None:
                smpp.measure(sock, config.sms.smpp, recipient, keys)
        else:
            self._http_gateway(target.url, config, recipient, keys, trace)
        return _outcome(keys)

    @staticmethod
    def _http_gateway(
        url: str, config: Config, recipient: SMSRecipient | None, keys: SMSTestKeys, trace: Trace
    ) -> None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        resolved = steps.resolve(host, config, trace)
        keys.queries = resolved.queries
        if resolved.failure:
            keys.conclude("gateway_unreachable", resolved.failure, "dns")
            return
        sni = host if parts.scheme == "https" else None
        port = parts.port or default_port(parts.scheme)
        connected = steps.connect_all(resolved.addresses, port, config, trace, server_name=sni)
        keys.tcp_connect, keys.tls_handshakes = connected.tcp_connect, connected.tls_handshakes
        if not connected.reachable:
            stage: Stage = "tls" if connected.failed_step == "tls" else "tcp"
            keys.conclude("gateway_unreachable", connected.failure or TIMEOUT, stage)
            return
        # The API's own answer, whatever it is (401, 404, a redirect), proves it is reachable.
        keys.requests = http.fetch(
            url,
            trace,
            addresses=connected.reachable,
            resolve=lambda _name: [],
            limits=config.http.model_copy(update={"max_redirects": 0}),
            tcp_timeout=config.tcp.timeout,
            tls_timeout=config.tls.timeout,
            ca_bundle=config.tls.ca_bundle,
        )
        response = keys.requests[0].response
        if response is None or response.code is None:
            keys.conclude("gateway_unreachable", keys.requests[0].failure or TIMEOUT, "http")
            return
        keys.http_status = response.code
        if not config.sms.http_gateway.username or recipient is None:
            keys.conclude("gateway_reachable", f"HTTP {response.code} (reachability only: no gateway account)")
            return
        http_gateway.send(url, connected.reachable, config, recipient, keys, trace)


def _connect(
    host: str, port: int, config: Config, use_tls: bool, keys: SMSTestKeys, trace: Trace
) -> socket.socket | None:
    """DNS, TCP to each address until one accepts, TLS if asked: the socket, or None (concluded)."""
    resolved = steps.resolve(host, config, trace)
    keys.queries = resolved.queries
    if resolved.failure:
        keys.conclude("gateway_unreachable", resolved.failure, "dns")
        return None
    sock: socket.socket | None = None
    for ip in resolved.addresses[: config.tcp.max_addresses]:
        sock, connect = tcp.connect(ip, port, trace, timeout=config.tcp.timeout)
        keys.tcp_connect.append(connect)
        if sock is not None:
            break
    if sock is None:
        keys.conclude("gateway_unreachable", keys.tcp_connect[0].status.failure or TIMEOUT, "tcp")
        return None
    if not use_tls:
        return sock
    tls_sock, handshake = tls.handshake(sock, host, trace, timeout=config.tls.timeout, ca_bundle=config.tls.ca_bundle)
    keys.tls_handshakes.append(handshake)
    if tls_sock is None:
        keys.conclude("gateway_unreachable", handshake.failure or TIMEOUT, "tls")
    return tls_sock


def _outcome(keys: SMSTestKeys) -> Outcome:
    if keys.conclusion in ("sms_ok", "gateway_reachable"):
        return Outcome(keys)
    if keys.conclusion == "gateway_unreachable":
        stage = keys.failed_stage if keys.failed_stage in _NETWORK_STAGES else None
        return Outcome(keys, keys.conclusion_detail or TIMEOUT, stage)
    return Outcome(keys, keys.conclusion)
