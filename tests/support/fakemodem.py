"""A scripted fake GSM modem for tests, on a loopback TCP socket or a pseudo-terminal (not a test module).

The probe opens it like a real modem, through pyserial::

    modem = FakeModem(Script(delivery="delivered"))
    with modem.serve_socket() as port:      # port == "socket://127.0.0.1:<port>"
        ...                                  # [sms.at_modem] port = port
    with modem.serve_pty() as port:         # port == "/dev/pts/<n>"
        ...

It speaks the AT commands of the SMS experiment (27.005/27.007 text mode): ``AT``, ``ATE0``,
``AT+CMEE``, ``AT+CPIN?``, ``AT+CFUN?``, ``AT+CREG?``/``AT+CGREG?``/``AT+CEREG?``, ``AT+COPS``,
``AT+CSQ``, ``AT+CMGF``, ``AT+CSMP``, ``AT+CNMI``, ``AT+CMGS`` (prompt, text, Ctrl-Z),
``AT+CMGL``, ``AT+CMGR``, ``AT+CMGD``; anything else gets ``ERROR``.

What a ``Script`` sets (all optional):

    sim, cfun, creg/cgreg/cereg     "+CPIN: <sim>" ("NOT_INSERTED": +CME ERROR: 10), "+CFUN: <cfun>",
                                    registration stats (1 home, 5 roaming, 0/2/3/4 not registered);
                                    ``cell_ids`` answers "+CREG: 2,<stat>,<lac>,<ci>,7" as some modems do
    operator, act, rssi             "+COPS: 0,2,<operator>,<act>", "+CSQ: <rssi>,99"
    cms_error                       answer the submission with "+CMS ERROR: <n>"
    prompt / answer_submit          False: no "> " prompt / no answer to the text at all
    delivery                        "delivered" (+CDS st 0, and for the own number the message comes back:
                                    stored, +CMTI), "failed" (+CDS st 0x41), "never", "late" (both only
                                    after ``late_delay``: while the probe is gone, the report waits for
                                    its next connection and the message on the SIM), "receipt_only"
    delivery_delay, late_delay      seconds after the submission
    echo                            echo every command, ATE0 or not
    reply_delay                     seconds before every answer (a slow modem)
    garbage                         bytes sent before every answer (binary noise, an over-long line)
    flood                           once spoken to, send garbage without end
    silent                          never answer anything
    stored                          messages already on the SIM: (text) from somebody else, or old probe texts
    own_number                      the modem's own number: SMS sent there come back

State survives reconnections, as a modem's and a SIM's do: ``stored`` messages, report URCs
waiting for the next connection, the message reference counter. For assertions: ``commands``
(every command line received, numbers included: test-only), ``sent`` ((number, text) per SMS),
``deleted`` (indexes deleted with AT+CMGD), ``cancelled`` (text entries ended with ESC). Every
serving loop is bounded in time (``MAX_SERVE_SECONDS``) and stops when its ``with`` block ends.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
import tty
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

MAX_SERVE_SECONDS = 60.0
TICK = 0.01
JOIN_TIMEOUT = 2.0
MAX_INPUT_BYTES = 1 << 16
FLOOD_CHUNK = b"\x00\xffNOISE" * 512
DEFAULT_GARBAGE = b"\x00\x07\xfe\xff~~\r\n" + b"Z" * 3000 + b"\r\n"
SCTS = '"26/11/21,10:00:04+24"'


@dataclass
class Script:
    sim: str = "READY"
    cfun: int = 1
    creg: int = 1
    cgreg: int = 1
    cereg: int = 1
    cell_ids: bool = False
    operator: str = "40101"
    act: int = 7
    rssi: int = 20
    cms_error: int | None = None
    prompt: bool = True
    answer_submit: bool = True
    delivery: str = "delivered"
    delivery_delay: float = 0.05
    late_delay: float = 1.0
    echo: bool = False
    reply_delay: float = 0.0
    garbage: bytes = b""
    flood: bool = False
    silent: bool = False
    stored: list[str] = field(default_factory=list)
    own_number: str = "+77001234567"


@dataclass
class Stored:
    stat: str
    sender: str
    text: str


class FakeModem:
    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self.commands: list[str] = []
        self.sent: list[tuple[str, str]] = []
        self.deleted: list[int] = []
        self.cancelled = 0
        self.messages: dict[int, Stored] = {}
        for text in self.script.stored:
            self._store("+77009998877", text)
        self._echo = True
        self._mr = 0
        self._input = bytearray()
        self._text_mode_number: str | None = None
        self._out: list[tuple[float, bytes]] = []
        self._timers: list[tuple[float, str, int, str, str]] = []
        self._held_urcs: list[str] = []
        self._connected = False
        self._first_command = False
        self._spoken_to = False

    # --- state ----------------------------------------------------------------------------
    def _store(self, sender: str, text: str) -> int:
        index = next(i for i in range(1, 1000) if i not in self.messages)
        self.messages[index] = Stored("REC UNREAD", sender, text)
        return index

    def _send(self, data: bytes, delay: float = 0.0) -> None:
        if self.script.silent:
            return
        due = time.monotonic() + delay + self.script.reply_delay
        self._out.append((due, data))

    def _answer(self, *lines: str) -> None:
        body = b"".join(b"\r\n" + line.encode() + b"\r\n" for line in lines)
        self._send(self.script.garbage + body)

    def _urc(self, line: str) -> None:
        if self._connected:
            self._out.append((time.monotonic(), b"\r\n" + line.encode() + b"\r\n"))
        else:
            self._held_urcs.append(line)

    # --- connection events ----------------------------------------------------------------
    def connected(self) -> None:
        self._connected, self._first_command = True, True
        self._input.clear()
        self._text_mode_number = None

    def disconnected(self) -> None:
        self._connected = False
        self._out.clear()

    # --- input ----------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        self._spoken_to = True
        self._input += data
        del self._input[:-MAX_INPUT_BYTES]
        while True:
            if self._text_mode_number is not None:
                end = min((i for i in (self._input.find(b"\x1a"), self._input.find(b"\x1b")) if i >= 0), default=-1)
                if end < 0:
                    return
                text, cancelled = bytes(self._input[:end]).decode("ascii", "replace"), self._input[end] == 0x1B
                del self._input[: end + 1]
                number, self._text_mode_number = self._text_mode_number, None
                if self.script.echo:
                    self._send(text.encode() + b"\x1a")
                if cancelled:
                    self.cancelled += 1
                else:
                    self._submitted(number, text)
                continue
            end = self._input.find(b"\r")
            if end < 0:
                return
            line = bytes(self._input[:end]).decode("ascii", "replace").strip()
            del self._input[: end + 1]
            if line:
                self.commands.append(line)
                if self._echo or self.script.echo:
                    self._send(line.encode() + b"\r")
                try:
                    self._command(line)
                except (ValueError, KeyError, StopIteration):
                    self._answer("ERROR")  # a malformed command: a modem says so, it does not crash
                if self._first_command:
                    self._first_command = False
                    for urc in self._held_urcs:
                        self._send(b"\r\n" + urc.encode() + b"\r\n")
                    self._held_urcs.clear()

    def _command(self, line: str) -> None:
        s = self.script
        upper = line.upper()
        if upper in ("AT", "AT+CMEE=1", "AT+COPS=3,2", "AT+CMGF=1") or upper.startswith(("AT+CSMP=", "AT+CNMI=")):
            self._answer("OK")
        elif upper in ("ATE0", "ATE1"):
            self._echo = upper == "ATE1"
            self._answer("OK")
        elif upper == "AT+CPIN?":
            self._answer("+CME ERROR: 10") if s.sim == "NOT_INSERTED" else self._answer(f"+CPIN: {s.sim}", "OK")
        elif upper == "AT+CFUN?":
            self._answer(f"+CFUN: {s.cfun}", "OK")
        elif upper in ("AT+CREG?", "AT+CGREG?", "AT+CEREG?"):
            name = upper[2:-1]
            stat = {"+CREG": s.creg, "+CGREG": s.cgreg, "+CEREG": s.cereg}[name]
            value = f'2,{stat},"1A2B","01C3D4E5",7' if s.cell_ids else f"0,{stat}"
            self._answer(f"{name}: {value}", "OK")
        elif upper == "AT+COPS?":
            self._answer(f'+COPS: 0,2,"{s.operator}",{s.act}', "OK")
        elif upper == "AT+CSQ":
            self._answer(f"+CSQ: {s.rssi},99", "OK")
        elif upper.startswith("AT+CMGS="):
            self._text_mode_number = line.split("=", 1)[1].strip('"')
            if s.prompt:
                self._send(s.garbage + b"\r\n> ")
        elif upper.startswith("AT+CMGL"):
            lines: list[str] = []
            for index, listed in sorted(self.messages.items()):
                lines += [f'+CMGL: {index},"{listed.stat}","{listed.sender}",,{SCTS}', listed.text]
                listed.stat = "REC READ"
            self._answer(*lines, "OK")
        elif upper.startswith("AT+CMGR="):
            message = self.messages.get(int(upper[8:] or 0))
            if message is None:
                self._answer("+CMS ERROR: 321")
            else:
                self._answer(f'+CMGR: "{message.stat}","{message.sender}",,{SCTS}', message.text, "OK")
                message.stat = "REC READ"
        elif upper.startswith("AT+CMGD="):
            index = int(upper[8:].split(",")[0] or 0)
            self.messages.pop(index, None)
            self.deleted.append(index)
            self._answer("OK")
        else:
            self._answer("ERROR")

    def _submitted(self, number: str, text: str) -> None:
        s = self.script
        self.sent.append((number, text))
        if s.cms_error is not None:
            self._answer(f"+CMS ERROR: {s.cms_error}")
            return
        if not s.answer_submit:
            return
        self._mr = (self._mr + 1) % 256
        self._answer(f"+CMGS: {self._mr}", "OK")
        delay = s.late_delay if s.delivery == "late" else s.delivery_delay
        if s.delivery != "never":
            self._timers.append((time.monotonic() + delay, s.delivery, self._mr, number, text))

    def tick(self, now: float) -> None:
        for timer in [t for t in self._timers if t[0] <= now]:
            self._timers.remove(timer)
            _, delivery, mr, number, text = timer
            st = 0x41 if delivery == "failed" else 0
            if delivery != "receipt_only":
                self._urc(f'+CDS: 6,{mr},"{number}",145,{SCTS},{SCTS},{st}')
            if number == self.script.own_number and delivery != "failed":
                index = self._store(number, text)
                self._urc(f'+CMTI: "SM",{index}')
        if self.script.flood and self._spoken_to and self._connected and len(self._out) < 16:
            self._out.append((now, FLOOD_CHUNK))

    def due(self, now: float) -> bytes:
        ready = [item for item in self._out if item[0] <= now]
        self._out = [item for item in self._out if item[0] > now]
        return b"".join(data for _, data in ready)

    # --- transports -----------------------------------------------------------------------
    @contextmanager
    def serve_socket(self) -> Iterator[str]:
        """One connection at a time on 127.0.0.1; yields the pyserial URL."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.setblocking(False)
        stop = threading.Event()

        def loop() -> None:
            conn: socket.socket | None = None
            pending = b""
            end = time.monotonic() + MAX_SERVE_SECONDS
            while not stop.is_set() and time.monotonic() < end:
                watch = [conn] if conn is not None else [listener]
                readable, _, _ = select.select(watch, [], [], TICK)
                if conn is None and readable:
                    with suppress(BlockingIOError):
                        conn, _ = listener.accept()
                        conn.setblocking(False)
                        self.connected()
                elif conn is not None and readable:
                    try:
                        data = conn.recv(65536)
                    except (BlockingIOError, InterruptedError):
                        data = None
                    except OSError:
                        data = b""
                    if data == b"":
                        conn.close()
                        conn, pending = None, b""
                        self.disconnected()
                    elif data:
                        self.feed(data)
                now = time.monotonic()
                self.tick(now)
                pending += self.due(now)
                if conn is not None and pending:
                    try:
                        pending = pending[conn.send(pending) :]
                    except BlockingIOError:
                        pass
                    except OSError:
                        conn.close()
                        conn, pending = None, b""
                        self.disconnected()
            if conn is not None:
                conn.close()

        thread = threading.Thread(target=loop, name="fakemodem-socket", daemon=True)
        thread.start()
        try:
            yield f"socket://127.0.0.1:{listener.getsockname()[1]}"
        finally:
            stop.set()
            thread.join(JOIN_TIMEOUT)
            listener.close()

    @contextmanager
    def serve_pty(self) -> Iterator[str]:
        """A pseudo-terminal in raw mode; yields the path the probe opens."""
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        path = os.ttyname(slave)
        stop = threading.Event()
        self.connected()

        def loop() -> None:
            pending = b""
            end = time.monotonic() + MAX_SERVE_SECONDS
            while not stop.is_set() and time.monotonic() < end:
                readable, _, _ = select.select([master], [], [], TICK)
                if readable:
                    with suppress(BlockingIOError, OSError):
                        self.feed(os.read(master, 65536))
                now = time.monotonic()
                self.tick(now)
                pending += self.due(now)
                if pending:
                    with suppress(BlockingIOError, OSError):
                        pending = pending[os.write(master, pending) :]
                    pending = pending[-(1 << 20) :]

        thread = threading.Thread(target=loop, name="fakemodem-pty", daemon=True)
        thread.start()
        try:
            yield path
        finally:
            stop.set()
            thread.join(JOIN_TIMEOUT)
            os.close(master)
            os.close(slave)
