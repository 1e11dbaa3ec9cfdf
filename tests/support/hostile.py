"""Servers run as real processes for hostile clients on loopback (not a test module).

Every client connects from ``CLIENT`` (``127.0.0.9``), so that a search of everything a server
wrote for that address means something.

    process(args, tmp_path, name, path, port)   ``python -m probe ARGS`` until the block ends: a ``Server``
    connect(port)                                a socket to 127.0.0.1:port from ``CLIENT``
    status_of(port, method, path, body, headers) one request's status (None: no answer)
    free_port()                                  a port nothing listens on, for a server to take
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
CLIENT = "127.0.0.9"
"""Where every client connects from: the address no server may write down."""


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(CLIENT, 0))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    output: Path
    """What the process wrote, stdout and stderr together."""
    path: str
    """Where its requests go."""

    def written(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def rss_kib(self, field: str = "VmRSS") -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {field} in /proc/{self.process.pid}/status")


def status_of(port: int, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> int | None:
    """One request from ``CLIENT``; its status, or None when it got no answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(CLIENT, 0))
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


@contextmanager
def process(args: list[str], tmp_path: Path, name: str, path: str, port: int) -> Iterator[Server]:
    output = tmp_path / f"{name}.out"
    with output.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "probe", *args], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink
        )
    server = Server(proc, port, output, path)
    try:
        deadline = time.monotonic() + 30
        while "listening on" not in server.written() and "serving" not in server.written():
            assert proc.poll() is None and time.monotonic() < deadline, server.written()
            time.sleep(0.05)
        yield server
    finally:
        proc.terminate()
        proc.wait(10)
