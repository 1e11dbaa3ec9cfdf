"""The ``dns`` experiment: resolve a name through every configured resolver.

For non-web targets (mail servers, SMS gateway hosts, resolvers themselves). ``failure``
is the first configured resolver's; the other resolvers' answers are there to compare.
Each UDP query listens for late extra answers, the mark of on-path injection.
"""

from __future__ import annotations

from probe.addresses import check_hostname
from probe.experiments import steps
from probe.experiments.base import Context, Outcome, measure
from probe.model import DNSTestKeys, Measurement
from probe.net.trace import Trace


class DNSExperiment:
    name = "dns"
    version = "0.1.0"
    test_name = "dns_reachability"
    inputs = "host names"

    def check_input(self, value: str) -> str | None:
        return check_hostname(value)

    def run(self, value: str, ctx: Context) -> Measurement:
        return measure(self, value, ctx, lambda trace: self._measure(value, ctx, trace))

    def _measure(self, name: str, ctx: Context, trace: Trace) -> Outcome:
        resolved = steps.resolve(name, ctx.config, trace)
        keys = DNSTestKeys(queries=resolved.queries, addresses=resolved.addresses)
        return Outcome(keys, resolved.failure, "dns" if resolved.failure else None)
