"""The probe's side of the test helper: ask for the control's view of one URL.

``ask`` never raises for what happens on the wire: it returns the helper's answer, or a failure
string for ``test_keys.control_failure`` (OONI's failure strings for network errors; ``unknown_failure
control_status_<code>`` or ``unknown_failure control_bad_answer`` for a helper that answers wrongly).
Connecting (and TLS to an https helper) is bounded by ``connect_timeout``: an unreachable helper costs
no more than an unreachable site. Each read of the status line and headers is then bounded by what is
left of ``timeout`` (the helper measures the site before it answers), the body by one deadline
``timeout`` seconds after the start, and its size by ``MAX_ANSWER_BYTES``.
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from probe import SOFTWARE_NAME, __version__
from probe.failures import TIMEOUT, classify
from probe.net.addresses import default_port

MAX_ANSWER_BYTES = 1 << 20
BAD_ANSWER = "unknown_failure control_bad_answer"
_READ_SIZE = 65536


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


def ask(
    control_url: str,
    url: str,
    endpoints: Sequence[str],
    *,
    timeout: float,
    connect_timeout: float | None = None,
    token: str = "",
    ca_bundle: Path | None = None,
) -> tuple[dict[str, Any] | None, str | None]:
    """POST a control request for ``url`` and the probe's ``ip:port`` endpoints; ``(answer, failure)``."""
    deadline = time.monotonic() + timeout
    body = json.dumps({"http_request": url, "tcp_connect": list(endpoints)}).encode("utf-8")
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
        return None, BAD_ANSWER
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
                return None, TIMEOUT
            if connection.sock is not None:
                connection.sock.settimeout(remaining)
            chunk = response.read1(_READ_SIZE)
            if not chunk:
                break
            data += chunk
    except (OSError, http.client.HTTPException) as exc:
        return None, classify(exc)
    finally:
        connection.close()
    if response.status != 200:
        return None, f"unknown_failure control_status_{response.status}"
    if len(data) > MAX_ANSWER_BYTES:
        return None, BAD_ANSWER
    try:
        answer = json.loads(bytes(data))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, BAD_ANSWER
    if not isinstance(answer, dict) or not isinstance(answer.get("http_request"), dict):
        return None, BAD_ANSWER
    return answer, None
