"""What the probe records in the lab, and what it should record under each scenario.

``read_measurements`` reads a probe database as the end-to-end tests and
``benchmarks/lab_accuracy.py`` see it. ``EXPECTED`` says, per scenario (applied to its default
sites), what each input's measurement must show today: the failed step and failure string,
and for the cases that do not fail, the evidence that must be there instead (a blockpage
in the body, a forged or hijacked answer from the public resolver). Verdicts come later;
these are the facts a verdict will be drawn from.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probe.lab import plan

Outcome = tuple[str | None, str | None]
"""(failed_step, failure); ``(None, None)`` when the target was reached."""
REACHED: Outcome = (None, None)
PUBLIC_RESOLVER = f"{plan.PUBLIC_RESOLVER}:53"


@dataclass(frozen=True)
class Measured:
    """One measurement row, with its test keys decoded."""

    input: str
    experiment: str
    failed_step: str | None
    failure: str | None
    runtime: float
    started_at: str
    test_keys: dict[str, Any]

    @property
    def outcome(self) -> Outcome:
        return (self.failed_step, self.failure)

    def queries(self, resolver_address: str) -> list[dict[str, Any]]:
        """The DNS entries for one resolver (``""`` for the system's), first answer first."""
        return [q for q in self.test_keys.get("queries", []) if q["resolver_address"] == resolver_address]

    def answers(self, resolver_address: str) -> list[list[str]]:
        """The A addresses of each entry for one resolver: ``[[first answer], [late answer], ...]``."""
        return [[a["ipv4"] for a in q.get("answers") or [] if a.get("ipv4")] for q in self.queries(resolver_address)]

    @property
    def response(self) -> dict[str, Any] | None:
        """The final HTTP response (OONI stores the chain most recent first)."""
        requests = self.test_keys.get("requests") or []
        return requests[0].get("response") if requests else None

    @property
    def body(self) -> str:
        response = self.response
        body = response.get("body") if response else None
        if isinstance(body, dict):
            return base64.b64decode(body["data"]).decode("utf-8", errors="replace")
        return body or ""


def read_measurements(db: Path) -> list[Measured]:
    """Every measurement in ``db``, oldest first."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "select input, experiment, failed_step, failure, runtime, started_at, test_keys"
            " from measurements order by started_at"
        ).fetchall()
    finally:
        connection.close()
    return [Measured(r[0], r[1], r[2], r[3], float(r[4]), r[5], json.loads(r[6])) for r in rows]


@dataclass(frozen=True)
class Expectation:
    input: str
    outcomes: frozenset[Outcome]
    """Acceptable outcomes: one, or a few when timing decides which step notices first."""
    experiment: str = "web"
    blockpage: bool = False
    """The final response body carries the blockpage's fingerprint."""
    public_answer: str | None = None
    """The public resolver's first answer, when it must be a lie (forged or hijacked)."""
    injected: bool = False
    """The public resolver's query got a second, different (late) answer."""
    doh_answer: str | None = None
    """The public resolver's DNS over HTTPS answer, when it must be the truth next to a lie on port 53."""

    def problems(self, measured: Measured) -> list[str]:
        """How ``measured`` differs from this expectation (empty when it agrees)."""
        found: list[str] = []
        if measured.outcome not in self.outcomes:
            found.append(f"outcome {describe(measured.outcome)}, expected {self.describe()}")
        if self.blockpage != (plan.BLOCKPAGE_MARKER in measured.body):
            found.append("blockpage marker " + ("missing" if self.blockpage else "present"))
        answers = measured.answers(PUBLIC_RESOLVER)
        if self.public_answer is not None and (not answers or answers[0] != [self.public_answer]):
            found.append(f"public resolver answered {answers}, expected {self.public_answer} first")
        doh = measured.answers(plan.DOH_URL)
        if self.doh_answer is not None and (not doh or doh[0] != [self.doh_answer]):
            found.append(f"DNS over HTTPS answered {doh}, expected {self.doh_answer}")
        late_differs = len(answers) > 1 and any(late != answers[0] for late in answers[1:])
        if self.injected != late_differs:
            found.append(f"public resolver answers {answers}: injection {'not ' if self.injected else ''}seen")
        return found

    def describe(self) -> str:
        text = " or ".join(sorted(describe(o) for o in self.outcomes))
        if self.blockpage:
            text += " + blockpage"
        if self.injected:
            text += " + injected answer"
        elif self.public_answer:
            text += f" + public resolver says {self.public_answer}"
        if self.doh_answer:
            text += f" + DoH says {self.doh_answer}"
        return text


def describe(outcome: Outcome) -> str:
    step, failure = outcome
    return "reached" if failure is None else f"{step}: {failure}"


def _e(value: str, *outcomes: Outcome, **kw: Any) -> Expectation:
    return Expectation(value, frozenset(outcomes or (REACHED,)), **kw)


_TIMEOUT = "generic_timeout_error"
_TWITTER = "http://twitter.com/"
_TWITTER_TLS = "https://twitter.com/"
_TWITTER_ADDRESS = plan.SITES_BY_NAME["twitter.com"].address
_CONTROL = _e("http://example.com/")
_CONTROL_TLS = _e("https://example.com/")

EXPECTED: dict[str, tuple[Expectation, ...]] = {
    "clean": (
        *(_e(f"http://{site.name}/") for site in plan.WEB_SITES),
        _e(_TWITTER_TLS),
        _CONTROL_TLS,
        _e(f"{plan.SMSC.name}:{plan.SMPP_PORT}", experiment="tcp"),
    ),
    "dns_nxdomain": (_e(_TWITTER, ("dns", "dns_nxdomain_error")), _CONTROL),
    "dns_blockpage": (
        _e(_TWITTER, blockpage=True),
        _e(_TWITTER_TLS, ("tcp", "connection_refused")),  # the blockpage server has no :443
        _CONTROL,
    ),
    "dns_bogon": (_e(_TWITTER, ("tcp", "connection_refused")), _CONTROL),
    "dns_drop": (_e(_TWITTER, ("dns", _TIMEOUT)), _CONTROL),
    "dns_injection": (_e(_TWITTER, public_answer=plan.INJECTED, injected=True), _CONTROL),
    "dns_hijack_all": (_e(_TWITTER, blockpage=True, public_answer=plan.BLOCKPAGE), _CONTROL),
    "dns_lie_port53": (_e(_TWITTER_TLS, ("dns", "dns_nxdomain_error"), doh_answer=_TWITTER_ADDRESS), _CONTROL),
    "ip_blackhole": (_e(_TWITTER, ("tcp", _TIMEOUT)), _CONTROL),
    "ip_reset": (_e(_TWITTER, ("tcp", "connection_refused")), _CONTROL),
    "http_host_reset": (_e(_TWITTER, ("http", "connection_reset")), _e(_TWITTER_TLS), _CONTROL),
    # The first try is reset; a try within the hold cannot connect (x_retries, with [control] retries).
    "residual_reset": (_e(_TWITTER, ("http", "connection_reset")), _e(_TWITTER_TLS), _CONTROL),
    "http_blockpage": (_e(_TWITTER, blockpage=True), _e(_TWITTER_TLS), _CONTROL),
    "sni_reset": (_e(_TWITTER_TLS, ("tls", "connection_reset")), _e(_TWITTER), _CONTROL_TLS),
    "sni_drop": (_e(_TWITTER_TLS, ("tls", _TIMEOUT)), _e(_TWITTER), _CONTROL_TLS),
    "throttling": (
        _e(_TWITTER, ("http", _TIMEOUT)),
        _e(_TWITTER_TLS, ("tls", _TIMEOUT), ("http", _TIMEOUT)),
        _CONTROL,
    ),
    "site_down": (_e(_TWITTER, ("tcp", _TIMEOUT)), _CONTROL),
    "full_shutdown": (
        _e(_TWITTER, ("dns", "dns_temporary_failure")),
        _e("http://example.com/", ("dns", "dns_temporary_failure")),
    ),
    "sms_gateway_cut": (
        _e(f"{plan.SMSC.name}:{plan.SMPP_PORT}", ("tcp", _TIMEOUT), experiment="tcp"),
        _e(f"http://{plan.SMS_API.name}/", ("tcp", _TIMEOUT)),
        _e(_TWITTER),
    ),
}


@dataclass
class Agreement:
    """How one run of a scenario compared with ``EXPECTED``."""

    problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def agrees(self) -> bool:
        return not any(self.problems.values())


def compare(scenario: str, measured: list[Measured]) -> Agreement:
    by_input = {m.input: m for m in measured}
    agreement = Agreement()
    for expectation in EXPECTED[scenario]:
        found = by_input.get(expectation.input)
        agreement.problems[expectation.input] = ["not measured"] if found is None else expectation.problems(found)
    return agreement
