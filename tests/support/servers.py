"""Real servers on the loopback interface for network tests (not a test module).

Every server listens on an ephemeral port of ``127.0.0.1`` (or ``host="::1"``), serves from
daemon threads, and is stopped when its ``with`` block ends: listener closed, connections
shut down, threads joined with a bound. Every serving loop is bounded in time.

TCP (each yields an ``Endpoint`` with ``.host``, ``.port``, ``.address``):

    tcp_server()                  accepts and holds the connection until the client leaves
    tcp_refusing_port()           a bound port with nothing listening: connect -> connection_refused
    tcp_resetting_server()        accepts, then resets at once (SO_LINGER 0)
    tcp_blackhole_server()        a full accept queue: SYNs are dropped, connect -> timeout

Middlebox-like servers: "hello" is the client's first bytes, a TLS ClientHello or an HTTP
request, which is what DPI reacts to:

    reset_after_hello_server()    reads the hello, then RST            (-> connection_reset)
    silent_after_hello_server()   reads the hello, never answers       (-> generic_timeout_error)
    close_after_hello_server()    reads the hello, then closes (FIN)   (-> eof_error)

TLS and HTTP:

    tls_server(leaf, maximum_version=None)   completes a handshake with ``leaf`` (see
        ``tests.testca``; it offers ALPN http/1.1), then waits for the client to leave
    http_server(routes, leaf=None, host=...) yields an ``HTTPTestServer``: ``.url(path)``,
        ``.routes`` (a dict, editable while running), ``.requests`` (the ``Request``s received).
        With ``leaf`` it speaks HTTPS. A path not in ``routes`` gets a 404 page.

Route handlers for ``http_server`` (each returns a ``Handler``):

    page(body, status=200, headers=(), content_type=...)   a Content-Length framed response
    blockpage()                     a Kazakh-style blockpage ("Страница заблокирована")
    redirect(location, status=302)  a redirect; ``redirect("/same")`` on "/same" is a loop
    chunked(parts)                  a chunked body
    endless_body()                  headers, then body bytes as fast as the client reads
    slow_drip(interval=0.1)         headers, then one body byte per ``interval``
    header_drip(interval=0.1)       a status line, then one header byte per ``interval``
    huge_headers(count, size)       ``count`` headers of ``size`` bytes each
    raw(data)                       ``data`` as is (malformed responses), then close
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from support.testca import Leaf

MAX_SERVE_SECONDS = 30.0  # no serving loop runs longer, whatever the client does
_IO_TIMEOUT = 5.0
_MAX_REQUEST_BYTES = 65536
_JOIN_TIMEOUT = 2.0


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


ConnectionHandler = Callable[[socket.socket, threading.Event], None]


class _Server:
    """Accepts on an ephemeral port and runs ``handler(conn, stopping)`` per connection."""

    def __init__(self, handler: ConnectionHandler, *, host: str = "127.0.0.1", backlog: int = 16) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.bind((host, 0))
        self._listener.listen(backlog)
        self._listener.settimeout(0.05)
        self.endpoint = Endpoint(host, self._listener.getsockname()[1])
        self._handler = handler
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept_loop, daemon=True)
        self._accepter.start()

    def _accept_loop(self) -> None:
        deadline = time.monotonic() + MAX_SERVE_SECONDS
        while not self.stopping.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(_IO_TIMEOUT)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._lock:
                self._conns.append(conn)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._handler(conn, self.stopping)
        except (OSError, ValueError):  # the client left, or the server is stopping
            pass
        finally:
            conn.close()

    def stop(self) -> None:
        self.stopping.set()
        self._accepter.join(_JOIN_TIMEOUT)
        self._listener.close()
        with self._lock:
            conns, threads = list(self._conns), list(self._threads)
        for conn in conns:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(_JOIN_TIMEOUT)


@contextmanager
def _serving(handler: ConnectionHandler, *, host: str = "127.0.0.1", backlog: int = 16) -> Iterator[_Server]:
    server = _Server(handler, host=host, backlog=backlog)
    try:
        yield server
    finally:
        server.stop()


def _reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _hold(conn: socket.socket, stopping: threading.Event) -> None:
    """Read and discard until the client leaves or the server stops (bounded)."""
    conn.settimeout(0.1)
    deadline = time.monotonic() + MAX_SERVE_SECONDS
    while not stopping.is_set() and time.monotonic() < deadline:
        try:
            if not conn.recv(4096):
                return
        except TimeoutError:
            continue


# --- TCP ---------------------------------------------------------------------------------


@contextmanager
def tcp_server(host: str = "127.0.0.1") -> Iterator[Endpoint]:
    with _serving(_hold, host=host) as server:
        yield server.endpoint


@contextmanager
def tcp_refusing_port(host: str = "127.0.0.1") -> Iterator[Endpoint]:
    """A port bound (so nobody else takes it) but not listening: the kernel answers SYN with RST."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        yield Endpoint(host, sock.getsockname()[1])


