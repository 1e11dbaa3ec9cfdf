"""The SMPP back-end: can the SMSC be reached, and does an SMS submitted there get delivered?

Input ``host:port`` (SMPP is usually on 2775). Method:

1. (The experiment's part.) DNS through the configured resolvers, TCP connect to each address
   until one accepts, TLS with the host as SNI if ``[sms.smpp] tls``. A failure here is
   ``gateway_unreachable`` with the stage (dns/tcp/tls) and OONI's failure string.
2. Without an account (``system_id`` empty) that is all: an ``enquire_link`` is sent and the
   answer recorded (``smpp_answer``: a real SMSC answers with an SMPP PDU, a middlebox that
   accepts every connection does not), and the conclusion is ``gateway_reachable``.
3. ``bind_transceiver``: no answer or a closed connection is ``gateway_unreachable`` at stage
   ``smpp``; a refusal (bad credentials) is ``probe_fault``.
4. ``submit_sm`` with ``registered_delivery=1`` and the nonce in the text: an error status is
   ``sms_submit_rejected`` (``smpp_status``); ``submit_sm_resp`` with a message id is acceptance.
5. Wait, at most ``receipt_timeout`` (``enquire_link`` every ``enquire_link_interval``), for the
   ``deliver_sm`` receipt with our message id: ``stat:DELIVRD`` is ``sms_ok``; UNDELIV, EXPIRED,
   REJECTD... or nothing in time is ``accepted_not_delivered``. Receipts for other ids (SMSCs
   queue undelivered receipts for the next bind) are late events of earlier measurements.

Known false positives: receipts are the SMSC's word; some SMSCs send none (or only on error).
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
from collections.abc import Callable

from pydantic import Field, SecretStr

from probe.addresses import split_host_port
from probe.config import SMS_LABEL_PATTERN, BackendSection, Config, Seconds, SMSRecipient, SMSSection
from probe.failures import EOF_ERROR, TIMEOUT, MeasuredFailure, classify
from probe.model import utc_now_iso
from probe.model.sms import LocalEvent, SMSTestKeys, find_nonce, message_text, new_nonce
from probe.net._deadline import Deadline
from probe.sms import conclusion, smpp_pdu
from probe.sms.backend import Backend, SMSNetwork, SMSTarget
from probe.sms.smpp_pdu import PDU, PDUError

ANSWER_WAIT = 2.0
"""Seconds to wait for an answer to the unbound enquire_link of a reachability check."""
UNBIND_WAIT = 1.0
_RECV_BYTES = 65536


class SMPPSection(BackendSection):
    """``[sms.smpp]``."""

    system_id: str = Field("", max_length=15, description="SMPP account; empty: a TCP/TLS reachability check only.")
    password: SecretStr = Field(SecretStr(""), description="SMPP password (at most 8 characters).")
    system_type: str = Field("", max_length=12, description="SMPP system_type, if the SMSC wants one.")
    source_addr: SecretStr = Field(SecretStr(""), description="Sender address (may be a number: never stored).")
    recipient: str = Field("self-loop", description="Label in [sms.recipients] the SMS is sent to.")
    tls: bool = Field(False, description="Speak SMPP over TLS (the SMSC's name is the SNI).")
    bind_timeout: Seconds = Field(10.0, description="Seconds to wait for bind_transceiver_resp.")
    submit_timeout: Seconds = Field(10.0, description="Seconds to wait for submit_sm_resp.")
    receipt_timeout: Seconds = Field(120.0, description="Seconds to wait for the delivery receipt (deliver_sm).")
    enquire_link_interval: Seconds = Field(30.0, description="Seconds between enquire_link while waiting.")
    max_pdu_bytes: int = Field(65536, ge=64, le=1 << 20, description="Larger PDUs are a protocol error.")

    def recipient_label(self) -> str:
        return self.recipient


class SMPPLink:
    """PDUs over a connected socket; every read bounded by a deadline and ``max_pdu_bytes``."""

    def __init__(self, sock: socket.socket, max_pdu_bytes: int) -> None:
        self.sock = sock
        self.max_pdu = max_pdu_bytes
        self._buf = bytearray()
        self._sequence = 0

    def next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def send(self, pdu: PDU, deadline: Deadline) -> None:
        try:
            self.sock.settimeout(max(deadline.remaining(), 0.001))
            self.sock.sendall(pdu.encode())
        except OSError as exc:
            raise MeasuredFailure(classify(exc)) from None

    def _parse(self) -> PDU | None:
        if len(self._buf) < smpp_pdu.HEADER_BYTES:
            return None
        length, command_id, status, sequence = smpp_pdu.parse_header(bytes(self._buf[: smpp_pdu.HEADER_BYTES]))
        if not smpp_pdu.HEADER_BYTES <= length <= self.max_pdu:
            raise PDUError(f"SMPP command_length {length} out of bounds")
        if len(self._buf) < length:
            return None
        body = bytes(self._buf[smpp_pdu.HEADER_BYTES : length])
        del self._buf[:length]
        return PDU(command_id, status, sequence, body)

    def read(self, deadline: Deadline) -> PDU | None:
        """The next PDU, or None when the deadline passes first."""
        while True:
            pdu = self._parse()
            if pdu is not None:
                return pdu
            left = deadline.remaining()
            if left <= 0:
                return None
            try:
                self.sock.settimeout(left)
                data = self.sock.recv(_RECV_BYTES)
            except TimeoutError:
                return None
            except OSError as exc:
                raise MeasuredFailure(classify(exc)) from None
            if not data:
                raise MeasuredFailure(EOF_ERROR)
            self._buf += data


def _same_id(ours: str, theirs: str) -> bool:
    """Receipt ids are often the decimal form of submit_sm_resp's hexadecimal id."""
    if ours.lower() == theirs.lower():
        return True
    try:
        return int(ours, 16) == int(theirs, 10)
    except ValueError:
        return False


