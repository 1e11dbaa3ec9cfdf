"""The collector's HTTP service: ``POST /v1/batches`` (one signed batch), ``GET /v1/health``.

Served by the shared server core (``probe.server``): a client dripping its request holds
no worker, one deadline (``read_timeout``) bounds the whole request, a request arriving under
``min_rate`` bytes a second once ``rate_grace`` has passed is cut (408) and gives up its probe's
slot, bodies over ``max_body_bytes`` are refused from their Content-Length, unread. Bad input gets a 4xx with
``{"error": ...}`` and the service goes on serving.

Who is sending is checked from the head, before a byte of the body is read: ``X-Probe-Id`` must
be a registered or allowed probe and ``X-Probe-Key`` its key (403, 401); at most
``per_probe`` bodies of one probe are in progress at once (503). The body's signature
(``X-Probe-Signature``) is checked before the body is parsed (401), so bytes that are not signed
by a registered probe's key are never parsed. A batch without these headers (what earlier probes
send) is still accepted, up to ``legacy_max_body_bytes`` and ``legacy_clients`` at a time.

Request threads validate bodies; one writer thread owns the database and stores batches one at a
time, so concurrent probes never contend for SQLite's lock. With PostgreSQL, several processes may
each run one (``probe.collector.workers``: ``serve --workers N``). When the writer is behind by
``queue_size`` batches, or ``max_clients`` requests are being handled, the answer is 503 and the
probe retries later. The client's address is never logged or stored. While it serves, its session
(``probe.collector.sessions``) records when it started, a heartbeat a minute and when it stopped.
"""

from __future__ import annotations

import queue
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from probe.collector.ingest import IngestError, IngestResult, Received, ingest, parse_batch
from probe.collector.registry import ProbeEntry, lookup
from probe.collector.sessions import Session
from probe.errors import ProbeError
from probe.identity import IdentityError, decode_public_key, fingerprint, verify
from probe.integrity.signing import upload_statement
from probe.limits import DEFAULT_BATCH_BYTES, MAX_BODY_BYTES
from probe.server import ADMITTED, Admission, Handler, HTTPServer, Request, RequestHead, Response, ServerLimits
from probe.storage.store import open_store
from probe.upload.protocol import PROBE_ID_HEADER, PROBE_KEY_HEADER, SIGNATURE_HEADER

if TYPE_CHECKING:
    from probe.storage.store import AnyDatabase

BATCHES_PATH = "/v1/batches"
HEALTH_PATH = "/v1/health"
_AUTH_HEADERS = tuple(name.lower() for name in (PROBE_ID_HEADER, PROBE_KEY_HEADER, SIGNATURE_HEADER))
_BUSY = "the collector is busy; retry later"


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = MAX_BODY_BYTES
    """Largest batch accepted, in bytes (``probe.limits``: probes send at most this, 4 MiB by default)."""
    max_clients: int = 32
    """Requests handled at once; more get 503."""
    queue_size: int = 64
    """Batches waiting for the writer; more get 503."""
    read_timeout: float = 120.0
    """Seconds a client may take to send its whole request, head and body."""
    min_rate: float = ServerLimits.min_rate
    """Bytes a second a request must keep up with once ``rate_grace`` has passed; a slower one is cut
    with 408 and frees its slot (one of ``per_probe``, or of ``legacy_clients``). 0: no minimum."""
    rate_grace: float = ServerLimits.rate_grace
    """Seconds a request has before ``min_rate`` applies."""
    store_timeout: float = 60.0
    """Seconds a request waits for the writer before answering 503."""
    per_probe: int = 4
    """Batches of one probe in progress at once; more get 503."""
    legacy_max_body_bytes: int = DEFAULT_BATCH_BYTES
    """Largest batch accepted without the signature headers (earlier probes' format, which sent at most this
    by default)."""
    legacy_clients: int = 1
    """Batches without the signature headers in progress at once; more get 503."""
    max_buffered_bytes: int = 128 << 20
    """Request bodies held in memory at once; a body that does not fit gets 503."""


_Job = tuple[Received, "Future[IngestResult]"]


class _Writer(threading.Thread):
    """The only thread that writes the database while the service runs."""

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


class _Senders:
    """Who may send a body, decided from the head on the server's loop thread (a read-only connection)."""

    def __init__(self, db_path: Path | str, limits: Limits) -> None:
        self.db_path = db_path
        self.limits = limits
        self.in_progress: dict[str, int] = {}
        self._store: AnyDatabase | None = None
        """Opened, used and closed on the loop thread (SQLite connections belong to one thread)."""

    def _lookup(self, probe_id: str) -> ProbeEntry | None:
        if self._store is None:
            self._store = open_store(self.db_path, read_only_ok=True)
        return lookup(self._store, probe_id)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def admit(self, head: RequestHead) -> Response | Admission:
        present = [name for name in _AUTH_HEADERS if head.headers.get(name)]
        if not present:
            return self._admit_unsigned(head)
        if len(present) != len(_AUTH_HEADERS):
            names = ", ".join((PROBE_ID_HEADER, PROBE_KEY_HEADER, SIGNATURE_HEADER))
            return Response.error(400, f"{names} go together")
        probe_id = head.headers[PROBE_ID_HEADER.lower()].strip().lower()
        key = head.headers[PROBE_KEY_HEADER.lower()].strip()
        try:
            matches = fingerprint(decode_public_key(key)) == probe_id
        except IdentityError:
            matches = False
        if not matches:
            return Response.error(401, f"{PROBE_KEY_HEADER} is not the key {PROBE_ID_HEADER} was made from")
        try:
            entry = self._lookup(probe_id)
        except (ProbeError, sqlite3.Error):
            self.close()  # opened again for the next request: one fault must not answer 503 for good
            return Response.error(503, _BUSY)
        if entry is None:
            return Response.error(403, f"probe {probe_id} is not registered with this collector")
        if entry.public_key is not None and entry.public_key != key:
            return Response.error(401, "the batch is signed with a key other than the probe's registered key")
        return self._take(probe_id, self.limits.per_probe)

    def _admit_unsigned(self, head: RequestHead) -> Response | Admission:
        if head.content_length > self.limits.legacy_max_body_bytes:
            limit = self.limits.legacy_max_body_bytes
            return Response.error(413, f"a batch without {SIGNATURE_HEADER} is limited to {limit} bytes")
        return self._take("", self.limits.legacy_clients)

    def _take(self, who: str, most: int) -> Response | Admission:
        if self.in_progress.get(who, 0) >= most:
            return Response.error(503, _BUSY)
        self.in_progress[who] = self.in_progress.get(who, 0) + 1

        def release() -> None:
            left = self.in_progress[who] - 1
            if left:
                self.in_progress[who] = left
            else:
                del self.in_progress[who]

        return Admission(release)


