"""Sending batches to a collector over HTTP(S): ``POST <url>/v1/batches``, one signed batch a request.

Only the configured proxy is used, never one from the environment (``trust_env`` off), so the
probe's traffic goes where its configuration says. With ``socks5h://`` the proxy also resolves
the collector's name, which matters when the collector's name is what the censor blocks.

Errors: ``UploadError`` carries the HTTP status when there was one. 5xx, 408, 429, no answer at
all, and refusals of the probe itself (401 bad signature, 403 not registered yet) are retried
after the backoff, the queue as it was. Refusals of what a batch holds (``CONTENT_REFUSALS``)
split the batch until the refused items are found; those are quarantined, the rest goes on. A record
refused because this database lost records the collector holds (its answer shows a chain head the probe
signed and no longer has) is not quarantined: the chain goes on under a new epoch (``probe.upload.epochs``).
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass, field
from typing import Any

import requests

from probe import SOFTWARE_NAME, __version__
from probe.config import UploadSection, without_password
from probe.errors import ProbeError
from probe.identity import Identity
from probe.storage import Database
from probe.upload.epochs import go_on_under_new_epoch
from probe.upload.protocol import encode_batch, measurement_problem, upload_headers
from probe.upload.quarantine import quarantine, quarantine_count, quarantined, quarantined_pending, release
from probe.upload.queue import (
    Pending,
    make_batch,
    mark_acked,
    next_heartbeats,
    next_records,
    queued,
    sign,
    withheld_batch,
)
from probe.upload.rejudged import next_rejudged, rejudged_waiting

ENDPOINT = "/v1/batches"
MAX_ANSWER_BYTES = 65536
MAX_BATCHES_PER_PASS = 1000


class UploadError(ProbeError):
    """A batch did not reach the collector, or the collector refused it."""

    def __init__(self, message: str, *, status: int | None = None, answer: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.answer = answer
        """The collector's answer, when it was a JSON object."""


def collector_key(url: str) -> str:
    """How the queue names a collector: its URL without a trailing slash, nor a password (it is stored)."""
    return without_password(url).rstrip("/")


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


