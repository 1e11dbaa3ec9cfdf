"""The shared server core (probe.server) on loopback, with a small echo handler."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from support.timing import SLACK

from probe.server import Handler, HTTPServer, Request, Response, ServerLimits


class Echo(Handler):
    def handle(self, request: Request) -> Response:
        if request.path == "/boom":
            raise RuntimeError("a bug in the handler")
        return Response(200, request.body, content_type="text/plain")


@contextmanager
def serving(log: list[str] | None = None, **limits: Any) -> Iterator[HTTPServer]:
    lines = log if log is not None else []
    with HTTPServer(Echo(), limits=ServerLimits(**limits), name="echo", log=lines.append) as server:
        yield server


def exchange(server: HTTPServer, data: bytes, *, timeout: float = 5.0) -> bytes:
    with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def post(body: bytes, *, close: bool = True) -> bytes:
    connection = "Connection: close\r\n" if close else ""
    return f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{connection}\r\n".encode() + body


def test_a_body_that_does_not_fit_the_memory_budget_gets_503_at_once() -> None:
    with serving(max_buffered_bytes=1000, max_body_bytes=800) as server:
        holder = socket.create_connection((server.host, server.port), timeout=5)
        holder.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 600\r\nExpect: 100-continue\r\n\r\n")
        assert holder.recv(100).startswith(b"HTTP/1.1 100")  # admitted: its 600 bytes are reserved
        begin = time.monotonic()
        answer = exchange(server, post(b"x" * 600))
        assert answer.startswith(b"HTTP/1.1 503") and time.monotonic() - begin < SLACK
        holder.close()
        deadline = time.monotonic() + 10
        while not (answer := exchange(server, post(b"x" * 600))).endswith(b"x" * 600) and time.monotonic() < deadline:
            time.sleep(0.05)  # the holder's close is seen by the loop a moment later
        assert answer.endswith(b"x" * 600)  # its reservation released when it left


def test_a_new_connection_pushes_out_the_oldest_incomplete_one() -> None:
    with serving(max_connections=4) as server:
        idle = [socket.create_connection((server.host, server.port), timeout=5) for _ in range(4)]
        time.sleep(0.2)
        assert exchange(server, post(b"hello")).endswith(b"hello")
        assert idle[0].recv(10) == b""  # the oldest, closed to make room
        assert server.stats.evicted == 1
        for sock in idle:
            sock.close()


def test_a_failing_handler_is_a_500_and_one_line_without_the_client() -> None:
    log: list[str] = []
    with serving(log) as server:
        answer = exchange(server, b"GET /boom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 500")
        assert exchange(server, post(b"still here")).endswith(b"still here")
    assert log == ["echo: failed to answer a request: RuntimeError: a bug in the handler"]


def test_a_client_waiting_for_100_continue_gets_it_before_sending_its_body() -> None:
    with serving() as server, socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"body")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 200") and received.endswith(b"body")


def test_pipelined_requests_get_one_answer_and_a_close() -> None:
    with serving() as server:
        answer = exchange(server, post(b"one", close=False) + post(b"two"))
    assert answer.count(b"HTTP/1.1 200") == 1 and b"Connection: close" in answer and answer.endswith(b"one")


def drip(server: HTTPServer, start: bytes, size: int, interval: float, *, bound: float = 30.0) -> tuple[bytes, float]:
    """Send ``start``, then ``size`` bytes every ``interval`` until the server answers or closes (at most
    ``bound`` seconds); what it answered, and how many seconds that took."""
    begin = time.monotonic()
    received = b""
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(start)
        while time.monotonic() - begin < bound:
            if select.select([sock], [], [], interval)[0]:
                while chunk := sock.recv(65536):
                    received += chunk
                break
            sock.sendall(b"a" * size)
    return received, time.monotonic() - begin


SLOW_STARTS = {
    "head": b"POST / HTTP/1.1\r\nHost: x\r\nX-Padding: ",
    "body": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n",
}


@pytest.mark.parametrize("part", SLOW_STARTS)
def test_a_head_or_body_dripped_under_the_minimum_rate_is_cut_with_408_once_the_grace_is_over(part: str) -> None:
    log: list[str] = []
    with serving(log, min_rate=1024, rate_grace=0.5, request_timeout=60) as server:
        answer, elapsed = drip(server, SLOW_STARTS[part], 1, 0.1)  # 10 bytes a second
        assert answer.startswith(b"HTTP/1.1 408") and b"too slowly" in answer, answer
        assert 0.5 <= elapsed < 0.5 + SLACK
        assert exchange(server, post(b"still here")).endswith(b"still here")
    assert (server.stats.too_slow, server.stats.timed_out) == (1, 0)
    assert log == ["echo: cut 1 request(s) slower than 1024 bytes/s after 0.5 s"]


def test_a_client_sending_twice_the_minimum_rate_is_not_cut() -> None:
    body = b"a" * 6144
    with serving(min_rate=1024, rate_grace=0.5, request_timeout=60) as server:
        head = f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        answer, elapsed = drip(server, head.encode(), 256, 0.125)  # 2 KiB a second, for 3 s
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(body), answer[:200]
    assert elapsed > 2.0  # well past the grace: the minimum rate was in force
    assert server.stats.too_slow == 0


def test_the_minimum_rate_of_a_kept_alive_connections_next_request_counts_from_its_first_byte() -> None:
    with serving(min_rate=1024, rate_grace=1.0) as server:
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            sock.sendall(post(b"one", close=False))
            received = b""
            while not received.endswith(b"one"):
                received += sock.recv(65536)
            time.sleep(1.5)  # idle, answered: longer than the grace, shorter than keep_alive
            second = post(b"two")
            sock.sendall(second[:-3])
            time.sleep(0.3)  # the request in two parts: the loop looks at its pace in between
            sock.sendall(second[-3:])
            while chunk := sock.recv(65536):
                received += chunk
    assert received.count(b"HTTP/1.1 200") == 2 and received.endswith(b"two")
    assert server.stats.too_slow == 0
