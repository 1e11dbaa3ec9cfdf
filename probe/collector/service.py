"""The collector's HTTP service: ``POST /v1/batches`` (one signed batch), ``GET /v1/health``.

Request threads read, cap and validate bodies; one writer thread owns the database and stores
batches one at a time, so concurrent probes never contend for SQLite's lock. Bad input gets a
4xx with ``{"error": ...}`` and the service goes on serving; a body over ``max_body_bytes`` is
refused from its Content-Length, unread. When the writer is behind by ``queue_size`` batches,
or ``max_clients`` requests are in progress, the answer is 503 and the probe retries later.
The client's address is never logged or stored.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from probe import SOFTWARE_NAME, __version__
from probe.collector.ingest import IngestError, IngestResult, Received, ingest, parse_batch
from probe.errors import ProbeError
from probe.limits import MAX_BODY_BYTES
from probe.storage.store import open_store

BATCHES_PATH = "/v1/batches"
HEALTH_PATH = "/v1/health"


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = MAX_BODY_BYTES
    """Largest batch accepted, in bytes (``probe.limits``: probes send at most this, 4 MiB by default)."""
    max_clients: int = 32
    """Requests handled at once; more get 503."""
    queue_size: int = 64
    """Batches waiting for the writer; more get 503."""
    read_timeout: float = 30.0
    """Seconds a client may take to send its request (a slow client cannot hold a thread)."""
    store_timeout: float = 60.0
    """Seconds a request waits for the writer before answering 503."""


_Job = tuple[Received, "Future[IngestResult]"]


class _Writer(threading.Thread):
    """The only thread that touches the database while the service runs."""

    def __init__(self, db_path: Path | str, limits: Limits, log: Callable[[str], None]) -> None:
        super().__init__(name="collector-writer", daemon=True)
        self.db_path = db_path
        self.log = log
        self.jobs: queue.Queue[_Job | None] = queue.Queue(maxsize=limits.queue_size)
        self.ready = threading.Event()
        self.failure: BaseException | None = None
        self.label = ""
        """The database, as it may be logged (a URI without its password)."""

    def run(self) -> None:
        try:
            db = open_store(self.db_path)
        except ProbeError as exc:
            self.failure = exc
            self.ready.set()
            return
        self.label = db.label
        self.ready.set()
        try:
            while (job := self.jobs.get()) is not None:
                received, future = job
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(ingest(db, received))
                except IngestError as exc:
                    future.set_exception(exc)
                except Exception as exc:  # a storage fault or a bug: answer 500, keep serving
                    self.log(f"collector: cannot store a batch: {type(exc).__name__}: {exc}")
                    future.set_exception(exc)
        finally:
            db.close()


class CollectorServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(
        self, address: tuple[str, int], db_path: Path | str, limits: Limits, log: Callable[[str], None]
    ) -> None:
        self.limits = limits
        self.log = log
        self.slots = threading.BoundedSemaphore(limits.max_clients)
        self.writer = _Writer(db_path, limits, log)
        self.writer.start()
        self.writer.ready.wait()
        if self.writer.failure is not None:
            raise self.writer.failure
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def store(self, received: Received) -> IngestResult:
        future: Future[IngestResult] = Future()
        try:
            self.writer.jobs.put((received, future), timeout=self.limits.store_timeout)
        except queue.Full:
            raise IngestError(503, "the collector is busy; retry later") from None
        try:
            return future.result(timeout=self.limits.store_timeout)
        except TimeoutError:
            future.cancel()
            raise IngestError(503, "the collector is busy; retry later") from None

    def server_close(self) -> None:
        super().server_close()
        self.writer.jobs.put(None)
        self.writer.join(self.limits.store_timeout)


class _Handler(BaseHTTPRequestHandler):
    server: CollectorServer
    protocol_version = "HTTP/1.1"
    server_version = f"{SOFTWARE_NAME}-collector/{__version__}"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.limits.read_timeout)

    def log_message(self, format: str, *args: Any) -> None:
        # The base class prefixes the client's address; a collector must not keep it.
        self.server.log("collector: " + (format % args)[:300])

    def _answer(self, status: int, body: dict[str, Any], *, close: bool = False) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == HEALTH_PATH:
            self._answer(200, {"status": "ok"})
        else:
            self._answer(404, {"error": f"no such resource; batches go to POST {BATCHES_PATH}"})

    def do_POST(self) -> None:
        if self.path != BATCHES_PATH:
            self._answer(404, {"error": f"no such resource; batches go to POST {BATCHES_PATH}"}, close=True)
            return
        if not self.server.slots.acquire(blocking=False):
            self._answer(503, {"error": "the collector is busy; retry later"}, close=True)
            return
        try:
            self._post_batch()
        finally:
            self.server.slots.release()

    def _post_batch(self) -> None:
        if self.headers.get("Transfer-Encoding") is not None:
            self._answer(411, {"error": "send the batch with a Content-Length, not chunked"}, close=True)
            return
        length_text = self.headers.get("Content-Length")
        try:
            length = int(length_text) if length_text is not None else -1
        except ValueError:
            length = -1
        if length < 0:
            self._answer(411, {"error": "a Content-Length is required"}, close=True)
            return
        if length > self.server.limits.max_body_bytes:
            limit = self.server.limits.max_body_bytes
            self._answer(413, {"error": f"batch of {length} bytes is over this collector's {limit}"}, close=True)
            return
        body = self.rfile.read(length)
        if len(body) != length:
            self._answer(400, {"error": "the body ended before its Content-Length"}, close=True)
            return
        try:
            result = self.server.store(parse_batch(body))
        except IngestError as exc:
            self._answer(exc.status, {"error": str(exc)})
            return
        except Exception:  # logged by the writer
            self._answer(500, {"error": "the collector could not store the batch; retry later"})
            return
        self._answer(200, result.answer())

    def _not_allowed(self) -> None:
        self._answer(405, {"error": "method not allowed"}, close=True)

    do_PUT = do_DELETE = do_PATCH = _not_allowed


def make_server(
    db_path: Path | str,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    limits: Limits | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> CollectorServer:
    """A collector bound to ``host:port`` (0: any free port), its database opened and migrated."""
    return CollectorServer((host, port), db_path, limits or Limits(), log)


@contextmanager
def running_collector(
    db_path: Path | str,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    limits: Limits | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> Iterator[CollectorServer]:
    """A collector serving from a background thread until the block ends (tests, benchmarks)."""
    server = make_server(db_path, host, port, limits=limits, log=log)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
