"""Rules on TLS: a certificate the control does not see (interception), a handshake reset, dropped or cut."""

from __future__ import annotations

from probe import failures
from probe.verdict.rules.common import CERTIFICATE_FAILURES, blocked, repeated
from probe.verdict.rules.evidence import Evidence
from probe.verdict.rules.verdict import Verdict

_TLS_DETAILS = {
    failures.CONNECTION_RESET: "tls_reset",
    failures.TIMEOUT: "tls_timeout",
    failures.EOF_ERROR: "tls_eof",
}


def tls_interception(e: Evidence) -> Verdict | None:
    if e.obs.scheme != "https":
        return None
    control = e.control
    assert control is not None
    for handshake in e.attempt.tls:
        theirs = control.tls.get(handshake.address)
        if handshake.failure in CERTIFICATE_FAILURES:
            if (theirs is not None and theirs.failure is None) or (theirs is None and e.control_fetched()):
                issuer = f" issued by {handshake.issuer}" if handshake.issuer else ""
                return blocked(
                    "tls",
                    "tls_mitm",
                    f"the certificate for {handshake.server_name}{issuer} fails ({handshake.failure}); "
                    "the control validates the name: interception",
                    "tls_interception",
                )
        elif handshake.failure is None and theirs is not None and theirs.failure is None:
            mine, their_issuer = _organization(handshake.issuer), _organization(theirs.issuer)
            if mine and their_issuer and mine != their_issuer:
                return blocked(
                    "tls",
                    "tls_mitm",
                    f"the certificate for {handshake.server_name} comes from {handshake.issuer}, the control's "
                    f"from {theirs.issuer}: a trusted interception root",
                    "tls_interception",
                )
    return None


def tls_blocked(e: Evidence) -> Verdict | None:
    if e.obs.scheme != "https" or e.attempt.fetched or not e.attempt.tls:
        return None
    if any(h.failure is None for h in e.attempt.tls):
        return None
    control = e.control
    assert control is not None
    seen = [control.tls[h.address] for h in e.attempt.tls if h.address in control.tls]
    failure = e.attempt.tls[0].failure or failures.SSL_FAILED_HANDSHAKE
    if seen and all(h.failure for h in seen):
        return Verdict(
            "inconclusive",
            reason=f"the TLS handshake fails ({failure}), and the control's fails too",
            rule="tls_blocked",
        )
    if not seen and not e.control_fetched():
        return None
    return blocked(
        "tls",
        _TLS_DETAILS.get(failure, "tls_failure"),
        f"the TLS handshake with {e.attempt.tls[0].server_name} fails ({failure}){repeated(e)} after TCP "
        "connected; the control completes it",
        "tls_blocked",
    )


def _organization(issuer: str | None) -> str | None:
    """The ``O=`` of an RFC 4514 issuer name (its ``CN=`` when it has none)."""
    if not issuer:
        return None
    parts = dict(part.split("=", 1) for part in issuer.split(",") if "=" in part)
    return parts.get("O") or parts.get("CN")
