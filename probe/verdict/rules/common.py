"""What several rules share: the failures a network can cause, the verdicts' constructors, and the phrases
their reasons are made of (how the tries went, a residual block, verified TLS)."""

from __future__ import annotations

from urllib.parse import urlsplit

from probe import failures
from probe.verdict.rules.evidence import Evidence
from probe.verdict.rules.verdict import Verdict

CERTIFICATE_FAILURES = frozenset(
    {failures.SSL_UNKNOWN_AUTHORITY, failures.SSL_INVALID_HOSTNAME, failures.SSL_INVALID_CERTIFICATE}
)

INTERFERENCE_FAILURES = frozenset(
    {
        failures.CONNECTION_RESET,
        failures.CONNECTION_REFUSED,
        failures.CONNECTION_ABORTED,
        failures.TIMEOUT,
        failures.EOF_ERROR,
        failures.HOST_UNREACHABLE,
        failures.NETWORK_UNREACHABLE,
        failures.SSL_FAILED_HANDSHAKE,
        *CERTIFICATE_FAILURES,
    }
)
"""Failures a network can cause. Anything else (``unknown_failure ...``, a malformed redirect) is not evidence."""


def blocked(
    method: str, detail: str, reason: str, rule: str, *, confirmed: bool = False, fingerprints: tuple[str, ...] = ()
) -> Verdict:
    return Verdict("blocked", method, detail, confirmed, reason, rule, fingerprints)


def inconclusive(reason: str, rule: str, suspected: str | None = None) -> Verdict:
    return Verdict("inconclusive", reason=reason, rule=rule, suspected=suspected)


def repeated(e: Evidence) -> str:
    """How the tries went: " (on all 3 tries)", or the residual block that held the tries after the first."""
    if e.tries < 2:
        return ""
    return residual(e) or f" (on all {e.tries} tries)"


def residual(e: Evidence) -> str:
    """Stateful (residual) censorship: the first try was interfered with once connected (a reset, a dropped
    ClientHello, a blockpage), and the tries after it could not even connect, their SYNs dropped. The block
    is the first try's mechanism; the dead port is the censor holding the server after the trigger (60-180 s
    in the wild), not a flaky link or a site gone down."""
    first, later = e.obs.attempts[0], e.obs.attempts[1:]
    if e.attempt is not first or first.failed_step not in ("tls", "http") or not later:
        return ""
    if not all(attempt.failed_step == "tcp" and attempt.failure == failures.TIMEOUT for attempt in later):
        return ""
    held = sorted({t.endpoint for attempt in later for t in attempt.tcp if t.port == e.obs.port and not t.ok})
    count = f"the {len(later)} tries" if len(later) > 1 else "the try"
    return (
        f" on the first try; {count} after it could not even connect to {', '.join(held) or 'the server'} "
        "(SYN dropped): residual censorship, the censor holding the server's port after the trigger"
    )


def https_final(e: Evidence) -> bool:
    """The page came over TLS that the probe verified (every https hop of the chain)."""
    final = e.attempt.final
    if final is None or urlsplit(final.url).scheme.lower() != "https":
        return False
    return not any(h.no_tls_verify for h in e.attempt.tls)


def failure_text(e: Evidence) -> str:
    attempt = e.attempt
    step = attempt.failed_step or "the measurement"
    return f"{step} fails ({attempt.failure or 'no response'}){repeated(e)}"
