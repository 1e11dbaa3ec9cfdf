"""Line I/O with an AT modem, every read bounded by a deadline and every buffer by a size.

A modem may echo commands (``ATE0`` ignored), answer slowly, send garbage or never stop
talking. Here none of that can hang or crash the probe: each command has a deadline, a line
longer than ``max_line_bytes`` or with control bytes is counted as garbage and dropped, and
more than ``max_read_bytes`` in one measurement ends it (``ModemFlood``). Unsolicited result
codes (``+CDS``, ``+CMTI``...) met while waiting for a command's answer are queued, bounded,
for the caller.

Errors (all ``ModemError``): ``ModemTimeout`` (no final result in time), ``ModemFlood``,
``ModemGone`` (the port failed or closed). Raw lines are never stored: they may hold numbers.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

import serial

from probe.errors import ProbeError
from probe.net._deadline import Deadline

URC_PREFIXES = ("+CDS:", "+CDSI:", "+CMTI:", "+CMT:", "RING", "+CBM:")
FINAL_OK = "OK"
PROMPT = ">"
MAX_QUEUED_URCS = 64
MAX_RESPONSE_LINES = 256
POLL_SECONDS = 0.05
"""The port's read timeout: how often a wait looks at its deadline."""
_READ_CHUNK = 4096
_LINE_ENDS = b"\r\n"
_CTRL_Z = b"\x1a"
_ESC = b"\x1b"


class ModemPort(Protocol):
    """What is used of a pyserial port (``serial_for_url``): devices, ``socket://``, ``loop://``."""

    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...

    def close(self) -> None: ...


class ModemError(ProbeError):
    """The modem did not behave: the measurement records ``probe_fault``, the probe goes on."""


class ModemTimeout(ModemError):
    pass


class ModemFlood(ModemError):
    pass


class ModemGone(ModemError):
    pass


@dataclass
class Response:
    """A command's information lines and its final result: OK, ERROR, +CME/+CMS ERROR, or the prompt."""

    final: str
    lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.final == FINAL_OK

    @property
    def prompt(self) -> bool:
        return self.final == PROMPT

    def cms_error(self) -> int | None:
        return _error_code(self.final, "+CMS ERROR:")

    def cme_error(self) -> int | None:
        return _error_code(self.final, "+CME ERROR:")

    def info(self, prefix: str) -> str | None:
        """The value after ``prefix`` (e.g. "+CPIN:") in the first line that has it."""
        for line in self.lines:
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        return None


def _error_code(final: str, prefix: str) -> int | None:
    if not final.startswith(prefix):
        return None
    text = final[len(prefix) :].strip()
    return int(text) if text.isdigit() else -1


def _is_final(line: str) -> bool:
    return line in (FINAL_OK, "ERROR") or line.startswith(("+CME ERROR:", "+CMS ERROR:"))


def is_urc(line: str) -> bool:
    return line.startswith(URC_PREFIXES)


def _printable(raw: bytes) -> bool:
    return all(0x20 <= b < 0x7F or b == 0x09 for b in raw)


