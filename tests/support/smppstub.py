"""A small SMSC stub speaking SMPP 3.4 on 127.0.0.1 (not a test module).

Its PDUs are written here by hand, independently of ``probe.sms.smpp_pdu``, so that a bug in the
probe's codec is not mirrored by the stub::

    with running_smsc(SMSCScript(receipt="DELIVRD")) as smsc:
        smsc.address        # "127.0.0.1:<port>", the experiment's input
        smsc.submitted      # [(destination_addr, registered_delivery, text)] per submit_sm
        smsc.received       # names of every PDU received ("bind_transceiver", "submit_sm", ...)

``SMSCScript``:

    system_id, password   the account accepted; any other gets bind_transceiver_resp 0x0E (ESME_RINVPASWD)
    answer_bind           False: never answer the bind (an SMSC that hangs, or a middlebox)
    submit_status         submit_sm_resp's command_status (0: accepted, e.g. 0x45 ESME_RSUBMITFAIL)
    receipt               the receipt's "stat:" (DELIVRD, UNDELIV, ...), None for no receipt at all
    receipt_delay         seconds after the submission
    decimal_receipt_id    the receipt names the message id in decimal (as many SMSCs do), not hex
    queued_receipts       (message_id, stat) receipts delivered right after the next bind, as an SMSC
                          does with receipts it could not deliver to an earlier session

A receipt that is not yet due when its session ends is queued for the next bind, too. Every
loop is bounded in time (``MAX_SERVE_SECONDS``); everything stops when the ``with`` block ends.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

MAX_SERVE_SECONDS = 30.0
POLL = 0.01
JOIN_TIMEOUT = 2.0

NAMES = {
    0x80000000: "generic_nack",
    0x00000009: "bind_transceiver",
    0x00000004: "submit_sm",
    0x00000005: "deliver_sm",
    0x80000005: "deliver_sm_resp",
    0x00000006: "unbind",
    0x00000015: "enquire_link",
    0x80000015: "enquire_link_resp",
}
ESME_RINVPASWD = 0x0E
ESME_RINVCMDID = 0x03


@dataclass
class SMSCScript:
    system_id: str = "probe"
    password: str = "secret"
    answer_bind: bool = True
    submit_status: int = 0
    receipt: str | None = "DELIVRD"
    receipt_delay: float = 0.05
    decimal_receipt_id: bool = False
    queued_receipts: list[tuple[str, str]] = field(default_factory=list)


def _pdu(command_id: int, status: int, sequence: int, body: bytes = b"") -> bytes:
    return struct.pack("!IIII", 16 + len(body), command_id, status, sequence) + body


def _cstrings(body: bytes, count: int, at: int = 0) -> tuple[list[bytes], int]:
    values = []
    for _ in range(count):
        end = body.index(b"\x00", at)
        values.append(body[at:end])
        at = end + 1
    return values, at


def _receipt_body(message_id: str, stat: str) -> bytes:
    text = f"id:{message_id} sub:001 dlvrd:001 submit date:2611211000 done date:2611211000 stat:{stat} err:000 text:"
    body = b"\x00" + b"\x01\x01+77001234567\x00" + b"\x01\x01probe\x00"
    body += bytes([0x04, 0, 0]) + b"\x00\x00" + bytes([0, 0, 0, 0, len(text)]) + text.encode()
    return body


@dataclass
class SMSC:
    script: SMSCScript
    port: int = 0
    received: list[str] = field(default_factory=list)
    submitted: list[tuple[str, int, str]] = field(default_factory=list)
    queued: list[tuple[str, str]] = field(default_factory=list)
    _ids: int = 0x1F00

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def serve(self, conn: socket.socket, stop: threading.Event) -> None:
        conn.settimeout(POLL)
        buf = b""
        sequence = 1000
        bound = False
        due: list[tuple[float, str, str]] = []
        end = time.monotonic() + MAX_SERVE_SECONDS
        try:
            while not stop.is_set() and time.monotonic() < end:
                for item in [d for d in due if d[0] <= time.monotonic()]:
                    due.remove(item)
                    sequence += 1
                    conn.sendall(_pdu(0x00000005, 0, sequence, _receipt_body(item[1], item[2])))
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    return
                buf += data
                while len(buf) >= 16:
                    length, command_id, _, seq = struct.unpack("!IIII", buf[:16])
                    if len(buf) < length:
                        break
                    body, buf = buf[16:length], buf[length:]
                    self.received.append(NAMES.get(command_id, hex(command_id)))
                    if command_id == 0x00000009:
                        if not self.script.answer_bind:
                            continue
                        (system_id, password), _ = _cstrings(body, 2)
                        ok = (system_id.decode(), password.decode()) == (self.script.system_id, self.script.password)
                        conn.sendall(_pdu(0x80000009, 0 if ok else ESME_RINVPASWD, seq, b"stub\x00"))
                        bound = ok
                        if ok:
                            for message_id, stat in self.queued:
                                due.append((0.0, message_id, stat))
                            self.queued.clear()
                    elif command_id == 0x00000004 and bound:
                        # service_type, ton, npi, source_addr, ton, npi, destination_addr, esm_class,
                        # protocol_id, priority_flag, two times, registered_delivery, 3 bytes, sm_length
                        _, at = _cstrings(body, 1)
                        _, at = _cstrings(body, 1, at + 2)
                        (destination,), at = _cstrings(body, 1, at + 2)
                        _, at = _cstrings(body, 2, at + 3)
                        registered_delivery = body[at]
                        length_sm = body[at + 4]
                        text = body[at + 5 : at + 5 + length_sm].decode("ascii", "replace")
                        self.submitted.append((destination.decode(), registered_delivery, text))
                        if self.script.submit_status:
                            conn.sendall(_pdu(0x80000004, self.script.submit_status, seq, b""))
                            continue
                        number = self._next_id()
                        conn.sendall(_pdu(0x80000004, 0, seq, f"{number:x}".encode() + b"\x00"))
                        if self.script.receipt is not None:
                            shown = str(number) if self.script.decimal_receipt_id else f"{number:x}"
                            due.append((time.monotonic() + self.script.receipt_delay, shown, self.script.receipt))
                    elif command_id == 0x00000015:
                        conn.sendall(_pdu(0x80000015, 0, seq))
                    elif command_id == 0x00000006:
                        conn.sendall(_pdu(0x80000006, 0, seq))
                        return
                    elif command_id & 0x80000000:
                        pass  # a response (deliver_sm_resp): nothing to answer
                    else:
                        conn.sendall(_pdu(0x80000000, ESME_RINVCMDID, seq))
        finally:
            # Receipts this session did not get wait for the next bind, as at a real SMSC.
            self.queued.extend((message_id, stat) for _, message_id, stat in due)


@contextmanager
def running_smsc(script: SMSCScript | None = None) -> Iterator[SMSC]:
    smsc = SMSC(script or SMSCScript())
    smsc.queued.extend(smsc.script.queued_receipts)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(POLL * 5)
    smsc.port = listener.getsockname()[1]
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def accept_loop() -> None:
        end = time.monotonic() + MAX_SERVE_SECONDS
        while not stop.is_set() and time.monotonic() < end:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return

            def serve(conn: socket.socket = conn) -> None:
                with conn, suppress(OSError):
                    smsc.serve(conn, stop)

            thread = threading.Thread(target=serve, name="smsc-conn", daemon=True)
            threads.append(thread)
            thread.start()

    accepter = threading.Thread(target=accept_loop, name="smsc-accept", daemon=True)
    accepter.start()
    try:
        yield smsc
    finally:
        stop.set()
        accepter.join(JOIN_TIMEOUT)
        listener.close()
        for thread in threads:
            thread.join(JOIN_TIMEOUT)
