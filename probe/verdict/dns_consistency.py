"""Do the probe's DNS answers agree with the control's?

Method (OONI web_connectivity; ``../shared/docs/methodology.md``, "Control: the view from outside"), first that applies:

1. the URL names an IP address: consistent;
2. the probe has answers in bogon space that the control does not have: inconsistent, unless
   the probe's verified TLS handshake to that very address proves it serves the name;
3. both sides failed (NXDOMAIN on both, or both without an answer): consistent;
4. one side failed and the other resolved: inconsistent;
5. the answers share an address, or an ASN (when both sides know ASNs): consistent;
6. a verified TLS handshake for the name succeeded to a probe-resolved address, from the probe
   or from the control (which tries the probe's addresses with the same SNI): consistent;
7. otherwise inconsistent.

Known false positives: CDNs answer with different addresses per region, and without ASN data
(the probe has none) only TLS can vouch for them, so plain-http sites on a CDN can look
inconsistent; the HTTP comparison then decides. Bogons seen on *both* sides are not suspicious:
a lab, a corporate network or a split-horizon zone resolves into private space legitimately.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from probe.addresses import endpoint_host, is_bogon, is_ip
from probe.verdict.observation import Attempt, Control


@dataclass
class DNSConsistency:
    consistent: bool | None
    """None when it cannot be told (no control DNS data)."""
    why: str
    probe_bogons: list[str] = field(default_factory=list)
    """Bogon answers the probe got and the control did not."""


def _validated(attempt: Attempt, control: Control | None, port: int) -> list[str]:
    """Probe-resolved addresses shown by a verified TLS handshake to serve the name."""
    good: list[str] = []
    for handshake in attempt.tls:
        if handshake.failure is None and not handshake.no_tls_verify:
            good.append(endpoint_host(handshake.address))
    if control is not None:
        for endpoint, handshake in control.tls.items():
            if handshake.failure is None:
                good.append(endpoint_host(endpoint))
    return [address for address in attempt.dns.addresses if address in good]


def dns_consistency(attempt: Attempt, control: Control | None, host: str, port: int) -> DNSConsistency:
    if is_ip(host):
        return DNSConsistency(True, "the URL names an address")
    if control is None or control.dns is None:
        return DNSConsistency(None, "no control DNS answer")
    probe, theirs = attempt.dns, control.dns
    validated = _validated(attempt, control, port)
    bogons = [a for a in probe.addresses if is_bogon(a) and a not in theirs.addresses and a not in validated]
    if bogons:
        return DNSConsistency(False, f"bogon answer {', '.join(bogons)} that the control does not see", bogons)
    if not probe.addresses and not theirs.addresses:
        if probe.nxdomain == theirs.nxdomain:
            return DNSConsistency(True, "no address on either side")
        return DNSConsistency(False, f"probe: {probe.failure or 'no address'}, control: {theirs.failure or 'none'}")
    if not probe.addresses:
        return DNSConsistency(False, f"probe: {probe.failure or 'no address'}, control: {', '.join(theirs.addresses)}")
    if not theirs.addresses:
        return DNSConsistency(False, f"control: {theirs.failure or 'no address'}, probe: {', '.join(probe.addresses)}")
    shared = [a for a in probe.addresses if a in theirs.addresses]
    if shared:
        return DNSConsistency(True, f"both resolve {shared[0]}")
    probe_asns = {probe.asns[a] for a in probe.addresses if a in probe.asns}
    their_asns = {theirs.asns[a] for a in theirs.addresses if a in theirs.asns}
    if probe_asns & their_asns:
        return DNSConsistency(True, f"addresses in the same AS{min(probe_asns & their_asns)}")
    if validated:
        return DNSConsistency(True, f"{validated[0]} passed a verified TLS handshake for the name")
    return DNSConsistency(
        False, f"probe resolves {', '.join(probe.addresses)}, control {', '.join(theirs.addresses)}: nothing shared"
    )
