"""The ``dns`` experiment: resolve a name through every configured resolver.

For non-web targets (mail servers, SMS gateway hosts, resolvers themselves). ``failure``
is the first configured resolver's; the other resolvers' answers are there to compare.
Each UDP query listens for late extra answers, the mark of on-path injection.
"""

from __future__ import annotations

import re

from probe.experiments import steps
from probe.experiments.base import Context, Outcome, measure
from probe.model import DNSTestKeys, Measurement
from probe.net.trace import Trace

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
MAX_NAME_LENGTH = 253


def check_hostname(value: str) -> str | None:
    name = value.rstrip(".")
    if not name or len(name) > MAX_NAME_LENGTH or not all(_LABEL.match(label) for label in name.split(".")):
        return f"not a host name: {value!r}"
    return None


class DNSExperiment:
    name = "dns"
    version = "0.1.0"
    test_name = "dns_reachability"

    def check_input(self, value: str) -> str | None:
        return check_hostname(value)

    def run(self, value: str, ctx: Context) -> Measurement:
        return measure(self, value, ctx, lambda trace: self._measure(value, ctx, trace))

    def _measure(self, name: str, ctx: Context, trace: Trace) -> Outcome:
        resolved = steps.resolve(name, ctx.config, trace)
        keys = DNSTestKeys(queries=resolved.queries, addresses=resolved.addresses)
        return Outcome(keys, resolved.failure, "dns" if resolved.failure else None)
