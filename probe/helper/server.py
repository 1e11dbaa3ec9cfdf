"""``probe helper serve``: the test helper as a small HTTP/1.1 JSON service.

    POST /          a control request (see ``probe.helper.measure``) -> 200 and the control's view
    GET  /health    -> 200 {"ok": true, "helper": "..."}

Built to stay up while hostile or slow clients and targets try to tie it up:

- a bounded worker pool (``workers``); when every worker is busy a new connection gets an
  immediate 503 and is closed, never queued without bound;
- one deadline (``read_timeout``) for reading a whole request, however slowly it drips, and caps on
  the head (``MAX_HEAD_BYTES``) and body (``max_request_bytes``, from ``Content-Length``; no
  chunked bodies);
- a measurement is bounded by the config's timeouts and ``measure.HTTP_BUDGET``; writing the
  answer by ``WRITE_TIMEOUT``;
- an optional shared token, ``Authorization: Bearer <token>``, compared in constant time.

Every connection carries one request (``Connection: close``).
"""

from __future__ import annotations

import hmac
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from probe.addresses import format_endpoint
from probe.config import Config
from probe.helper.ipdb import IPDatabases
from probe.helper.measure import HELPER_NAME, ControlMeasurement, ControlRequest, RequestError, parse_request

DEFAULT_PORT = 8765
DEFAULT_WORKERS = 16
MAX_REQUEST_BYTES = 16 * 1024
MAX_HEAD_BYTES = 8 * 1024
READ_TIMEOUT = 5.0
WRITE_TIMEOUT = 5.0
ACCEPT_POLL = 0.2
LINGER = 1.0
"""Seconds an answered connection is drained before it is closed (see ``_answer_and_close``)."""
MAX_REJECTING = 64
"""Busy answers being written at once."""
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    411: "Length Required",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class _Reject(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class HelperOptions:
    token: str = ""
    workers: int = DEFAULT_WORKERS
    max_request_bytes: int = MAX_REQUEST_BYTES
    read_timeout: float = READ_TIMEOUT
    allow_private: bool = False
    """Measure private and loopback addresses too: for tests and the lab only."""
    ip_databases: IPDatabases | None = None
    """Where the client's network (``x_client_network``) and ``ip_info`` ASNs come from."""


class HelperServer:
    """The helper listening on ``host:port`` (port 0: any free port, see ``address``)."""

    def __init__(
        self, config: Config, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, options: HelperOptions | None = None
    ) -> None:
        self.config = config
        self.options = options or HelperOptions()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(64)
        self._listener.settimeout(ACCEPT_POLL)
        self.host, self.port = host, self._listener.getsockname()[1]
        self._slots = threading.BoundedSemaphore(self.options.workers)
        self._rejecting = threading.BoundedSemaphore(MAX_REJECTING)
        self._pool = ThreadPoolExecutor(max_workers=self.options.workers, thread_name_prefix="helper")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.served = 0
        self.rejected_busy = 0

    @property
    def url(self) -> str:
        return f"http://{format_endpoint(self.host, self.port)}/"

    # --- life cycle -------------------------------------------------------------------------------------

    def start(self) -> HelperServer:
        """Serve from a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, name="helper-accept", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self, stop: threading.Event | None = None) -> None:
        """Accept until ``close`` (or ``stop`` is set)."""
        while not self._stop.is_set() and not (stop is not None and stop.is_set()):
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._slots.acquire(blocking=False):
                self._reject_busy(conn)
                continue
            try:
                self._pool.submit(self._serve, conn)
            except RuntimeError:  # the pool is shutting down
                self._slots.release()
                conn.close()
                return

    def _reject_busy(self, conn: socket.socket) -> None:
        """503 at once; answered from a short-lived thread so that the accept loop never waits on a client."""
        self.rejected_busy += 1
        if not self._rejecting.acquire(blocking=False):
            conn.close()  # a flood: not even a 503
            return

        def answer() -> None:
            try:
                self._answer_and_close(conn, 503, {"error": "busy: try again later"})
            finally:
                self._rejecting.release()

        threading.Thread(target=answer, name="helper-busy", daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(ACCEPT_POLL * 5)
        self._listener.close()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> HelperServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- one connection ---------------------------------------------------------------------------------

    def _serve(self, conn: socket.socket) -> None:
        try:
            status, document = self._handle(conn)
            self._answer_and_close(conn, status, document)
        finally:
            self._slots.release()

    def _handle(self, conn: socket.socket) -> tuple[int, dict[str, Any]]:
        try:
            method, path, headers, body = self._read_request(conn)
            if path.split("?", 1)[0] == "/health" and method == "GET":
                return 200, {"ok": True, "helper": HELPER_NAME}
            if path.split("?", 1)[0] != "/":
                raise _Reject(404, "no such path")
            if method != "POST":
                raise _Reject(405, "POST a control request to /")
            self._authorize(headers)
            request = parse_request(body)
        except _Reject as exc:
            return exc.status, {"error": str(exc)}
        except RequestError as exc:
            return 400, {"error": str(exc)}
        try:
            document = self._measurement(request, conn).run().document()
        except Exception as exc:  # a bug in the helper: say so, keep serving the others
            return 500, {"error": f"{type(exc).__name__}: {exc}"}
        self.served += 1
        return 200, document

    def _measurement(self, request: ControlRequest, conn: socket.socket) -> ControlMeasurement:
        databases = self.options.ip_databases
        if databases is None:
            return ControlMeasurement(request, self.config, allow_private=self.options.allow_private)
        client = str(conn.getpeername()[0])  # looked up, never kept
        return ControlMeasurement(
            request,
            self.config,
            allow_private=self.options.allow_private,
            client_network=databases.network(client),
            asn=databases.asn,
        )

    def _authorize(self, headers: dict[str, str]) -> None:
        token = self.options.token
        if not token:
            return
        given = headers.get("authorization", "")
        expected = f"Bearer {token}"
        if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8")):
            raise _Reject(401, "a valid token is required")

    def _read_request(self, conn: socket.socket) -> tuple[str, str, dict[str, str], bytes]:
        deadline = time.monotonic() + self.options.read_timeout
        data = bytearray()
        while b"\r\n\r\n" not in data:
            if len(data) > MAX_HEAD_BYTES:
                raise _Reject(431, "request head too large")
            chunk = _recv(conn, deadline, MAX_HEAD_BYTES + 4 - len(data) + 1)
            if not chunk:
                raise _Reject(400, "connection closed before the request was complete")
            data += chunk
        head, _, rest = bytes(data).partition(b"\r\n\r\n")
        if len(head) > MAX_HEAD_BYTES:
            raise _Reject(431, "request head too large")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _Reject(400, "not an HTTP/1.x request")
        method, path = parts[0], parts[1]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise _Reject(400, "malformed header line")
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise _Reject(411, "send a Content-Length, not a chunked body")
        length_text = headers.get("content-length", "0" if method != "POST" else "")
        if not length_text.isdigit():
            raise _Reject(411, "Content-Length required")
        length = int(length_text)
        if length > self.options.max_request_bytes:
            raise _Reject(413, f"request body over {self.options.max_request_bytes} bytes")
        body = bytearray(rest[:length])
        while len(body) < length:
            chunk = _recv(conn, deadline, length - len(body))
            if not chunk:
                raise _Reject(400, "connection closed before the body was complete")
            body += chunk
        return method, path, headers, bytes(body)

    @staticmethod
    def _answer_and_close(conn: socket.socket, status: int, document: dict[str, Any]) -> None:
        body = json.dumps(document, ensure_ascii=False).encode("utf-8")
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode("ascii")
        with suppress(OSError):
            conn.settimeout(WRITE_TIMEOUT)
            conn.sendall(head + body)
            conn.shutdown(socket.SHUT_WR)
            # Closing with the request unread (a 503 or 413 sent before reading it) would reset the
            # connection, and the client would lose the answer: read until its end, briefly.
            deadline = time.monotonic() + LINGER
            drained = 0
            while drained < MAX_HEAD_BYTES + MAX_REQUEST_BYTES and (remaining := deadline - time.monotonic()) > 0:
                conn.settimeout(remaining)
                chunk = conn.recv(65536)
                if not chunk:
                    break
                drained += len(chunk)
        conn.close()


def _recv(conn: socket.socket, deadline: float, size: int) -> bytes:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _Reject(408, "the request took too long to arrive")
    conn.settimeout(remaining)
    try:
        return conn.recv(max(1, min(size, 65536)))
    except TimeoutError:
        raise _Reject(408, "the request took too long to arrive") from None
    except OSError as exc:
        raise _Reject(400, f"cannot read the request: {exc}") from None