class _BatchHandler(Handler):
    def __init__(self, server: CollectorServer) -> None:
        self.server = server

    def admit(self, head: RequestHead) -> Response | Admission:
        if head.path not in (BATCHES_PATH, HEALTH_PATH):
            return Response.error(404, f"no such resource; batches go to POST {BATCHES_PATH}")
        if head.path == HEALTH_PATH:
            return ADMITTED if head.method == "GET" else Response.error(405, "method not allowed")
        if head.method != "POST":
            return Response.error(405, "method not allowed")
        return self.server.senders.admit(head)

    def close(self) -> None:
        self.server.senders.close()

    def handle(self, request: Request) -> Response:
        if request.path == HEALTH_PATH:
            return Response.json(200, {"status": "ok"})
        try:
            result = self._store(request)
        except IngestError as exc:
            self.server.log(f"collector: refused a batch ({exc.status}): {str(exc)[:200]}")
            return Response.json(exc.status, exc.answer())
        except Exception:  # logged by the writer
            return Response.error(500, "the collector could not store the batch; retry later")
        self.server.log(f"collector: stored {result.stored} measurements ({result.duplicates} already there)")
        return Response.json(200, result.answer())

    def _store(self, request: Request) -> IngestResult:
        probe_id = request.headers.get(PROBE_ID_HEADER.lower())
        key = request.headers.get(PROBE_KEY_HEADER.lower(), "").strip()
        if probe_id is not None:
            signature = request.headers.get(SIGNATURE_HEADER.lower(), "")
            if not verify(key, signature.strip(), upload_statement(request.body)):
                raise IngestError(401, f"bad {SIGNATURE_HEADER}: the body was altered, or not signed by this key")
        received = parse_batch(request.body)
        if probe_id is not None and (received.batch.probe_id, received.batch.public_key) != (probe_id.strip(), key):
            raise IngestError(401, f"the batch is not from the probe its {PROBE_ID_HEADER} and {PROBE_KEY_HEADER} name")
        return self.server.store(received)


class CollectorServer(HTTPServer):
    def __init__(
        self,
        host: str,
        port: int,
        db_path: Path | str,
        limits: Limits,
        log: Callable[[str], None],
        listener: socket.socket | None = None,
    ) -> None:
        self.collector_limits = limits
        self.writer = _Writer(db_path, limits, log)
        self.writer.start()
        self.writer.ready.wait()
        if self.writer.failure is not None:
            raise self.writer.failure
        self.senders = _Senders(db_path, limits)
        server_limits = ServerLimits(
            workers=limits.max_clients,
            request_timeout=limits.read_timeout,
            min_rate=limits.min_rate,
            rate_grace=limits.rate_grace,
            max_head_bytes=16 * 1024,
            max_body_bytes=limits.max_body_bytes,
            max_buffered_bytes=limits.max_buffered_bytes,
        )
        try:
            super().__init__(
                _BatchHandler(self),
                host=host,
                port=port,
                limits=server_limits,
                name="collector",
                log=log,
                listener=listener,
            )
        except OSError:
            self._stop_writer()
            raise
        self.session = Session(db_path, log=log)
        """When it listened (``collector_sessions``): from now, the socket bound, until ``close``."""
        self.session.start()
        self.session.started.wait(limits.store_timeout)

    def store(self, received: Received) -> IngestResult:
        future: Future[IngestResult] = Future()
        timeout = self.collector_limits.store_timeout
        try:
            self.writer.jobs.put((received, future), timeout=timeout)
        except queue.Full:
            raise IngestError(503, _BUSY) from None
        try:
            return future.result(timeout=timeout)
        except TimeoutError:
            future.cancel()
            raise IngestError(503, _BUSY) from None

    def close(self) -> None:
        super().close()
        self.session.stop()
        self._stop_writer()

    def _stop_writer(self) -> None:
        self.writer.jobs.put(None)
        self.writer.join(self.collector_limits.store_timeout)


def make_server(
    db_path: Path | str,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    limits: Limits | None = None,
    log: Callable[[str], None] = lambda line: None,
    listener: socket.socket | None = None,
) -> CollectorServer:
    """A collector bound to ``host:port`` (0: any free port), or serving ``listener`` (a socket shared by
    several worker processes, ``probe.collector.workers``), its database opened and migrated."""
    return CollectorServer(host, port, db_path, limits or Limits(), log, listener)


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
    server.start()
    try:
        yield server
    finally:
        server.close()
