"""HTTP/1.1 on the wire: write a GET, read one response under a deadline and size caps.

Written by hand rather than with ``http.client`` so that every ``recv`` gets only the time
left until the round trip's deadline, and so that header and body caps are exact.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field

from probe.config import HTTPSection
from probe.failures import EOF_ERROR, HTTP_HEADERS_TOO_LARGE, HTTP_MALFORMED_RESPONSE, MeasuredFailure
from probe.net._deadline import Deadline

MAX_HEADER_LINES = 100
MAX_INFORMATIONAL = 5  # "100 Continue" and friends skipped before the real response
_MAX_CHUNK_LINE = 1024
_RECV_SIZE = 65536

_STATUS = re.compile(rb"HTTP/1\.\d (\d{3})(?: [^\r\n]*)?\r?\n")
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")


@dataclass
class Response:
    """What has been read so far: filled in place, so a failure keeps what came before it."""

    code: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    truncated: bool = False

    def header(self, name: str) -> str | None:
        """The last value of header ``name`` (case-insensitive)."""
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[-1] if values else None


def request_bytes(target: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"GET {target} HTTP/1.1", *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")


def send(sock: socket.socket, data: bytes, deadline: Deadline) -> None:
    sock.settimeout(deadline.timeout())
    sock.sendall(data)


class _Reader:
    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        self._sock = sock
        self._deadline = deadline
        self._buf = bytearray()
        self._eof = False

    def _fill(self) -> bool:
        if self._eof:
            return False
        self._sock.settimeout(self._deadline.timeout())
        data = self._sock.recv(_RECV_SIZE)
        if not data:
            self._eof = True
            return False
        self._buf += data
        return True

    def pending(self) -> bytes:
        return bytes(self._buf)

    def line(self, limit: int, too_long: str) -> bytes | None:
        """One line with its LF, at most ``limit`` bytes (else ``too_long``); None at EOF before a LF."""
        start = 0
        while True:
            end = self._buf.find(b"\n", start)
            if end >= 0:
                if end + 1 > limit:
                    raise MeasuredFailure(too_long)
                line = bytes(self._buf[: end + 1])
                del self._buf[: end + 1]
                return line
            if len(self._buf) > limit:
                raise MeasuredFailure(too_long)
            start = len(self._buf)
            if not self._fill():
                return None

    def some(self, n: int) -> bytes:
        """Up to ``n`` bytes, at least one unless the peer closed."""
        if not self._buf and not self._fill():
            return b""
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data


class _HeaderBudget:
    def __init__(self, max_bytes: int) -> None:
        self.bytes_left = max_bytes
        self.lines_left = MAX_HEADER_LINES

    def line(self, reader: _Reader) -> bytes | None:
        line = reader.line(self.bytes_left, HTTP_HEADERS_TOO_LARGE)
        if line is not None:
            self.bytes_left -= len(line)
            self.lines_left -= 1
            if self.lines_left < 0:
                raise MeasuredFailure(HTTP_HEADERS_TOO_LARGE, f"more than {MAX_HEADER_LINES} lines")
        return line


def _read_head(reader: _Reader, budget: _HeaderBudget) -> tuple[int, list[tuple[str, str]]]:
    status = budget.line(reader)
    if status is None:
        if reader.pending() and not b"HTTP/".startswith(reader.pending()[:5]):
            raise MeasuredFailure(HTTP_MALFORMED_RESPONSE, "not an HTTP response")
        raise MeasuredFailure(EOF_ERROR, "closed before the status line")
    match = _STATUS.fullmatch(status)
    if match is None:
        raise MeasuredFailure(HTTP_MALFORMED_RESPONSE, f"status line {status[:80]!r}")
    headers: list[tuple[str, str]] = []
    while True:
        line = budget.line(reader)
        if line is None:
            raise MeasuredFailure(EOF_ERROR, "closed in the headers")
        if line in (b"\r\n", b"\n"):
            return int(match.group(1)), headers
        if line[:1] in (b" ", b"\t") and headers:  # obsolete line folding
            folded_name, folded_value = headers[-1]
            headers[-1] = (folded_name, f"{folded_value} {line.strip().decode('latin-1')}")
            continue
        name, colon, value = line.partition(b":")
        if not colon or _TOKEN.fullmatch(name) is None:
            raise MeasuredFailure(HTTP_MALFORMED_RESPONSE, f"header line {line[:80]!r}")
        headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))


def _content_length(response: Response) -> int | None:
    values = {v.strip() for k, vs in response.headers if k.lower() == "content-length" for v in vs.split(",")}
    if not values:
        return None
    if len(values) > 1 or not all(v.isdigit() and v.isascii() for v in values):
        raise MeasuredFailure(HTTP_MALFORMED_RESPONSE, f"content-length {sorted(values)}")
    return int(values.pop())


def _read_exactly(reader: _Reader, n: int, response: Response) -> None:
    end = len(response.body) + n
    while len(response.body) < end:
        data = reader.some(end - len(response.body))
        if not data:
            raise MeasuredFailure(EOF_ERROR, "closed in the body")
        response.body += data


def _read_sized(reader: _Reader, length: int, cap: int, response: Response) -> None:
    response.truncated = length > cap
    _read_exactly(reader, min(length, cap), response)


def _read_until_close(reader: _Reader, cap: int, response: Response) -> None:
    while data := reader.some(cap + 1 - len(response.body)):
        response.body += data
        if len(response.body) > cap:
            del response.body[cap:]
            response.truncated = True
            return


def _read_chunked(reader: _Reader, cap: int, response: Response) -> None:
    # Trailers after the last chunk are not read: the connection is closed anyway.
    while True:
        line = reader.line(_MAX_CHUNK_LINE, HTTP_MALFORMED_RESPONSE)
        if line is None:
            raise MeasuredFailure(EOF_ERROR, "closed in the chunked body")
        size_text = line.split(b";", 1)[0].strip()
        if _HEX.fullmatch(size_text) is None:
            raise MeasuredFailure(HTTP_MALFORMED_RESPONSE, f"chunk size {size_text[:40]!r}")
        size = int(size_text, 16)
        if size == 0:
            return
        take = min(size, cap - len(response.body))
        if take < size:
            response.truncated = True
            _read_exactly(reader, take, response)
            return
        _read_exactly(reader, size, response)
        end = reader.line(2, HTTP_MALFORMED_RESPONSE)
        if end is None:
            raise MeasuredFailure(EOF_ERROR, "closed in the chunked body")
        if end not in (b"\r\n", b"\n"):
            raise MeasuredFailure(HTTP_MALFORMED_RESPONSE, "chunk not followed by CRLF")


def read_response(sock: socket.socket, deadline: Deadline, limits: HTTPSection, response: Response) -> None:
    """Read one response to a GET into ``response``; failures raise ``MeasuredFailure`` or ``OSError``.

    The body is framed by chunked encoding, Content-Length, or the end of the connection,
    and capped at ``limits.max_body_bytes``: beyond it nothing more is read (``truncated``).
    """
    reader = _Reader(sock, deadline)
    budget = _HeaderBudget(limits.max_header_bytes)
    for _ in range(MAX_INFORMATIONAL + 1):
        code, headers = _read_head(reader, budget)
        if not 100 <= code < 200 or code == 101:
            break
    else:
        raise MeasuredFailure(HTTP_MALFORMED_RESPONSE, "too many informational responses")
    response.code, response.headers = code, headers
    if code < 200 or code in (204, 304):
        return
    cap = limits.max_body_bytes
    transfer_encoding = response.header("transfer-encoding")
    if transfer_encoding is not None:
        if transfer_encoding.lower().split(",")[-1].strip() == "chunked":
            _read_chunked(reader, cap, response)
        else:
            _read_until_close(reader, cap, response)
        return
    length = _content_length(response)
    if length is None:
        _read_until_close(reader, cap, response)
    else:
        _read_sized(reader, length, cap, response)