def measure(sock: socket.socket, settings: SMPPSection, recipient: SMSRecipient | None, keys: SMSTestKeys) -> None:
    """Steps 2-5 above over a connected (TCP or TLS) socket, which is closed here; the outcome is in
    ``keys``. Never raises for what the network or the SMSC does."""
    link = SMPPLink(sock, settings.max_pdu_bytes)
    try:
        if not settings.system_id or recipient is None:
            _reachability(link, keys)
        else:
            _Session(link, settings, recipient, keys).run()
    except PDUError as exc:
        keys.conclude("gateway_unreachable", f"unknown_failure smpp_protocol_error ({exc})", "smpp")
    finally:
        sock.close()


def _reachability(link: SMPPLink, keys: SMSTestKeys) -> None:
    deadline = Deadline(ANSWER_WAIT)
    try:
        link.send(PDU(smpp_pdu.ENQUIRE_LINK, 0, link.next_sequence()), deadline)
        answer = link.read(deadline)
        keys.smpp_answer = answer.name if answer is not None else TIMEOUT
    except MeasuredFailure as exc:
        keys.smpp_answer = exc.failure
    except PDUError:
        keys.smpp_answer = "unknown_failure smpp_protocol_error"
    keys.conclude("gateway_reachable", "tcp/tls reachability only (no SMPP account configured)")