@contextmanager
def tcp_resetting_server(host: str = "127.0.0.1", *, after: threading.Event | None = None) -> Iterator[Endpoint]:
    """The three-way handshake completes (the kernel does it), then the server resets.

    At once, or once ``after`` is set (bounded): a test that needs its connect to succeed first sets it
    then, since on a busy machine the reset can otherwise reach the client before its connect returns."""

    def handler(conn: socket.socket, stopping: threading.Event) -> None:
        if after is not None:
            deadline = time.monotonic() + MAX_SERVE_SECONDS
            while not after.wait(0.1) and not stopping.is_set() and time.monotonic() < deadline:
                pass
        _reset(conn)

    with _serving(handler, host=host) as server:
        yield server.endpoint


@contextmanager
def tcp_blackhole_server() -> Iterator[Endpoint]:
    """A listener with backlog 0 whose accept queue is filled and never drained.

    Linux then drops new SYNs (tcp_abort_on_overflow=0, the default), so a connect times
    out, as when a firewall drops packets. Fillers are added until one connect hangs:
    on Linux 6.x that is after one (backlog 0 admits one queued connection).
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        for _ in range(16):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            fillers.append(filler)
            filler.settimeout(0.1)
            try:
                filler.connect(listener.getsockname())
            except TimeoutError:
                break
        else:
            raise RuntimeError("could not fill the accept queue: this kernel does not drop SYNs")
        yield Endpoint("127.0.0.1", listener.getsockname()[1])
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


# --- middleboxes -------------------------------------------------------------------------


def _read_hello(conn: socket.socket) -> bytes:
    return conn.recv(65536)


@contextmanager
def reset_after_hello_server(host: str = "127.0.0.1") -> Iterator[Endpoint]:
    def handler(conn: socket.socket, _: threading.Event) -> None:
        _read_hello(conn)
        _reset(conn)

    with _serving(handler, host=host) as server:
        yield server.endpoint


@contextmanager
def silent_after_hello_server(host: str = "127.0.0.1") -> Iterator[Endpoint]:
    with _serving(_hold, host=host) as server:
        yield server.endpoint


@contextmanager
def close_after_hello_server(host: str = "127.0.0.1") -> Iterator[Endpoint]:
    def handler(conn: socket.socket, _: threading.Event) -> None:
        _read_hello(conn)
        conn.shutdown(socket.SHUT_RDWR)

    with _serving(handler, host=host) as server:
        yield server.endpoint


# --- TLS ---------------------------------------------------------------------------------


def _server_context(leaf: Leaf, maximum_version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(leaf.chain_path, leaf.key_path)
    context.set_alpn_protocols(["http/1.1"])
    if maximum_version is not None:
        context.maximum_version = maximum_version
    return context


@contextmanager
def tls_server(
    leaf: Leaf, *, maximum_version: ssl.TLSVersion | None = None, host: str = "127.0.0.1"
) -> Iterator[Endpoint]:
    """Completes a handshake presenting ``leaf``'s chain; the client's verdict is the client's."""
    context = _server_context(leaf, maximum_version)

    def handler(conn: socket.socket, stopping: threading.Event) -> None:
        with context.wrap_socket(conn, server_side=True) as tls_conn:
            _hold(tls_conn, stopping)

    with _serving(handler, host=host) as server:
        yield server.endpoint


# --- HTTP --------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    target: str
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[-1] if values else None


@dataclass
class Exchange:
    """One request being answered: the handler writes to ``conn``."""

    conn: socket.socket
    request: Request
    stopping: threading.Event

    def send(self, data: bytes) -> None:
        self.conn.sendall(data)

    def pause(self, seconds: float) -> bool:
        """Sleep; False when the server is stopping."""
        return not self.stopping.wait(seconds)


Handler = Callable[[Exchange], None]


def _read_request(conn: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > _MAX_REQUEST_BYTES:
            return None
        more = conn.recv(4096)
        if not more:
            return None
        data += more
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    method, target, _ = head[0].split(" ", 2)
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in head[1:])]
    return Request(method, target, headers)


