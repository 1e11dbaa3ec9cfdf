"""Sending batches to a collector over HTTP(S): ``POST <url>/v1/batches``, one signed batch a request.

Only the configured proxy is used, never one from the environment (``trust_env`` off), so the
probe's traffic goes where its configuration says. With ``socks5h://`` the proxy also resolves
the collector's name, which matters when the collector's name is what the censor blocks.

Errors: ``UploadError`` carries the HTTP status when there was one. 5xx, 408, 429 and no answer
at all are worth retrying later; another 4xx means this batch was refused (bad signature,
probe not registered yet...), retried only after the backoff, and logged for the operator.
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass
from typing import Any

import requests

from probe import SOFTWARE_NAME, __version__
from probe.config import UploadSection
from probe.errors import ProbeError
from probe.identity import Identity
from probe.storage import Database
from probe.upload.protocol import encode_batch
from probe.upload.queue import mark_acked, next_batch, queued

ENDPOINT = "/v1/batches"
MAX_ANSWER_BYTES = 65536
MAX_BATCHES_PER_PASS = 1000


class UploadError(ProbeError):
    """A batch did not reach the collector, or the collector refused it."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def collector_key(url: str) -> str:
    """How the queue names a collector: its URL without a trailing slash."""
    return url.rstrip("/")


def make_session(settings: UploadSection) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    if settings.proxy is not None:
        proxy = settings.proxy.get_secret_value()
        session.proxies = {"http": proxy, "https": proxy}
    session.verify = str(settings.ca_bundle) if settings.ca_bundle else True
    session.headers["User-Agent"] = f"{SOFTWARE_NAME}/{__version__}"
    return session


def _reason(exc: requests.RequestException) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:200] + "..."


def send(session: requests.Session, url: str, body: bytes, *, timeout: float) -> dict[str, Any]:
    """POST one encoded batch; the collector's JSON answer, or ``UploadError``."""
    try:
        response = session.post(
            collector_key(url) + ENDPOINT,
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=timeout,
            allow_redirects=False,
            stream=True,
        )
        with response:
            content = response.raw.read(MAX_ANSWER_BYTES, decode_content=True)
    except requests.RequestException as exc:
        raise UploadError(f"collector unreachable: {_reason(exc)}") from None
    try:
        answer = json.loads(content)
    except ValueError:
        answer = None
    if response.status_code != 200:
        message = answer.get("error") if isinstance(answer, dict) else content[:200].decode("utf-8", "replace")
        raise UploadError(
            f"collector refused the batch ({response.status_code}): {message}", status=response.status_code
        )
    if not isinstance(answer, dict):
        raise UploadError("collector's answer is not a JSON object", status=response.status_code)
    return answer


@dataclass
class UploadReport:
    batches: int = 0
    stored: int = 0
    duplicates: int = 0
    left: int = 0
    error: str | None = None
    status: int | None = None

    def describe(self) -> str:
        batches = f"{self.batches} batch{'es' * (self.batches != 1)}"
        text = f"upload: {batches}, {self.stored} measurements stored, {self.duplicates} already there"
        text += f", {self.left} left"
        return f"{text}; {self.error}" if self.error else text


def upload_pending(
    db: Database,
    identity: Identity,
    settings: UploadSection,
    session: requests.Session,
    *,
    stop: threading.Event | None = None,
    max_batches: int = MAX_BATCHES_PER_PASS,
) -> UploadReport:
    """Send what the collector has not acknowledged, batch after batch, until done or a batch fails."""
    if settings.url is None:
        raise ProbeError("upload: [upload] url is not set")
    collector = collector_key(settings.url)
    report = UploadReport()
    for _ in range(max_batches):
        if stop is not None and stop.is_set():
            break
        pending = next_batch(
            db, identity, collector, batch_size=settings.batch_size, max_bytes=settings.max_batch_bytes
        )
        if pending is None:
            break
        try:
            answer = send(session, collector, encode_batch(pending.batch), timeout=settings.timeout)
        except UploadError as exc:
            report.error, report.status = str(exc), exc.status
            break
        mark_acked(db, collector, pending)
        report.batches += 1
        report.stored += int(answer.get("stored", 0))
        report.duplicates += int(answer.get("duplicates", 0))
    report.left = queued(db, collector)
    return report


class Backoff:
    """Exponential backoff with jitter: about ``minimum``, then twice as long each failure, at most ``maximum``."""

    def __init__(self, minimum: float, maximum: float, rng: random.Random | None = None) -> None:
        self.minimum, self.maximum = minimum, maximum
        self.failures = 0
        self._rng = rng or random.Random()

    def failed(self) -> float:
        """Record a failure; the seconds to wait before the next attempt."""
        self.failures += 1
        base = min(self.maximum, self.minimum * 2.0 ** min(self.failures - 1, 32))
        return self._rng.uniform(base / 2, base)

    def succeeded(self) -> None:
        self.failures = 0