class ATChannel:
    """An open modem port, spoken to one command at a time (not thread-safe: one per measurement)."""

    def __init__(self, port: ModemPort, *, max_line_bytes: int, max_read_bytes: int) -> None:
        """``port`` must be open with ``timeout=POLL_SECONDS`` and a ``write_timeout``."""
        self._port = port
        self._max_line = max_line_bytes
        self._max_read = max_read_bytes
        self._buf = bytearray()
        self._skipping = False  # inside an over-long line: drop until its end
        self.urcs: deque[str] = deque(maxlen=MAX_QUEUED_URCS)
        self.bytes_read = 0
        self.echo_lines = 0
        self.garbage_lines = 0

    # --- reading --------------------------------------------------------------------------
    def _fill(self, deadline: Deadline) -> bool:
        """Read what the modem sends within the deadline; False if nothing came."""
        left = deadline.remaining()
        if left <= 0:
            return False
        try:
            chunk = self._port.read(1)  # waits at most the port's timeout (POLL_SECONDS)
            if chunk:
                waiting = self._port.in_waiting
                if waiting:
                    chunk += self._port.read(min(waiting, _READ_CHUNK))
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ModemGone(f"modem port failed: {type(exc).__name__}") from None
        if not chunk:
            return False
        self.bytes_read += len(chunk)
        if self.bytes_read > self._max_read:
            raise ModemFlood(f"the modem sent more than {self._max_read} bytes")
        self._buf += chunk
        return True

    def _take_line(self, *, prompt: bool) -> str | None:
        """The next complete line in the buffer (None if there is none yet); garbage is skipped."""
        while True:
            while self._buf and self._buf[0] in _LINE_ENDS:
                del self._buf[:1]
                self._skipping = False
            if prompt and self._buf.startswith(b">") and not self._skipping:
                del self._buf[: 2 if self._buf.startswith(b"> ") else 1]
                return PROMPT
            ends = [i for i in (self._buf.find(b"\r"), self._buf.find(b"\n")) if i >= 0]
            if not ends:
                if len(self._buf) > self._max_line:
                    self.garbage_lines += 0 if self._skipping else 1
                    self._skipping = True
                    self._buf.clear()
                return None
            end = min(ends)
            raw = bytes(self._buf[:end])
            del self._buf[: end + 1]
            if self._skipping:
                self._skipping = False
                continue
            if len(raw) > self._max_line or not _printable(raw):
                self.garbage_lines += 1
                continue
            line = raw.decode("ascii").strip()
            if line:
                return line

    def read_line(self, deadline: Deadline, *, prompt: bool = False) -> str | None:
        """The next non-empty line, or None when the deadline passes first."""
        while True:
            line = self._take_line(prompt=prompt)
            if line is not None:
                return line
            if deadline.remaining() <= 0:
                return None
            self._fill(deadline)

    # --- writing --------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        try:
            self._port.write(data)  # bounded by the port's write_timeout; no flush(): tcdrain can block forever
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ModemGone(f"modem port failed: {type(exc).__name__}") from None

    def _discard_stale(self) -> None:
        """Before a command: what the modem already sent is not its answer (URCs are kept).

        Without this, a stray "OK" or "+CMS ERROR" left by a confused modem would be read as the
        answer to the next command, and every answer after it would be off by one.
        """
        try:
            waiting = self._port.in_waiting
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ModemGone(f"modem port failed: {type(exc).__name__}") from None
        if waiting:
            self._fill(Deadline(POLL_SECONDS))
        while (line := self._take_line(prompt=False)) is not None:
            if is_urc(line):
                self.urcs.append(line)
            else:
                self.garbage_lines += 1

    def command(self, command: str, timeout: float, *, expect_prompt: bool = False) -> Response:
        """Send ``command`` and read to its final result (or the '> ' prompt)."""
        self._discard_stale()
        self._write(command.encode("ascii") + b"\r")
        return self._response(command, Deadline(timeout), expect_prompt=expect_prompt)

    def send_text(self, text: str, timeout: float) -> Response:
        """After the prompt: the message text and Ctrl-Z, then the final result."""
        self._write(text.encode("ascii", errors="replace") + _CTRL_Z)
        return self._response(text, Deadline(timeout), expect_prompt=False)

    def cancel_text(self) -> None:
        """Leave text-entry mode (ESC) after a prompt that came too late or a failed send."""
        self._write(_ESC)

    def _response(self, echo: str, deadline: Deadline, *, expect_prompt: bool) -> Response:
        lines: list[str] = []
        while True:
            line = self.read_line(deadline, prompt=expect_prompt)
            if line is None:
                raise ModemTimeout(f"no answer to {self._name(echo)} in time")
            if line == PROMPT:
                return Response(PROMPT, lines)
            if line == echo or (line.startswith("AT") and echo.startswith("AT")):
                self.echo_lines += 1
                continue
            if _is_final(line):
                return Response(line, lines)
            if is_urc(line):
                self.urcs.append(line)
                continue
            if len(lines) >= MAX_RESPONSE_LINES:
                raise ModemFlood(f"more than {MAX_RESPONSE_LINES} lines in answer to {self._name(echo)}")
            lines.append(line)

    @staticmethod
    def _name(command: str) -> str:
        """A command as it may be named in a measurement: never its arguments (a number)."""
        if not command.startswith("AT"):
            return "the message text"
        return command.split("=", 1)[0] + ("=..." if "=" in command else "")

    # --- unsolicited results --------------------------------------------------------------
    def next_urc(self, deadline: Deadline) -> str | None:
        """The next unsolicited result code (queued first), or None at the deadline."""
        while not self.urcs:
            line = self.read_line(deadline)
            if line is None:
                return None
            if is_urc(line):
                self.urcs.append(line)
            elif line != FINAL_OK:
                self.garbage_lines += 1
        return self.urcs.popleft()

    def pending_urcs(self) -> list[str]:
        """URCs already queued or already in the buffer, without waiting."""
        while True:
            line = self._take_line(prompt=False)
            if line is None:
                break
            if is_urc(line):
                self.urcs.append(line)
        found = list(self.urcs)
        self.urcs.clear()
        return found
