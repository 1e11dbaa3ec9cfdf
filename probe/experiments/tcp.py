"""The ``tcp`` experiment: can a TCP connection be opened to ``host:port``?

For non-web targets (an SMSC's SMPP port, a mail server). The host is resolved through
the configured resolvers first unless it is an IP address. ``failure`` is None when any
address accepted the connection, else the DNS failure or the first address's TCP failure.
"""

from __future__ import annotations

from probe.addresses import split_host_port
from probe.experiments import steps
from probe.experiments.base import Context, Outcome, measure
from probe.model import Measurement, TCPTestKeys
from probe.net.trace import Trace


class TCPExperiment:
    name = "tcp"
    version = "0.1.0"
    test_name = "tcp_connect"
    inputs = "host:port"

    def check_input(self, value: str) -> str | None:
        try:
            split_host_port(value)
        except ValueError as exc:
            return str(exc)
        return None

    def run(self, value: str, ctx: Context) -> Measurement:
        return measure(self, value, ctx, lambda trace: self._measure(value, ctx, trace))

    def _measure(self, value: str, ctx: Context, trace: Trace) -> Outcome:
        host, port = split_host_port(value)
        resolved = steps.resolve(host, ctx.config, trace)
        keys = TCPTestKeys(queries=resolved.queries)
        if resolved.failure:
            keys.connection = resolved.failure
            return Outcome(keys, resolved.failure, "dns")
        connected = steps.connect_all(resolved.addresses, port, ctx.config, trace)
        keys.tcp_connect = connected.tcp_connect
        keys.connection = connected.failure or "success"
        return Outcome(keys, connected.failure, connected.failed_step)
