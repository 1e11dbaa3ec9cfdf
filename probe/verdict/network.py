"""Network context: is the whole network dark, or only the target?

Every round measures ``[network] domestic_controls`` and ``international_controls`` (web
measurements without a test helper, ``probe.stage.network``); this module classifies what was
measured (``../shared/docs/methodology.md``, "Network context: shutdown or targeted block?"), without touching
the network:

    ok                 every control works
    international_cut  every international control fails, a domestic one works (national intranet mode)
    shutdown           every control fails, this machine has a way out, and the gateway still answers
    local_fault        every control fails, and this machine is not connected (no route out: no default route,
                       no gateway) or the gateway does not answer either (the link is down): never a shutdown
    degraded           some controls fail, with no pattern: a flaky link; failures are never "blocked"

No controls configured: no state (``None``), and verdicts do without it. The routing tables are read
and the gateway asked only when every control has failed (whether it answers a TCP connect to its
port 53). Known limit: a gateway that drops such packets looks down, so a shutdown can be reported as
a local fault; either way, failures are not called blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from probe.model import utc_now_iso

NETWORK_STATES = ("ok", "international_cut", "shutdown", "local_fault", "degraded")
DOWN_STATES = ("international_cut", "shutdown", "local_fault")
"""States in which a failing target is ``network_down``."""


@dataclass
class ControlResult:
    url: str
    group: str
    """``domestic`` or ``international``."""
    ok: bool
    failure: str | None
    failed_step: str | None
    runtime: float


@dataclass
class NetworkContext:
    state: str | None
    controls: list[ControlResult] = field(default_factory=list)
    gateway: str | None = None
    gateway_answers: bool | None = None
    measured_at: str = field(default_factory=utc_now_iso)
    way_out: bool | None = None
    """Whether this machine has a route out (a default route or a gateway); None when not read."""

    @property
    def not_connected(self) -> bool:
        """This machine has no way out: the fault is its own, whatever the controls say."""
        return self.state == "local_fault" and self.way_out is False

    def summary(self) -> str:
        if self.state is None:
            return "no network controls"
        groups = (
            ["this machine is not connected (no route out: no default route, no gateway)"] if self.not_connected else []
        )
        for group in ("domestic", "international"):
            members = [c for c in self.controls if c.group == group]
            if members:
                groups.append(f"{group} {sum(c.ok for c in members)}/{len(members)} up")
        if self.gateway_answers is not None:
            groups.append(f"gateway {self.gateway} {'answers' if self.gateway_answers else 'silent'}")
        return f"{self.state}: {', '.join(groups)}" if groups else self.state

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def classify(
    controls: Sequence[ControlResult], gateway_answers: bool | None, way_out: bool | None = None
) -> str | None:
    """The network state from this round's control results (see the module docstring)."""
    if not controls:
        return None
    domestic = [c.ok for c in controls if c.group == "domestic"]
    international = [c.ok for c in controls if c.group == "international"]
    if not any(domestic + international):
        return "local_fault" if gateway_answers is False or way_out is False else "shutdown"
    if international and not any(international) and any(domestic):
        return "international_cut"
    if not all(domestic + international):
        return "degraded"
    return "ok"