@dataclass
class HTTPTestServer:
    endpoint: Endpoint
    scheme: str
    routes: dict[str, Handler]
    requests: list[Request] = field(default_factory=list)
    connections: list[str] = field(default_factory=list)
    """Every connection accepted (the client's port), with a request or not."""

    @property
    def port(self) -> int:
        return self.endpoint.port

    def url(self, path: str = "/") -> str:
        host = f"[{self.endpoint.host}]" if ":" in self.endpoint.host else self.endpoint.host
        return f"{self.scheme}://{host}:{self.endpoint.port}{path}"


@contextmanager
def http_server(
    routes: dict[str, Handler], *, leaf: Leaf | None = None, host: str = "127.0.0.1"
) -> Iterator[HTTPTestServer]:
    context = _server_context(leaf) if leaf is not None else None
    state = HTTPTestServer(Endpoint(host, 0), "https" if leaf else "http", routes)

    def handler(conn: socket.socket, stopping: threading.Event) -> None:
        state.connections.append(str(conn.getpeername()[1]))
        if context is not None:
            conn = context.wrap_socket(conn, server_side=True)
        request = _read_request(conn)
        if request is None:
            return
        state.requests.append(request)
        path = request.target.split("?", 1)[0]
        state.routes.get(path, page("<title>Not found</title>", status=404))(Exchange(conn, request, stopping))

    with _serving(handler, host=host) as server:
        state.endpoint = server.endpoint
        yield state


def response_head(status: int, headers: Sequence[tuple[str, str]], reason: str = "") -> bytes:
    lines = [f"HTTP/1.1 {status} {reason or _REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found"}
BLOCKPAGE_HTML = (
    "<html><head><title>Доступ ограничен</title></head>"
    "<body><h1>Страница заблокирована</h1><p>Доступ к ресурсу ограничен.</p></body></html>"
)


def page(
    body: bytes | str,
    *,
    status: int = 200,
    headers: Sequence[tuple[str, str]] = (),
    content_type: str = "text/html; charset=utf-8",
) -> Handler:
    data = body.encode("utf-8") if isinstance(body, str) else body

    def handler(exchange: Exchange) -> None:
        head = [("Content-Type", content_type), ("Content-Length", str(len(data))), *headers]
        exchange.send(response_head(status, head) + data)

    return handler


def slow_page(seconds: float, body: str = "<title>slow</title>") -> Handler:
    """A page served after ``seconds`` (nothing, if the server stops first): keeps a run going for a while."""
    serve = page(body)

    def handler(exchange: Exchange) -> None:
        if exchange.pause(seconds):
            serve(exchange)

    return handler


def blockpage() -> Handler:
    return page(BLOCKPAGE_HTML, headers=[("Server", "nginx")])


def redirect(location: str, *, status: int = 302) -> Handler:
    return page("", status=status, headers=[("Location", location)])


def chunked(parts: Sequence[bytes], *, content_type: str = "text/html; charset=utf-8") -> Handler:
    def handler(exchange: Exchange) -> None:
        head = [("Content-Type", content_type), ("Transfer-Encoding", "chunked")]
        body = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts if part)
        exchange.send(response_head(200, head) + body + b"0\r\n\r\n")

    return handler


def endless_body(block: bytes = b"A" * 65536) -> Handler:
    def handler(exchange: Exchange) -> None:
        exchange.send(response_head(200, [("Content-Type", "text/plain")]))
        deadline = time.monotonic() + MAX_SERVE_SECONDS
        while not exchange.stopping.is_set() and time.monotonic() < deadline:
            exchange.send(block)

    return handler


def slow_drip(interval: float = 0.1) -> Handler:
    def handler(exchange: Exchange) -> None:
        exchange.send(response_head(200, [("Content-Type", "text/html")]) + b"<title>drip</title>")
        deadline = time.monotonic() + MAX_SERVE_SECONDS
        while time.monotonic() < deadline and exchange.pause(interval):
            exchange.send(b".")

    return handler


def header_drip(interval: float = 0.1) -> Handler:
    def handler(exchange: Exchange) -> None:
        exchange.send(b"HTTP/1.1 200 OK\r\nX-Drip: ")
        deadline = time.monotonic() + MAX_SERVE_SECONDS
        while time.monotonic() < deadline and exchange.pause(interval):
            exchange.send(b"x")

    return handler


def huge_headers(count: int = 200, size: int = 100) -> Handler:
    def handler(exchange: Exchange) -> None:
        head = [(f"X-Filler-{i}", "v" * size) for i in range(count)]
        exchange.send(response_head(200, [*head, ("Content-Length", "0")]))

    return handler


def raw(data: bytes) -> Handler:
    def handler(exchange: Exchange) -> None:
        exchange.send(data)

    return handler
