"""Rules on the target's surroundings: the round's network state (down, degraded), and the control's view
(none to compare with, or the site down for it too)."""

from __future__ import annotations

from probe.verdict.network import DOWN_STATES
from probe.verdict.rules.common import failure_text, https_final, inconclusive
from probe.verdict.rules.evidence import Evidence
from probe.verdict.rules.verdict import Verdict


def network_down(e: Evidence) -> Verdict | None:
    if not e.failed or e.network_state not in DOWN_STATES:
        return None
    summary = e.network_summary or e.network_state
    if e.network_state == "local_fault":  # this machine's own link: never a shutdown
        return Verdict(
            "network_down",
            reason=f"{failure_text(e)}: a fault of this machine's own, which says nothing of the network ({summary})",
            rule="network_down",
        )
    return Verdict(
        "network_down", reason=f"{failure_text(e)} while the network is down ({summary})", rule="network_down"
    )


def degraded_network(e: Evidence) -> Verdict | None:
    if e.failed and e.network_state == "degraded":
        return inconclusive(
            f"{failure_text(e)} while controls fail here and there ({e.network_summary}): a flaky network",
            "degraded_network",
        )
    return None


def control_unavailable(e: Evidence) -> Verdict | None:
    if e.control is not None:
        return None
    why = e.obs.control_failure or e.obs.control_after_failure
    source = f"the control was unreachable ({why})" if why else "no control to compare with"
    if e.attempt.fetched and https_final(e):
        return Verdict("accessible", reason=f"fetched over verified TLS; {source}", rule="control_unavailable")
    what = failure_text(e) if e.failed else "fetched, but a blockpage cannot be told from the page"
    return Verdict("inconclusive", reason=f"{what}; {source}", rule="control_unavailable")


def site_down(e: Evidence) -> Verdict | None:
    control = e.control
    if control is None or control.http is None or control.http.ok:
        return None
    theirs = control.http.failure or "no response"
    if e.attempt.fetched:
        if https_final(e):
            return Verdict(
                "accessible", reason=f"fetched over verified TLS; the control could not ({theirs})", rule="site_down"
            )
        return Verdict(
            "inconclusive",
            reason=f"fetched here, but the control could not fetch it to compare ({theirs})",
            rule="site_down",
        )
    detail = ""
    if control.dns is not None and not control.dns.addresses:
        names = f" (only {', '.join(control.dns.cnames)})" if control.dns.cnames else ""
        detail = f"; the control resolves no address{names}"
    return Verdict(
        "site_down",
        reason=f"{failure_text(e)}, and the control cannot fetch it either ({theirs}{detail}): "
        "the site is down everywhere",
        rule="site_down",
    )