class _Session:
    def __init__(self, link: SMPPLink, settings: SMPPSection, recipient: SMSRecipient, keys: SMSTestKeys) -> None:
        self.link = link
        self.settings = settings
        self.recipient = recipient
        self.keys = keys
        self.message_id: str | None = None
        self.accepted_at = 0.0
        self.last_sent = time.monotonic()

    def run(self) -> None:
        keys = self.keys
        try:
            if not self._bind():
                return
        except MeasuredFailure as exc:
            keys.conclude("gateway_unreachable", exc.failure, "smpp")
            return
        try:
            if not self._submit():
                return
            self._await_receipt()
        except MeasuredFailure as exc:
            if self.message_id is None:
                keys.send_result = "timeout" if exc.failure == TIMEOUT else None
                keys.conclude("gateway_unreachable", exc.failure, "smpp")
                return
            keys.conclude("accepted_not_delivered", f"the SMSC link failed before the receipt: {exc.failure}")
            return
        keys.conclude(*conclusion.delivery_conclusion(keys.report_status, keys.nonce_matched))
        self._unbind()

    def _request(self, pdu: PDU, timeout: float, *, until: Callable[[PDU], bool] | None = None) -> PDU:
        """Send ``pdu`` and return the response with its sequence number; handle the rest meanwhile."""
        deadline = Deadline(timeout)
        self.link.send(pdu, deadline)
        self.last_sent = time.monotonic()
        while True:
            answer = self.link.read(deadline)
            if answer is None:
                raise MeasuredFailure(TIMEOUT)
            if answer.sequence == pdu.sequence and answer.command_id & smpp_pdu.GENERIC_NACK:
                return answer
            self._unsolicited(answer, deadline)

    def _bind(self) -> bool:
        s = self.settings
        pdu = smpp_pdu.bind_transceiver(
            self.link.next_sequence(), s.system_id, s.password.get_secret_value(), s.system_type
        )
        answer = self._request(pdu, s.bind_timeout)
        if answer.status != 0 or answer.command_id != smpp_pdu.BIND_TRANSCEIVER_RESP:
            self.keys.smpp_status = answer.status
            self.keys.conclude("probe_fault", f"bind refused: {answer.name} status 0x{answer.status:08x}")
            return False
        return True

    def _submit(self) -> bool:
        keys, s = self.keys, self.settings
        nonce = new_nonce()
        keys.local.backend, keys.local.nonce = "smpp", nonce
        pdu = smpp_pdu.submit_sm(
            self.link.next_sequence(),
            s.source_addr.get_secret_value(),
            self.recipient.number.get_secret_value(),
            message_text(nonce),
        )
        started = time.monotonic()
        answer = self._request(pdu, s.submit_timeout)
        keys.smpp_status = answer.status
        if answer.command_id == smpp_pdu.GENERIC_NACK:
            keys.send_result = "error"
            keys.conclude("probe_fault", f"the SMSC could not parse submit_sm (status 0x{answer.status:08x})")
            return False
        if answer.status != 0:
            keys.send_result = "rejected"
            keys.conclude("sms_submit_rejected", f"submit_sm_resp status 0x{answer.status:08x}")
            return False
        self.accepted_at = time.monotonic()
        keys.submit_latency = round(self.accepted_at - started, 3)
        keys.send_result = "ok"
        self.message_id = smpp_pdu.message_id(answer)
        keys.message_ref_received = bool(self.message_id)
        keys.local.message_ref, keys.local.sent_at = self.message_id, utc_now_iso()
        return True

    def _await_receipt(self) -> None:
        deadline = Deadline(self.settings.receipt_timeout)
        while not self._done():
            if time.monotonic() - self.last_sent >= self.settings.enquire_link_interval:
                self.link.send(PDU(smpp_pdu.ENQUIRE_LINK, 0, self.link.next_sequence()), deadline)
                self.last_sent = time.monotonic()
            wait = Deadline(min(deadline.remaining(), self.settings.enquire_link_interval))
            answer = self.link.read(wait)
            if answer is not None:
                self._unsolicited(answer, deadline)
            elif deadline.remaining() <= 0:
                return

    def _done(self) -> bool:
        return self.keys.nonce_matched or self.keys.report_status in ("delivered", "failed")

    def _latency(self) -> float:
        return round(time.monotonic() - self.accepted_at, 3)

    def _unsolicited(self, pdu: PDU, deadline: Deadline) -> None:
        if pdu.command_id == smpp_pdu.ENQUIRE_LINK:
            self.link.send(smpp_pdu.response(pdu, b""), deadline)
        elif pdu.command_id == smpp_pdu.DELIVER_SM:
            self.link.send(smpp_pdu.response(pdu), deadline)
            self._deliver(smpp_pdu.parse_deliver_sm(pdu))
        # Anything else (enquire_link_resp, a late response): nothing to do.

    def _deliver(self, deliver: smpp_pdu.Deliver) -> None:
        keys = self.keys
        if deliver.receipt:
            status = conclusion.smpp_receipt(deliver.stat or "UNKNOWN")
            ours = self.message_id and deliver.receipted_id and _same_id(self.message_id, deliver.receipted_id)
            if ours:
                latency = self._latency()
                keys.report_status, keys.report_code, keys.report_latency = status, deliver.stat, latency
                keys.local.events.append(LocalEvent("report", status, deliver.stat, latency=latency))
            else:
                keys.add_late(LocalEvent("report", status, deliver.stat, message_ref=deliver.receipted_id))
            return
        nonce = find_nonce(deliver.text)
        if nonce is None:
            return
        if nonce == keys.local.nonce:
            latency = self._latency()
            keys.nonce_matched, keys.receipt_latency = True, latency
            keys.local.events.append(LocalEvent("receipt", "delivered", None, nonce=nonce, latency=latency))
        else:
            keys.add_late(LocalEvent("receipt", "delivered", None, nonce=nonce))

    def _unbind(self) -> None:
        # The measurement is complete: a sloppy unbind changes nothing.
        with contextlib.suppress(MeasuredFailure, PDUError):
            self._request(PDU(smpp_pdu.UNBIND, 0, self.link.next_sequence()), UNBIND_WAIT)


# --- the back-end ----------------------------------------------------------------------------------------


def _split(value: str) -> tuple[str, int]:
    try:
        return split_host_port(value.removeprefix("smpp://"))
    except ValueError as exc:
        raise ValueError(f"{exc} (an SMSC is {BACKEND.form})") from None


def _check(value: str) -> str | None:
    try:
        _split(value)
    except ValueError as exc:
        return str(exc)
    return None


def _parse(value: str, sms: SMSSection) -> SMSTarget:
    host, port = _split(value)
    return SMSTarget(BACKEND.name, host=host, port=port, label=BACKEND.settings(sms).recipient)


def _measure_target(
    target: SMSTarget, config: Config, recipient: SMSRecipient | None, keys: SMSTestKeys, net: SMSNetwork
) -> None:
    settings = BACKEND.settings(config.sms)
    sock = net.connect(target.host, target.port, keys, use_tls=settings.tls)
    if sock is not None:
        measure(sock, settings, recipient, keys)


BACKEND = Backend(
    name="smpp",
    section=SMPPSection,
    prefixes=("smpp://",),
    form="smpp://HOST:PORT",
    check=_check,
    parse=_parse,
    measure=_measure_target,
    legacy=lambda value: "://" not in value and not re.match(SMS_LABEL_PATTERN, value),
)
"""``smpp://smsc.example.kz:2775`` (or a bare ``host:port``, the older form): an SMSC over SMPP."""
