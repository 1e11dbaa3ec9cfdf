"""What the rules look at: the evidence gathered once from a measurement, and the shape of a rule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from probe.fingerprints import Match
from probe.verdict.dns_consistency import DNSConsistency
from probe.verdict.http_compare import HTTPComparison
from probe.verdict.observation import Attempt, Control, Observation
from probe.verdict.rules.verdict import Verdict


@dataclass
class Evidence:
    """Everything the rules look at, computed once (see ``probe.verdict.engine.gather``)."""

    obs: Observation
    attempt: Attempt
    """The attempt judged: the first that fetched the page, else the first."""
    earlier_failures: list[str]
    """Failures of the tries before it (a failure that did not repeat)."""
    control: Control | None
    dns: DNSConsistency
    comparison: HTTPComparison | None
    http_matches: list[Match] = field(default_factory=list)
    dns_matches: list[Match] = field(default_factory=list)
    false_positives: list[Match] = field(default_factory=list)
    network_state: str | None = None
    network_summary: str = ""
    dns_reference: str = "the control"
    """Whose DNS answer ``dns`` compares with: the control's, or (without one) an encrypted resolver's."""

    @property
    def failed(self) -> bool:
        return not self.attempt.fetched

    @property
    def tries(self) -> int:
        return len(self.obs.attempts)

    def tcp_on_port(self) -> list[tuple[str, bool, str | None]]:
        port = self.obs.port
        return [(t.endpoint, t.ok, t.failure) for t in self.attempt.tcp if t.port == port]

    def control_fetched(self) -> bool:
        return self.control is not None and self.control.http is not None and self.control.http.ok


Rule = Callable[[Evidence], Verdict | None]
