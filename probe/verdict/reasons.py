"""Verdicts in OONI's words, and why a verdict differs from OONI's ``blocking``.

OONI's ``blocking`` is ``"dns"``, ``"tcp_ip"``, ``"http-failure"``, ``"http-diff"``, ``false`` (no
blocking: accessible, or down everywhere) or ``null`` (could not tell). OONI has no ``tls``: it files
TLS interference under ``http-failure``, so that is what a ``tls`` verdict is compared with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from probe.verdict.rules import Verdict

_OONI_CHECKS = ("status_code_match", "body_length_match", "headers_match", "title_match")


def ooni_blocking(verdict: str | None, blocking: str | None) -> str | bool | None:
    """OONI's ``blocking`` for a verdict and its method: a method only when ``blocked``."""
    if verdict in ("accessible", "site_down"):
        return False
    if verdict != "blocked":
        return None  # network_down, inconclusive, no verdict: what they suspect is not a finding
    return "http-failure" if blocking == "tls" else blocking


def ooni_accessible(verdict: str | None) -> bool | None:
    """OONI's ``accessible``: the site's answer reached the probe (even a refusal by the site), or not."""
    if verdict == "accessible":
        return True
    if verdict in ("blocked", "site_down"):
        return False
    return None


def as_ooni_blocking(verdict: Verdict) -> str | bool | None:
    """The value OONI's ``blocking`` would have for this verdict."""
    return ooni_blocking(verdict.verdict, verdict.blocking)


def _ooni_checks(keys: Mapping[str, Any]) -> str:
    passed = [name for name in _OONI_CHECKS if keys.get(name) is True]
    return ", ".join(passed) if passed else "none of its checks"


def _control_failure(keys: Mapping[str, Any]) -> str:
    control = keys.get("control")
    http = control.get("http_request") if isinstance(control, Mapping) else None
    failure = http.get("failure") if isinstance(http, Mapping) else None
    return str(failure) if failure else "no page"


def _ooni_evidence(ooni: str | bool | None, keys: Mapping[str, Any]) -> str:
    """What OONI's ``blocking`` rested on, from the keys it recorded next to it."""
    parts: list[str] = []
    consistency = keys.get("dns_consistency")
    if isinstance(consistency, str):
        parts.append(f"DNS answers {consistency} with its control's")
    for name in ("dns_experiment_failure", "http_experiment_failure"):
        if keys.get(name):
            parts.append(f"{name} {keys[name]}")
    tcp = [entry for entry in keys.get("tcp_connect") or [] if isinstance(entry, Mapping)]
    failed = [entry for entry in tcp if not (entry.get("status") or {}).get("success")]
    if tcp and failed:
        parts.append(f"{len(failed)} of {len(tcp)} connections failed")
    if ooni == "http-diff" or any(keys.get(name) is False for name in _OONI_CHECKS):
        parts.append(f"page checks passed: {_ooni_checks(keys)}")
    return "; ".join(parts) if parts else "no recorded evidence"


def explain_difference(ooni: str | bool | None, verdict: Verdict, keys: Mapping[str, Any]) -> str:
    """One sentence: why this verdict is not OONI's."""
    rule = verdict.rule
    if rule == "probe_error":
        failure = keys.get("http_experiment_failure") or keys.get("dns_experiment_failure")
        return (
            f"OONI's probe reported its own error ({failure}) and OONI filed it as {ooni}; an error of the "
            "probe is not a network failure (a known false positive of that probe version)"
        )
    evidence = _ooni_evidence(ooni, keys)
    if rule == "nxdomain_at_control":
        return (
            f"OONI says {ooni} ({evidence}); but the control finds no such name, and neither does this network: "
            "there is no site to block"
        )
    if rule == "site_down":
        return (
            f"OONI says {ooni} ({evidence}); the control could not fetch the page either "
            f"({_control_failure(keys)}), so nothing shows censorship"
        )
    if rule == "server_refusal":
        return f"OONI says {ooni} ({evidence}); here the site itself refused over verified TLS: {verdict.reason}"
    if ooni is False and verdict.verdict == "blocked":
        return (
            f"OONI's probe took the page for the site ({_ooni_checks(keys)} matched); here it is "
            f"{verdict.blocking_detail}: {verdict.reason}"
        )
    if verdict.verdict == "inconclusive":
        suspected = f" (suspected: {verdict.suspected})" if verdict.suspected else ""
        return f"OONI says {ooni} ({evidence}); here the evidence is not enough{suspected}: {verdict.reason}"
    return f"OONI says {ooni}; here {verdict.verdict} ({verdict.rule}): {verdict.reason}"
