"""The probe's side of the test helpers: ask for the control's view of one URL.

``Helpers.ask`` never raises for what happens on the wire: it returns a helper's answer
(``probe.model.control.ControlResponse``), or a failure string for ``test_keys.control_failure``
(OONI's failure strings for network errors; ``unknown_failure control_status_<code>`` or
``unknown_failure control_bad_answer`` for a helper that answers wrongly).

Several helpers are tried in order. One that fails (unreachable, a bad answer, an error status) is
skipped for ``skip_failed`` seconds by every later measurement of the run, while others remain. A
busy one (``BUSY_STATUSES``: the helper's workers are all taken) is not a missing control: it is
asked again after a pause that grows from ``BACKOFF_MIN`` to ``BACKOFF_MAX`` (with jitter, so that
many waiting measurements do not come back at once), until ``timeout`` is spent.

One ask: connecting (and TLS to an https helper) is bounded by ``connect_timeout``; each read of the
status line and headers by what is left of the deadline (the helper measures the site before it
answers), the body by the same deadline, and its size by ``MAX_ANSWER_BYTES``.
"""

from __future__ import annotations

import http.client
import random
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from probe import SOFTWARE_NAME, __version__
from probe.addresses import default_port
from probe.failures import TIMEOUT, classify
from probe.model.control import ClientNetwork, ControlRequest, ControlResponse, ProtocolError, parse_response

MAX_ANSWER_BYTES = 1 << 20
BAD_ANSWER = "unknown_failure control_bad_answer"
BUSY_STATUSES = frozenset({429, 503})
BACKOFF_MIN = 0.05
BACKOFF_MAX = 2.0
_READ_SIZE = 65536


@dataclass(frozen=True)
class Answer:
    """One helper's reply: the answer, or why there is none (``busy``: try again later)."""

    response: ControlResponse | None
    failure: str | None
    busy: bool = False


def _connection(url: str, timeout: float, ca_bundle: Path | None) -> tuple[http.client.HTTPConnection, str]:
    """An unconnected connection to the helper whose socket operations time out after ``timeout``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = parts.path or "/"
    if parts.scheme == "https":
        context = ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)
        return http.client.HTTPSConnection(
            host, parts.port or default_port(parts.scheme), timeout=timeout, context=context
        ), path
    return http.client.HTTPConnection(host, parts.port or default_port(parts.scheme), timeout=timeout), path


def ask_one(
    control_url: str,
    request: ControlRequest,
    *,
    timeout: float,
    connect_timeout: float | None = None,
    token: str = "",
    ca_bundle: Path | None = None,
) -> Answer:
    """POST ``request`` to one helper and read its answer within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    body = request.model_dump_json().encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"{SOFTWARE_NAME}/{__version__}",
        "Connection": "close",
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        connection, path = _connection(control_url, min(timeout, connect_timeout or timeout), ca_bundle)
    except ValueError:
        return Answer(None, BAD_ANSWER)
    try:
        connection.connect()
        if connection.sock is not None:
            connection.sock.settimeout(max(deadline - time.monotonic(), 0.001))
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        data = bytearray()
        while len(data) <= MAX_ANSWER_BYTES:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return Answer(None, TIMEOUT)
            if connection.sock is not None:
                connection.sock.settimeout(remaining)
            chunk = response.read1(_READ_SIZE)
            if not chunk:
                break
            data += chunk
    except (OSError, http.client.HTTPException) as exc:
        return Answer(None, classify(exc))
    finally:
        connection.close()
    if response.status != 200:
        return Answer(None, f"unknown_failure control_status_{response.status}", busy=response.status in BUSY_STATUSES)
    if len(data) > MAX_ANSWER_BYTES:
        return Answer(None, BAD_ANSWER)
    try:
        return Answer(parse_response(bytes(data)), None)
    except ProtocolError:
        return Answer(None, BAD_ANSWER)


class Helpers:
    """The configured helpers, in order, with what the run has learnt of them (thread-safe)."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        token: str = "",
        ca_bundle: Path | None = None,
        skip_failed: float = 300.0,
    ) -> None:
        self.urls = list(urls)
        self.token = token
        self.ca_bundle = ca_bundle
        self.skip_failed = skip_failed
        self._failed_until: dict[str, float] = {}
        self._lock = threading.Lock()
        self.network: ClientNetwork | None = None
        """The probe's network, as the last helper that could tell told it (``x_client_network``)."""

    def _order(self) -> list[str]:
        """The helpers to try: those not recently failed, or (when all have) all of them anyway."""
        now = time.monotonic()
        with self._lock:
            healthy = [url for url in self.urls if self._failed_until.get(url, 0.0) <= now]
        return healthy or list(self.urls)

    def _failed(self, url: str) -> None:
        with self._lock:
            self._failed_until[url] = time.monotonic() + self.skip_failed

    def _recovered(self, url: str) -> None:
        with self._lock:
            self._failed_until.pop(url, None)

    def ask(
        self, request: ControlRequest, *, timeout: float, connect_timeout: float | None = None
    ) -> tuple[ControlResponse | None, str | None]:
        """The first answer of a helper, in order; ``(answer, None)`` or ``(None, the last failure)``."""
        if not self.urls:
            return None, "unknown_failure no_helper"
        deadline = time.monotonic() + timeout
        pause = BACKOFF_MIN
        failure: str | None = TIMEOUT
        while True:
            busy = False
            for url in self._order():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None, failure
                answer = ask_one(
                    url,
                    request,
                    timeout=remaining,
                    connect_timeout=connect_timeout,
                    token=self.token,
                    ca_bundle=self.ca_bundle,
                )
                if answer.response is not None:
                    self._recovered(url)
                    told = answer.response.x_client_network
                    if told is not None and told.known:
                        self.network = told
                    return answer.response, None
                failure = answer.failure
                if answer.busy:
                    busy = True
                elif deadline - time.monotonic() > 0:  # running out of time is not the helper's fault
                    self._failed(url)
            remaining = deadline - time.monotonic()
            if not busy or remaining <= 0:
                return None, failure
            time.sleep(min(pause * random.uniform(0.5, 1.5), remaining))
            pause = min(pause * 2, BACKOFF_MAX)
