"""The ``sms`` experiment: does SMS get through, or can an SMS gateway be reached?

The input says what to measure; its form picks the back-end (``probe.sms.backends``), which must be
listed in ``[sms] backends`` (empty by default: SMS measurements are off):

    at:self-loop                       a recipient label from ``[sms.recipients]``: ``at_modem``
                                       sends it an SMS (``self-loop``: the modem's own number)
    smpp://smsc.example.kz:2775        an SMSC: ``smpp`` (recipient: ``[sms.smpp]``)
    https://sms.example.kz/cgi-bin/sendsms
                                       a gateway API's URL: ``http_gateway`` (recipient: ``[sms.http_gateway]``)

The older forms, a bare label (``self-loop``) and a bare ``host:port``, are still accepted.
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
from probe.config import Config
from probe.errors import ProbeError
from probe.experiments import steps
from probe.experiments.base import Context, Outcome, measure
from probe.failures import TIMEOUT
from probe.model import Measurement
from probe.model.sms import SMSTestKeys, Stage
from probe.net import http, tcp, tls
from probe.net.trace import Trace
from probe.sms import conclusion
from probe.sms.backend import SMSTarget
from probe.sms.backends import BACKENDS, backend_for, input_forms

_LOOKS_LIKE_NUMBER = re.compile(r"^\+?[0-9][0-9 ()./-]{3,}$")
_NETWORK_STAGES = ("dns", "tcp", "tls", "http")
_NEVER_A_NUMBER = "SMS inputs are never phone numbers: use a recipient label from [sms.recipients]"


def _is_number(value: str) -> bool:
    # at:+7700... is a number too (a label never starts with a digit or +).
    return bool(_LOOKS_LIKE_NUMBER.match(value.removeprefix("at:")))


def parse_target(value: str, config: Config) -> SMSTarget:
    """What ``value`` asks to measure, or ``ProbeError`` saying why it cannot be measured."""
    sms = config.sms
    if _is_number(value):
        raise ProbeError(_NEVER_A_NUMBER)
    backend = backend_for(value)
    if backend is None:
        raise ProbeError(f"not an SMS input (SMS inputs: {input_forms()})")
    if backend.name not in sms.backends:
        raise ProbeError(f"the {backend.name} back-end is not enabled ([sms] backends = {sms.backends})")
    try:
        return backend.parse(value, sms)
    except ValueError as exc:
        raise ProbeError(str(exc)) from None


class SMSExperiment:
    name = "sms"
    version = "0.1.0"
    test_name = "sms_reachability"

    @property
    def inputs(self) -> str:
        return input_forms()  # the back-ends registered when the help is shown

    # A rejected input may be a phone number given by mistake: the run records its position only.
    redact_rejected_inputs = True

    def check_input(self, value: str) -> str | None:
        # The input's form is checked here; whether its back-end is enabled needs the config, in run().
        if _is_number(value):
            return _NEVER_A_NUMBER
        backend = backend_for(value)
        if backend is None:
            return f"not an SMS input (SMS inputs: {input_forms()})"
        return backend.check(value)

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
        BACKENDS[target.backend].measure(target, config, recipient, keys, _Network(config, trace))
        return _outcome(keys)


@dataclass
class _Network:
    """``probe.sms.backend.SMSNetwork`` over the configured resolvers and the probe's own TCP, TLS and HTTP."""

    config: Config
    trace: Trace

    def connect(self, host: str, port: int, keys: SMSTestKeys, *, use_tls: bool) -> socket.socket | None:
        config, trace = self.config, self.trace
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
        tls_sock, handshake = tls.handshake(
            sock, host, trace, timeout=config.tls.timeout, ca_bundle=config.tls.ca_bundle
        )
        keys.tls_handshakes.append(handshake)
        if tls_sock is None:
            keys.conclude("gateway_unreachable", handshake.failure or TIMEOUT, "tls")
        return tls_sock

    def reach(self, url: str, keys: SMSTestKeys) -> list[str] | None:
        config, trace = self.config, self.trace
        parts = urlsplit(url)
        host = parts.hostname or ""
        resolved = steps.resolve(host, config, trace)
        keys.queries = resolved.queries
        if resolved.failure:
            keys.conclude("gateway_unreachable", resolved.failure, "dns")
            return None
        sni = host if parts.scheme == "https" else None
        port = parts.port or default_port(parts.scheme)
        connected = steps.connect_all(resolved.addresses, port, config, trace, server_name=sni)
        keys.tcp_connect, keys.tls_handshakes = connected.tcp_connect, connected.tls_handshakes
        if not connected.reachable:
            stage: Stage = "tls" if connected.failed_step == "tls" else "tcp"
            keys.conclude("gateway_unreachable", connected.failure or TIMEOUT, stage)
            return None
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
            return None
        keys.http_status = response.code
        return connected.reachable


def _outcome(keys: SMSTestKeys) -> Outcome:
    if keys.conclusion in ("sms_ok", "gateway_reachable"):
        return Outcome(keys)
    if keys.conclusion == "gateway_unreachable":
        stage = keys.failed_stage if keys.failed_stage in _NETWORK_STAGES else None
        return Outcome(keys, keys.conclusion_detail or TIMEOUT, stage)
    return Outcome(keys, keys.conclusion)
