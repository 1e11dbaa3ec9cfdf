"""Sending alerts: a JSON POST signed with the collector's Ed25519 key, retried with backoff.

Signed the way probes sign their batches, with a key of the collector's own (``probe collector
key`` prints its public half): a receiver checks an alert with a public key it can be given openly
(a rights group can publish it), and no shared secret has to be handed to, or leak from, every
receiver, as it would with HMAC. The signature covers ``ALERT_CONTEXT`` and the body's exact bytes:

    Content-Type: application/json
    X-Probe-Alert-Key: <the collector's public key, base64>
    X-Probe-Alert-Signature: <Ed25519 signature of ALERT_CONTEXT + body, base64>

A delivery succeeds on a 2xx answer. Anything else (a refused connection, a timeout, a 5xx) is
tried again after ``backoff_min`` seconds, doubling up to ``backoff_max``, ``max_attempts`` times
at most. The body's ``alert_id`` is the same on every try, so a receiver can drop a repeat.
Proxies from the environment are never used.
"""

from __future__ import annotations

import requests

from probe.analysis import times
from probe.collector.alerts import AlertState, Delivery
from probe.identity import Identity, verify

ALERT_CONTEXT = b"zhanaozen-probe alert v1\n"
KEY_HEADER = "X-Probe-Alert-Key"
SIGNATURE_HEADER = "X-Probe-Alert-Signature"


def sign_alert(identity: Identity, body: bytes) -> dict[str, str]:
    """The headers of a signed alert."""
    return {
        "Content-Type": "application/json",
        KEY_HEADER: identity.public_key_b64,
        SIGNATURE_HEADER: identity.sign(ALERT_CONTEXT + body),
    }


def alert_signature_ok(public_key_b64: str, signature_b64: str, body: bytes) -> bool:
    """What a receiver checks: the body was signed by the collector whose public key it holds."""
    return verify(public_key_b64, signature_b64, ALERT_CONTEXT + body)


def backoff(attempts: int, low: float, high: float) -> float:
    """Seconds before the next try, after ``attempts`` failed ones."""
    return float(min(high, low * 2 ** max(0, attempts - 1)))


class Sender:
    def __init__(
        self,
        identity: Identity,
        *,
        timeout: float = 10.0,
        backoff_min: float = 5.0,
        backoff_max: float = 1800.0,
        max_attempts: int = 20,
    ) -> None:
        self.identity = identity
        self.timeout = timeout
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.max_attempts = max_attempts
        self.session = requests.Session()
        self.session.trust_env = False

    def post(self, delivery: Delivery) -> str | None:
        """One try; None when it was accepted, else why not."""
        try:
            answer = self.session.post(
                delivery.webhook,
                data=delivery.body,
                headers=sign_alert(self.identity, delivery.body),
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            return f"{type(exc).__name__}: {str(exc)[:200]}"
        if 200 <= answer.status_code < 300:
            return None
        return f"HTTP {answer.status_code}"

    def send_due(self, state: AlertState, now: str) -> list[tuple[Delivery, str | None]]:
        """Try every delivery that is due; each with its outcome (None: delivered)."""
        outcomes = []
        for delivery in state.due(now):
            error = self.post(delivery)
            moment = times.now_iso()
            if error is None:
                state.delivered(delivery, moment)
            else:
                tried = delivery.attempts + 1
                wait = backoff(tried, self.backoff_min, self.backoff_max)
                later = times.shifted(moment, wait)
                state.failed(delivery, error, later if tried < self.max_attempts else None, moment)
            outcomes.append((delivery, error))
        return outcomes

    def close(self) -> None:
        self.session.close()
