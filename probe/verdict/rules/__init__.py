"""The decision rules, in order: the first rule that applies gives the verdict. This is their one registry.

The order, ``RULES`` below, starts from OONI web_connectivity's (v0.4) and departs from it where that is
known to fail (``../shared/docs/methodology.md``, "Control: the view from outside"). The rule table in
``docs/method.md`` ("The rules in order") says what each rule sees, row by row in the same order (a test holds
the two together).

The attempt judged is the first that fetched the page, else the first one: a failure that does
not repeat is not a block. Only ``blocked`` names a blocking method (``blocking``,
``blocking_detail``); what an ``inconclusive`` or ``site_down`` verdict suspects is ``suspected``.
Each verdict carries the deciding rule's id (its name here, never reused) and ``RULES_VERSION``.

The rules live one concept to a module, each a function ``(Evidence) -> Verdict | None`` named after its id:
``context`` (the network state, the control), ``dns``, ``blockpage``, ``tcp``, ``tls``, ``http`` (transfer and
page) and ``fallbacks`` (the probe's own errors, access, nothing fits); what they share is in ``verdict`` (the
record, ``RULES_VERSION``), ``evidence`` (what they look at) and ``common`` (constructors, phrases). A new rule
is its function in one of them (or a new module), one line in ``RULES`` below at its place in the order, and
its row in that table (``docs/development.md``, "Adding a verdict rule").
"""

from __future__ import annotations

from probe.verdict.rules.blockpage import blockpage_fingerprint
from probe.verdict.rules.context import control_unavailable, degraded_network, network_down, site_down
from probe.verdict.rules.dns import (
    dns_failure,
    dns_inconsistent,
    dns_injection,
    encrypted_dns,
    ghost_dns,
    nxdomain_at_control,
)
from probe.verdict.rules.evidence import Evidence, Rule
from probe.verdict.rules.fallbacks import accessible, probe_error, unexplained
from probe.verdict.rules.http import http_diff, http_failure, redirect_to_private, server_refusal, throttled
from probe.verdict.rules.tcp import tcp_blocked
from probe.verdict.rules.tls import tls_blocked, tls_interception
from probe.verdict.rules.verdict import RULES_VERSION, Verdict

__all__ = ["RULES", "RULES_VERSION", "Evidence", "Rule", "Verdict", "decide"]

RULES: tuple[tuple[str, Rule], ...] = (
    ("dns_injection", dns_injection),
    ("network_down", network_down),
    ("degraded_network", degraded_network),
    ("ghost_dns", ghost_dns),
    ("nxdomain_at_control", nxdomain_at_control),
    ("blockpage_fingerprint", blockpage_fingerprint),
    ("encrypted_dns", encrypted_dns),
    ("control_unavailable", control_unavailable),
    ("site_down", site_down),
    ("dns_failure", dns_failure),
    ("dns_inconsistent", dns_inconsistent),
    ("tcp_blocked", tcp_blocked),
    ("tls_interception", tls_interception),
    ("tls_blocked", tls_blocked),
    ("throttled", throttled),
    ("redirect_to_private", redirect_to_private),
    ("probe_error", probe_error),
    ("http_failure", http_failure),
    ("server_refusal", server_refusal),
    ("http_diff", http_diff),
    ("accessible", accessible),
    ("unexplained", unexplained),
)


def decide(evidence: Evidence) -> Verdict:
    """The verdict of the first rule that applies (``unexplained`` always does)."""
    for _, rule in RULES:
        verdict = rule(evidence)
        if verdict is not None:
            return verdict
    raise AssertionError("unexplained always applies")
