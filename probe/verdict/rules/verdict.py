"""The verdict record: what a rule decides, with the deciding rule's id and the version of the rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

RULES_VERSION = "4"
"""Bumped whenever a rule's order, scope or outcome changes; stored with every verdict."""

VerdictName = Literal["accessible", "blocked", "site_down", "network_down", "inconclusive"]

VERDICTS: tuple[VerdictName, ...] = ("accessible", "blocked", "site_down", "network_down", "inconclusive")

BLOCKING_METHODS = ("dns", "tcp_ip", "tls", "http-failure", "http-diff")


@dataclass(frozen=True)
class Verdict:
    verdict: VerdictName
    blocking: str | None = None
    blocking_detail: str | None = None
    confirmed: bool = False
    reason: str = ""
    rule: str = ""
    fingerprints: tuple[str, ...] = ()
    suspected: str | None = None
    """The blocking method a verdict other than ``blocked`` suspects (e.g. ``http-diff``), else None."""
    rules_version: str = RULES_VERSION
    network_state: str | None = None
    """The round's network state it was judged in (``probe.verdict.network``; None without controls)."""

    def __post_init__(self) -> None:
        if self.verdict != "blocked" and (self.blocking or self.blocking_detail or self.confirmed):
            raise ValueError(f"only a blocked verdict names a blocking method ({self.rule}: {self.verdict})")

    def columns(self) -> dict[str, Any]:
        """The measurement columns this verdict fills, ``confirmed`` as a bool."""
        return {
            "verdict": self.verdict,
            "blocking": self.blocking,
            "blocking_detail": self.blocking_detail,
            "confirmed": self.confirmed,
            "reason": self.reason,
            "rule": self.rule,
            "rules_version": self.rules_version,
            "suspected": self.suspected,
            "network_state": self.network_state,
        }

    def as_row(self) -> dict[str, Any]:
        """The measurement columns this verdict fills, as stored (``confirmed`` 0 or 1): what ``set_verdict`` takes
        (``probe.storage.columns.VERDICT_ROW_COLUMNS``, held to it by ``verdict_update``)."""
        return {**self.columns(), "confirmed": int(self.confirmed)}