def send(
    session: requests.Session, url: str, body: bytes, *, timeout: float, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """POST one encoded batch (``headers``: ``upload_headers``); the collector's JSON answer, or ``UploadError``."""
    try:
        response = session.post(
            url.rstrip("/") + ENDPOINT,
            data=body,
            headers={"Content-Type": "application/json", **(headers or {})},
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
            f"collector refused the batch ({response.status_code}): {message}",
            status=response.status_code,
            answer=answer if isinstance(answer, dict) else None,
        )
    if not isinstance(answer, dict):
        raise UploadError("collector's answer is not a JSON object", status=response.status_code)
    return answer


CONTENT_REFUSALS = frozenset({400, 409, 413, 422})
"""Answers that refuse what a batch holds (not who sent it, nor when): the batch is split to find
the items at fault, and an item refused alone is quarantined. 401, 403 (a probe not registered
yet), 5xx, 408, 429 and no answer leave the queue as it is, for a later attempt."""


@dataclass
class UploadReport:
    batches: int = 0
    stored: int = 0
    duplicates: int = 0
    heartbeats: int = 0
    quarantined: int = 0
    released: int = 0
    left: int = 0
    verdicts: int = 0
    """Records sent again for their changed verdicts, and stored."""
    verdicts_left: int = 0
    in_quarantine: int = 0
    error: str | None = None
    status: int | None = None
    refusals: list[str] = field(default_factory=list)
    new_epochs: list[str] = field(default_factory=list)
    """What each new chain epoch started in this pass says (``probe.upload.epochs``)."""

    def describe(self) -> str:
        batches = f"{self.batches} batch{'es' * (self.batches != 1)}"
        text = f"upload: {batches}, {self.stored} measurements stored, {self.duplicates} already there"
        text += f", {self.heartbeats} runs and rounds, {self.left} left"
        if self.verdicts or self.verdicts_left:
            text += f", {self.verdicts} changed verdicts sent again ({self.verdicts_left} left)"
        if self.released:
            text += f", {self.released} taken out of quarantine"
        if self.quarantined:
            text += f", {self.quarantined} quarantined now (refused for good: {self.refusals[0]})"
        if self.in_quarantine:
            text += f", {self.in_quarantine} in quarantine (probe upload --status)"
        text = f"{text}; {self.error}" if self.error else text
        return "\n".join([*(f"upload: {said}" for said in self.new_epochs), text])


class _Pass:
    """One pass over the queue: batches out, refused ones split, items refused alone quarantined."""

    def __init__(
        self,
        db: Database,
        identity: Identity,
        settings: UploadSection,
        session: requests.Session,
        *,
        stop: threading.Event | None,
        budget: int,
    ) -> None:
        if settings.url is None:
            raise ProbeError("upload: [upload] url is not set")
        self.db, self.identity, self.settings, self.session = db, identity, settings, session
        self.collector = collector_key(settings.url)
        self.stop, self.budget = stop, budget
        self.report = UploadReport()
        self._takes_empty: bool | None = None

    def _post(self, batch: dict[str, Any]) -> dict[str, Any]:
        self.budget -= 1
        # The configured URL, password and all; ``self.collector`` (what is stored) has it masked.
        url = self.settings.url or self.collector
        body = encode_batch(batch)
        return send(self.session, url, body, timeout=self.settings.timeout, headers=upload_headers(self.identity, body))

    def can_go_on(self) -> bool:
        return self.budget > 0 and not (self.stop is not None and self.stop.is_set()) and self.report.error is None

    def deliver(self, pending: Pending, *, split: bool = True) -> bool:
        """Send ``pending``; True when it was stored or quarantined, False when the pass must stop."""
        if not self.can_go_on():
            return False
        try:
            answer = self._post(sign(self.db, self.identity, pending, upload_every=self.settings.every))
        except UploadError as exc:
            if exc.status not in CONTENT_REFUSALS:
                self.report.error, self.report.status = str(exc), exc.status
                return False
            if pending.items > 1 and split:
                first, second = pending.halves()
                epochs = len(self.report.new_epochs)
                # After a new epoch the second half is of the old chain: the queue reads the new one instead.
                return self.deliver(first) and (len(self.report.new_epochs) > epochs or self.deliver(second))
            return self._refused_alone(pending, exc)
        mark_acked(self.db, self.collector, pending)
        self.report.batches += 1
        self.report.stored += int(answer.get("stored", 0))
        self.report.duplicates += int(answer.get("duplicates", 0))
        self.report.heartbeats += len(pending.runs) + len(pending.rounds)
        if pending.resend:
            self.report.verdicts += len(pending.measurements)
        return True

    def deliver_checked(self, pending: Pending) -> bool:
        """``deliver`` measurements, but first quarantine a record any collector would refuse
        (``measurement_problem``, the limits both sides share), without sending it."""
        for index, record in enumerate(pending.measurements):
            problem = measurement_problem(record)
            if problem is None:
                continue
            if index:
                return self.deliver(pending.part(pending.measurements[:index]))  # the records before it, first
            refused = f"not sent: a collector would refuse it: {problem}"
            self._quarantine(pending.part([record]), status=None, error=refused)
            return True
        return self.deliver(pending)

    def _refused_alone(self, pending: Pending, exc: UploadError) -> bool:
        if exc.status == 409:
            new = go_on_under_new_epoch(self.db, self.identity, self.collector, pending, exc.answer)
            if new is not None:
                self.report.new_epochs.append(new.describe())
                return True
        # Quarantine only what this collector takes nothing like: if it refuses an empty batch too,
        # the fault is not the item's (another protocol version, a broken proxy) and nothing moves.
        if not self.collector_takes_an_empty_batch():
            self.report.error, self.report.status = str(exc), exc.status
            return False
        self._quarantine(pending, status=exc.status, error=str(exc))
        return True

    def _quarantine(self, pending: Pending, *, status: int | None, error: str) -> None:
        quarantine(self.db, self.collector, pending, status=status, error=error)
        self.report.quarantined += 1
        kind, key, _ = pending.only()
        self.report.refusals.append(f"{kind} {key}: {error}")
        if pending.measurements and not pending.resend and self.can_go_on():
            # Name it to the collector, so its chain links through (best effort: a refusal changes nothing).
            try:
                self._post(withheld_batch(self.db, self.identity, pending.measurements[0], error))
            except UploadError as refused:
                self.report.refusals.append(f"{kind} {key}, named as withheld: {refused}")

    def collector_takes_an_empty_batch(self) -> bool:
        if self._takes_empty is None:
            empty = make_batch(
                self.identity, measurements=[], runs=[], rounds=[], head=None, upload_every=self.settings.every
            )
            try:
                self._post(empty)
                self._takes_empty = True
            except UploadError:
                self._takes_empty = False
        return self._takes_empty

    def finish(self) -> UploadReport:
        self.report.left = queued(self.db, self.collector)
        self.report.verdicts_left = rejudged_waiting(self.db, self.collector)
        self.report.in_quarantine = quarantine_count(self.db, self.collector)
        return self.report


def upload_pending(
    db: Database,
    identity: Identity,
    settings: UploadSection,
    session: requests.Session,
    *,
    stop: threading.Event | None = None,
    max_batches: int = MAX_BATCHES_PER_PASS,
) -> UploadReport:
    """Send what the collector has not acknowledged: heartbeats (rounds and runs) first, then
    measurements in chain order, each batch of them followed by at most one batch of records sent
    again for their changed verdicts (``probe.upload.rejudged``), so new measurements wait behind
    one such batch at most; until done, ``max_batches`` requests were made, or an attempt failed.
    A refused batch is split until the refused items are found; they are quarantined and the rest
    goes on."""
    one = _Pass(db, identity, settings, session, stop=stop, budget=max_batches)
    while one.can_go_on() and (heartbeats := next_heartbeats(db, one.collector, max_bytes=settings.max_batch_bytes)):
        if not one.deliver(heartbeats):
            break
    limits = {"batch_size": settings.batch_size, "max_bytes": settings.max_batch_bytes}
    rejudged_after = epochs = 0
    while one.can_go_on():
        records = next_records(db, one.collector, **limits)
        if records is not None and not one.deliver_checked(records):
            break
        if len(one.report.new_epochs) > epochs:
            rejudged_after, epochs = 0, len(one.report.new_epochs)  # a new chain: its seqs start again
        rejudged = next_rejudged(db, one.collector, **limits, after_seq=rejudged_after) if one.can_go_on() else None
        if rejudged is not None:
            if not one.deliver_checked(rejudged):
                break
            # Whatever of it was not handled (``deliver_checked`` may send the records before a bad one only)
            # comes again; what was is acknowledged or quarantined, and skipped.
            rejudged_after = int(rejudged.measurements[0]["chain_seq"]) - 1
        if records is None and rejudged is None:
            break
    return one.finish()


def retry_quarantined(
    db: Database,
    identity: Identity,
    settings: UploadSection,
    session: requests.Session,
    *,
    max_batches: int = MAX_BATCHES_PER_PASS,
) -> UploadReport:
    """Send each quarantined item again, alone; what the collector stores now leaves quarantine."""
    one = _Pass(db, identity, settings, session, stop=None, budget=max_batches)
    for item in quarantined(db, one.collector):
        pending = quarantined_pending(db, one.collector, item)
        if pending is None or not one.can_go_on():
            continue
        before = one.report.batches
        if not (one.deliver(pending, split=False) if item.status is not None else one.deliver_checked(pending)):
            break
        if one.report.new_epochs:
            break  # the chain's records were chained again, and their quarantine marks dropped: these are stale
        if one.report.batches > before:
            release(db, one.collector, pending)
            one.report.released += 1
    one.report.quarantined = 0  # what was refused again stays where it was
    return one.finish()


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
