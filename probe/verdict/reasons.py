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


def as_ooni_blocking(verdict: Verdict) -> str | bool | None:
    """The value OONI's ``blocking`` would have for this verdict."""
    if verdict.verdict in ("accessible", "site_down"):
        return False
    if verdict.verdict == "network_down":
        return None
    if verdict.blocking == "tls":
        return "http-failure"
    return verdict.blocking


def _ooni_checks(keys: Mapping[str, Any]) -> str:
    passed = [name for name in _OONI_CHECKS if keys.get(name) is True]
    return ", ".join(passed) if passed else "none of its checks"


def explain_difference(ooni: str | bool | None, verdict: Verdict, keys: Mapping[str, Any]) -> str:
    """One sentence: why this verdict is not OONI's."""
    rule = verdict.rule
    if rule == "probe_error":
        failure = keys.get("http_experiment_failure") or keys.get("dns_experiment_failure")
        return (
            f"OONI's probe reported its own error ({failure}) and OONI filed it as {ooni}; an error of the "
            "probe is not a network failure (a known false positive of that probe version)"
        )
    if rule == "nxdomain_at_control":
        return (
            f"OONI calls the DNS answers inconsistent ({ooni}); but the control finds no such name, so there is "
            "no site to block: the local answer is the ISP's NXDOMAIN rewriting"
        )
    if rule == "site_down":
        return (
            f"OONI says {ooni} from the DNS answers alone; the control could not fetch the page either, "
            "so nothing shows censorship"
        )
    if ooni is False and verdict.verdict == "blocked":
        return (
            f"OONI's probe took the page for the site ({_ooni_checks(keys)} matched); here it is "
            f"{verdict.blocking_detail}: {verdict.reason}"
        )
    if verdict.verdict == "inconclusive" and verdict.blocking is None:
        return f"OONI says {ooni}; here the evidence is not enough: {verdict.reason}"
    return f"OONI says {ooni}; here {verdict.verdict} ({verdict.rule}): {verdict.reason}"
