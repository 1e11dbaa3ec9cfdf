"""The verdict engine: from one web measurement (the probe's or OONI's) to a ``Verdict``.

``gather`` computes the evidence once (the attempt to judge, the control to compare with, DNS
consistency, the HTTP comparison, fingerprint matches, the network state); ``rules.decide``
applies the ordered rules to it. ``judge_measurement`` does both for a stored measurement.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from probe.addresses import is_ip
from probe.fingerprints import Fingerprints, Match
from probe.model import Measurement
from probe.verdict.dns_consistency import dns_consistency
from probe.verdict.http_compare import compare
from probe.verdict.network import NetworkContext
from probe.verdict.observation import Attempt, Control, Observation, encrypted_name
from probe.verdict.reader import observe
from probe.verdict.rules import Evidence, Verdict, decide

WEB_TEST_NAME = "web_connectivity"


def _decisive(attempts: list[Attempt]) -> tuple[Attempt, list[str]]:
    """The first attempt that fetched the page (and the failures before it), else the first attempt."""
    for index, attempt in enumerate(attempts):
        if attempt.fetched:
            return attempt, [earlier.failure or "failed" for earlier in attempts[:index]]
    return attempts[0], []


def gather(
    obs: Observation, fingerprints: Fingerprints | None = None, network: NetworkContext | None = None
) -> Evidence:
    attempt, earlier = _decisive(obs.attempts)
    control = obs.control if obs.control is not None else obs.control_after
    consistency = dns_consistency(attempt, control, obs.host, obs.port)
    dns_reference = "the control"
    clean = attempt.encrypted_answer
    if consistency.consistent is None and clean is not None and not is_ip(obs.host):
        # No control's answer to compare with: an encrypted resolver's is the clean one.
        consistency = dns_consistency(attempt, Control(dns=clean, tcp={}, tls={}, http=None), obs.host, obs.port)
        dns_reference = encrypted_name(clean)
    comparison = None
    final = attempt.final
    if final is not None and final.code is not None and control is not None and control.http and control.http.ok:
        comparison = compare(final, control.http)
    http_matches: list[Match] = []
    dns_matches: list[Match] = []
    if fingerprints:
        for hop in attempt.http:
            http_matches += fingerprints.match_http(hop.body, hop.headers, where=hop.url)
        theirs = set(control.dns.addresses + control.dns.cnames) if control is not None and control.dns else set()
        answers = [value for value in attempt.dns.addresses + attempt.dns.cnames if value not in theirs]
        dns_matches = fingerprints.match_dns(answers)
    matches = http_matches + dns_matches
    return Evidence(
        obs=obs,
        attempt=attempt,
        earlier_failures=earlier,
        control=control,
        dns=consistency,
        comparison=comparison,
        http_matches=[m for m in http_matches if not m.fingerprint.false_positive],
        dns_matches=[m for m in dns_matches if not m.fingerprint.false_positive],
        false_positives=[m for m in matches if m.fingerprint.false_positive],
        network_state=network.state if network is not None else None,
        dns_reference=dns_reference,
        network_summary=network.summary() if network is not None else "",
    )


def judge(obs: Observation, fingerprints: Fingerprints | None = None, network: NetworkContext | None = None) -> Verdict:
    """The verdict on one observation, with the network state it was judged in."""
    evidence = gather(obs, fingerprints, network)
    return replace(decide(evidence), network_state=evidence.network_state)


def judge_test_keys(
    url: str,
    keys: dict[str, Any],
    *,
    fingerprints: Fingerprints | None = None,
    network: NetworkContext | None = None,
    source: str = "probe",
) -> Verdict:
    return judge(observe(url, keys, source=source), fingerprints, network)


def judge_measurement(
    measurement: Measurement, fingerprints: Fingerprints | None = None, network: NetworkContext | None = None
) -> Verdict | None:
    """The verdict on a web measurement; None for experiments this engine does not judge."""
    if measurement.test_name != WEB_TEST_NAME or not measurement.input:
        return None
    keys = measurement.test_keys.model_dump(mode="json")
    return judge_test_keys(measurement.input, keys, fingerprints=fingerprints, network=network)
