"""The server core's loop: one thread reading and writing every connection, a bounded pool of workers.

h11 parses (sans-IO); the sockets, deadlines and caps are ours:

- One loop thread (``selectors``) accepts connections and reads requests. While it is being read a
  connection costs a socket and its bytes, never a worker: a client that drips its head or body,
  or sends nothing at all, holds nothing that other clients need.
- One deadline, ``request_timeout``, from accept to the last byte of the body, however slowly the
  bytes drip (408 then).
- A minimum rate, ``min_rate`` bytes a second, once ``rate_grace`` seconds have passed: a request
  whose head or body arrives slower than any real client sends is cut (408) long before its
  deadline, and gives up what it held (its connection, the service's admission, its body budget).
  A request must then have sent ``min_rate`` bytes for every second past the grace, so a small
  request delayed by a lost packet or two is not cut, and a client dripping a byte now and then
  is cut within a ``TICK`` of the grace's end.
- Caps: the head (``max_head_bytes``, 431), the body (``max_body_bytes``, from Content-Length,
  413 unread; a chunked body is 411), bodies held in memory across all connections
  (``max_buffered_bytes``, 503), connections being read (``max_connections``: a new one pushes
  out the oldest still incomplete one, so a flood of idle connections cannot lock others out).
- ``Handler.admit`` sees the head before any byte of the body is read and may refuse it: a
  service checks credentials there, so unauthenticated bytes are refused unread.
- A complete request goes to a bounded worker pool (``workers``); when every worker is busy the
  answer is 503 at once, never a queue without bound. The loop writes answers, each within
  ``write_timeout``, then lingers up to ``linger`` seconds discarding what a refused client is
  still sending, so that it reads its answer instead of a reset.
- A connection whose request a handler answered may carry another (HTTP/1.1 keep-alive) if it
  starts within ``keep_alive`` seconds; a refused request closes its connection.
- A client's address is never kept: ``accept``'s peer address is dropped on the spot, and the
  core logs nothing about a request. ``log`` gets one line when a handler fails, without the
  request, and one line a pass of the loop that cut slow requests (how many, never who). A
  server made with ``peer=True`` hands the address to its handler in ``Request.peer`` (the test
  helper looks up the client's network), and nowhere else.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue

import h11

from probe.server.limits import ServerLimits
from probe.server.listener import listening_socket
from probe.server.messages import Admission, Handler, Request, RequestHead, Response

ACCEPT_BATCH = 64
"""Connections accepted per wake of the loop, so that a flood cannot starve reading."""
READ_SIZE = 65536
MAX_LINGER_BYTES = 1 << 20
"""What the loop discards, at most, from a client still sending after its answer."""
TICK = 0.25
"""Longest sleep of the loop: how late a deadline may be noticed."""
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass
class ServerStats:
    served: int = 0
    """Requests a handler answered."""
    busy: int = 0
    """503s because every worker was busy or the body budget was spent."""
    timed_out: int = 0
    """408s: the request did not arrive within ``request_timeout``."""
    too_slow: int = 0
    """408s: the request fell behind ``min_rate`` after ``rate_grace``."""
    evicted: int = 0
    """Incomplete connections dropped to make room for new ones."""
    refused: int = 0
    """Requests refused before a handler saw them whole (malformed, too large, not admitted)."""


@dataclass(eq=False)
class _Conn:
    sock: socket.socket
    deadline: float
    parser: h11.Connection
    began: float = 0.0
    """When the request being read started: accept, or its first byte on a kept-alive connection."""
    behind_at: float = float("inf")
    """While it is read: when the request falls behind ``min_rate``, at the bytes it has sent so far."""
    state: str = "read"  # read -> (work ->) write -> linger, or -> idle -> read again (keep-alive)
    eof: bool = False
    head: RequestHead | None = None
    body: list[bytes] = field(default_factory=list)
    reserved: int = 0
    admission: Admission | None = None
    out: memoryview = field(default_factory=lambda: memoryview(b""))
    fed: int = 0
    drained: int = 0
    keep_alive: bool = False


class HTTPServer:
    """A ``handler`` served on ``host:port`` (port 0: any free port; see ``port``), or on ``listener``, a
    listening socket it then owns (several processes may each serve one inherited socket: the kernel
    hands each connection to one of them; an accept another process won is no error)."""

    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: ServerLimits | None = None,
        name: str = "",
        log: Callable[[str], None] = lambda line: None,
        peer: bool = False,
        listener: socket.socket | None = None,
    ) -> None:
        self.handler = handler
        self._peer = peer
        self.limits = limits or ServerLimits()
        self.name = name
        self.log = log
        self.stats = ServerStats()
        self._listener = listener if listener is not None else listening_socket(host, port)
        self._listener.setblocking(False)
        self.host, self.port = host, int(self._listener.getsockname()[1])
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._conns: dict[_Conn, None] = {}
        self._buffered = 0
        self._slots = threading.BoundedSemaphore(self.limits.workers)
        self._pool = ThreadPoolExecutor(max_workers=self.limits.workers, thread_name_prefix=f"{name or 'http'}-worker")
        self._answers: SimpleQueue[tuple[_Conn, Response]] = SimpleQueue()
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # --- life cycle ---------------------------------------------------------------------------------

    def start(self) -> HTTPServer:
        """Serve from a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, name=f"{self.name or 'http'}-loop", daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Make ``serve_forever`` return (safe from a signal handler or another thread)."""
        self._stop.set()
        with suppress(OSError):
            self._wake_w.send(b"x")

    def close(self) -> None:
        """Stop serving, wait for the loop, free every socket and worker."""
        if self._closed:
            return
        self._closed = True
        self.shutdown()
        if self._thread is not None:
            self._thread.join(10)
        self._pool.shutdown(wait=True, cancel_futures=True)
        for conn in list(self._conns):
            self._drop(conn)
        self._selector.close()
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> HTTPServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def serve_forever(self) -> None:
        """Serve until ``shutdown``."""
        try:
            while not self._stop.is_set():
                for key, mask in self._selector.select(self._sleep()):
                    self._event(key, mask)
                self._collect_answers()
                self._expire(time.monotonic())
        finally:
            try:
                self.handler.close()
            except Exception as exc:
                self.log(f"{self.name or 'server'}: cannot close its handler: {type(exc).__name__}")
            self._done.set()

    # --- the loop -----------------------------------------------------------------------------------

    def _sleep(self) -> float:
        now = time.monotonic()
        deadlines = [self._due(conn) for conn in self._conns if conn.state != "work"]
        return max(0.0, min([TICK, *(deadline - now for deadline in deadlines)]))

    @staticmethod
    def _due(conn: _Conn) -> float:
        """When the loop must next look at a connection that is not with a worker."""
        return min(conn.deadline, conn.behind_at) if conn.state == "read" else conn.deadline

    def _event(self, key: selectors.SelectorKey, mask: int) -> None:
        if key.fileobj is self._listener:
            self._accept()
            return
        if key.fileobj is self._wake_r:
            with suppress(OSError):
                self._wake_r.recv(4096)
            return
        conn: _Conn = key.data
        try:
            if conn.state in ("read", "idle"):
                self._read(conn)
            elif conn.state == "write":
                self._write(conn)
            elif conn.state == "linger":
                self._linger(conn)
        except Exception as exc:  # a bug here must not stop the loop for everyone else
            self.log(f"{self.name or 'server'}: dropped a connection after {type(exc).__name__}")
            self._drop(conn)

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                sock, _peer = self._listener.accept()  # the peer's address is not kept
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of descriptors, or the client left already: try again later
                return
            sock.setblocking(False)
            reading = [conn for conn in self._conns if conn.state in ("read", "idle")]
            if len(reading) >= self.limits.max_connections:
                self.stats.evicted += 1
                self._drop(reading[0])
            parser = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_head_bytes)
            now = time.monotonic()
            conn = _Conn(sock, now + self.limits.request_timeout, parser, began=now)
            self._pace(conn)
            self._conns[conn] = None
            self._selector.register(sock, selectors.EVENT_READ, conn)

    def _read(self, conn: _Conn) -> None:
        # Until the head is parsed, read no more than its cap (plus one byte, so that h11 sees it
        # overflow): a head sent in one piece with its body is then capped like a dripped one.
        size = READ_SIZE if conn.head is not None else max(1, self.limits.max_head_bytes + 1 - conn.fed)
        try:
            data = conn.sock.recv(size)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(conn)
            return
        conn.eof = not data
        if conn.state == "idle":  # the next request of a kept-alive connection: its own deadline
            if conn.eof:
                self._drop(conn)
                return
            conn.state = "read"
            conn.began = time.monotonic()
            conn.deadline = conn.began + self.limits.request_timeout
        conn.fed += len(data)
        self._pace(conn)
        conn.parser.receive_data(data)
        self._advance(conn)

    def _pace(self, conn: _Conn) -> None:
        """Move the time the request falls behind ``min_rate`` by the bytes it has sent."""
        if self.limits.min_rate > 0:
            conn.behind_at = conn.began + self.limits.rate_grace + conn.fed / self.limits.min_rate

    def _advance(self, conn: _Conn) -> None:
        while conn.state == "read":
            try:
                event = conn.parser.next_event()
            except h11.RemoteProtocolError as exc:
                if conn.eof:  # cut off mid-request: nobody is left to answer
                    self._drop(conn)
                else:
                    self._refuse(conn, Response.error(exc.error_status_hint, "malformed HTTP request"))
                return
            if event is h11.NEED_DATA:
                if conn.eof:
                    self._drop(conn)
                elif conn.head is None and conn.fed > self.limits.max_head_bytes:
                    self._refuse(conn, Response.error(431, "request head too large"))
                return
            if isinstance(event, h11.Request):
                self._on_head(conn, event)
            elif isinstance(event, h11.Data):
                conn.body.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                self._dispatch(conn)
            else:  # ConnectionClosed, PAUSED
                self._drop(conn)
                return

    def _on_head(self, conn: _Conn, event: h11.Request) -> None:
        headers: dict[str, str] = {}
        for raw_name, raw_value in event.headers:
            name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        method = event.method.decode("latin-1")
        if "transfer-encoding" in headers:
            self._refuse(conn, Response.error(411, "send the body with a Content-Length, not chunked"))
            return
        if "content-length" not in headers and method in _BODY_METHODS:
            self._refuse(conn, Response.error(411, "a Content-Length is required"))
            return
        length = int(headers.get("content-length", "0"))  # h11 has checked it is a number
        if length > self.limits.max_body_bytes:
            limit = self.limits.max_body_bytes
            message = f"a request body of {length} bytes is over this {self.name or 'server'}'s limit of {limit}"
            self._refuse(conn, Response.error(413, message))
            return
        head = RequestHead(method, event.target.decode("latin-1"), headers, length)
        try:
            admitted = self.handler.admit(head)
        except Exception as exc:
            self.log(f"{self.name or 'server'}: cannot admit a request: {type(exc).__name__}")
            admitted = Response.error(500, "internal error")
        if isinstance(admitted, Response):
            self._refuse(conn, admitted)
            return
        conn.admission, conn.head = admitted, head
        closing = event.http_version != b"1.1" or "close" in headers.get("connection", "").lower()
        conn.keep_alive = self.limits.keep_alive > 0 and not closing
        if self._buffered + length > self.limits.max_buffered_bytes:
            self.stats.busy += 1
            self._answer(conn, Response.error(503, "busy: try again later"))
            return
        conn.reserved = length
        self._buffered += length
        if conn.parser.they_are_waiting_for_100_continue:
            with suppress(OSError):
                conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _dispatch(self, conn: _Conn) -> None:
        assert conn.head is not None
        if not self._slots.acquire(blocking=False):
            self.stats.busy += 1
            self._answer(conn, Response.error(503, "busy: try again later"))
            return
        head = conn.head
        if conn.parser.trailing_data[0]:  # a pipelined request: answer this one, then close
            conn.keep_alive = False
        chunks, conn.body = conn.body, []
        body = b"".join(chunks)
        request = Request(head.method, head.target, head.headers, head.content_length, body, self._peer_of(conn))
        del chunks, body
        conn.state = "work"
        self._selector.unregister(conn.sock)
        try:
            self._pool.submit(self._work, conn, request)
        except RuntimeError:  # shutting down
            self._slots.release()
            self._drop(conn)

    def _peer_of(self, conn: _Conn) -> str:
        if not self._peer:
            return ""
        try:
            return str(conn.sock.getpeername()[0])
        except OSError:
            return ""

    def _work(self, conn: _Conn, request: Request) -> None:
        try:
            response = self.handler.handle(request)
        except Exception as exc:  # a bug in a handler: say so, keep serving the others
            self.log(f"{self.name or 'server'}: failed to answer a request: {type(exc).__name__}: {str(exc)[:200]}")
            response = Response.error(500, "internal error")
        finally:
            self._slots.release()
        self._answers.put((conn, response))
        with suppress(OSError):
            self._wake_w.send(b"x")

    def _collect_answers(self) -> None:
        while True:
            try:
                conn, response = self._answers.get_nowait()
            except Empty:
                return
            if conn in self._conns:
                self.stats.served += 1
                self._answer(conn, response)

    def _refuse(self, conn: _Conn, response: Response) -> None:
        self.stats.refused += 1
        self._answer(conn, response)

    def _answer(self, conn: _Conn, response: Response) -> None:
        self._release(conn)
        conn.keep_alive = conn.keep_alive and conn.state == "work"  # a handler's answer, the request read whole
        conn.out = memoryview(response.encode(self.name, close=not conn.keep_alive))
        conn.deadline = time.monotonic() + self.limits.write_timeout
        events = selectors.EVENT_WRITE
        if conn.state == "work":
            self._selector.register(conn.sock, events, conn)
        else:
            self._selector.modify(conn.sock, events, conn)
        conn.state = "write"
        self._write(conn)

    def _write(self, conn: _Conn) -> None:
        try:
            sent = conn.sock.send(conn.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(conn)
            return
        conn.out = conn.out[sent:]
        if conn.out:
            return
        if conn.keep_alive:
            conn.parser = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_head_bytes)
            conn.state, conn.head, conn.fed, conn.eof, conn.keep_alive = "idle", None, 0, False, False
            conn.deadline = time.monotonic() + self.limits.keep_alive
            self._selector.modify(conn.sock, selectors.EVENT_READ, conn)
            return
        with suppress(OSError):
            conn.sock.shutdown(socket.SHUT_WR)
        conn.state = "linger"
        conn.deadline = time.monotonic() + self.limits.linger
        self._selector.modify(conn.sock, selectors.EVENT_READ, conn)

    def _linger(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        conn.drained += len(data)
        if not data or conn.drained > MAX_LINGER_BYTES:
            self._drop(conn)

    def _expire(self, now: float) -> None:
        slow = 0
        for conn in [conn for conn in self._conns if conn.state != "work" and self._due(conn) <= now]:
            if conn.state != "read":
                self._drop(conn)
            elif conn.deadline <= now:
                self.stats.timed_out += 1
                self._answer(conn, Response.error(408, "the request took too long to arrive"))
            else:
                slow += 1
                self._answer(conn, Response.error(408, "the request is arriving too slowly"))
        if slow:  # one line for all those cut at once: a slow flood must not become a flood of lines
            self.stats.too_slow += slow
            rate, grace = self.limits.min_rate, self.limits.rate_grace
            self.log(f"{self.name or 'server'}: cut {slow} request(s) slower than {rate:g} bytes/s after {grace:g} s")

    def _release(self, conn: _Conn) -> None:
        self._buffered -= conn.reserved
        conn.reserved = 0
        conn.body = []
        admission, conn.admission = conn.admission, None
        if admission is not None and admission.release is not None:
            try:
                admission.release()
            except Exception as exc:
                self.log(f"{self.name or 'server'}: cannot release a request: {type(exc).__name__}")

    def _drop(self, conn: _Conn) -> None:
        self._release(conn)
        self._conns.pop(conn, None)
        if conn.state != "work":
            with suppress(KeyError, ValueError):
                self._selector.unregister(conn.sock)
        conn.state = "closed"
        conn.sock.close()
