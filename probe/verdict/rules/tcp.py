"""The TCP rule: every connection to the site's addresses fails while the control connects."""

from __future__ import annotations

from probe import failures
from probe.verdict.rules.common import blocked, repeated
from probe.verdict.rules.evidence import Evidence
from probe.verdict.rules.verdict import Verdict

_TCP_DETAILS = {
    failures.TIMEOUT: "tcp_timeout",
    failures.CONNECTION_RESET: "tcp_reset",
    failures.CONNECTION_REFUSED: "tcp_reset",  # a RST in answer to the SYN
    failures.CONNECTION_ABORTED: "tcp_reset",
    failures.HOST_UNREACHABLE: "tcp_unreachable",
    failures.NETWORK_UNREACHABLE: "tcp_unreachable",
}


def tcp_blocked(e: Evidence) -> Verdict | None:
    tried = e.tcp_on_port()
    if not tried or any(ok for _, ok, _ in tried):
        return None
    control = e.control
    assert control is not None  # control_unavailable came first
    seen = [control.tcp[endpoint] for endpoint, _, _ in tried if endpoint in control.tcp]
    endpoints = ", ".join(endpoint for endpoint, _, _ in tried)
    failure = tried[0][2] or failures.TIMEOUT
    if seen and not any(ok for ok, _ in seen):
        return Verdict(
            "inconclusive",
            reason=f"no connection to {endpoints} ({failure}), and the control cannot connect to them either",
            rule="tcp_blocked",
        )
    if not seen and not e.control_fetched():
        return None
    theirs = "the control connects to them" if seen else "the control fetches the page"
    return blocked(
        "tcp_ip",
        _TCP_DETAILS.get(failure, "tcp_failure"),
        f"every connection to {endpoints} fails ({failure}){repeated(e)}; {theirs}",
        "tcp_blocked",
    )
