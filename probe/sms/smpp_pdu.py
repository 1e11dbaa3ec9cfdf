"""The few SMPP 3.4 PDUs the SMPP back-end needs, encoded and decoded by hand.

A PDU is a 16-byte header (command_length, command_id, command_status, sequence_number, all
big-endian) and a body of C-octet strings (NUL-terminated) and integers. Only what a bind, a
submission with a delivery receipt and keeping the link alive need is here; every other PDU is
kept as its header and raw body. Decoding never trusts a length: ``PDUError`` on anything short.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from probe.errors import ProbeError

HEADER = struct.Struct("!IIII")
HEADER_BYTES = HEADER.size

GENERIC_NACK = 0x80000000
BIND_TRANSCEIVER = 0x00000009
BIND_TRANSCEIVER_RESP = 0x80000009
SUBMIT_SM = 0x00000004
SUBMIT_SM_RESP = 0x80000004
DELIVER_SM = 0x00000005
DELIVER_SM_RESP = 0x80000005
UNBIND = 0x00000006
UNBIND_RESP = 0x80000006
ENQUIRE_LINK = 0x00000015
ENQUIRE_LINK_RESP = 0x80000015

NAMES = {
    GENERIC_NACK: "generic_nack",
    BIND_TRANSCEIVER: "bind_transceiver",
    BIND_TRANSCEIVER_RESP: "bind_transceiver_resp",
    SUBMIT_SM: "submit_sm",
    SUBMIT_SM_RESP: "submit_sm_resp",
    DELIVER_SM: "deliver_sm",
    DELIVER_SM_RESP: "deliver_sm_resp",
    UNBIND: "unbind",
    UNBIND_RESP: "unbind_resp",
    ENQUIRE_LINK: "enquire_link",
    ENQUIRE_LINK_RESP: "enquire_link_resp",
}

INTERFACE_VERSION = 0x34
ESM_CLASS_RECEIPT = 0x04
"""esm_class bit set on a deliver_sm that is an SMSC delivery receipt."""
REGISTERED_DELIVERY_FINAL = 0x01
TON_INTERNATIONAL, TON_ALPHANUMERIC, NPI_ISDN = 0x01, 0x05, 0x01
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_MESSAGE_STATE = 0x0427

_RECEIPT_ID = re.compile(r"\bid:(\S+)", re.IGNORECASE)
_RECEIPT_STAT = re.compile(r"\bstat:(\w+)", re.IGNORECASE)
# message_state TLV values (SMPP 3.4 5.2.28) as receipt "stat:" words.
_MESSAGE_STATES = {1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 6: "ACCEPTD", 8: "REJECTD"}


class PDUError(ProbeError):
    """Bytes that are not the SMPP PDU they claim to be."""


@dataclass(frozen=True)
class PDU:
    command_id: int
    status: int
    sequence: int
    body: bytes = b""

    @property
    def name(self) -> str:
        return NAMES.get(self.command_id, f"0x{self.command_id:08x}")

    def encode(self) -> bytes:
        return HEADER.pack(HEADER_BYTES + len(self.body), self.command_id, self.status, self.sequence) + self.body


def parse_header(data: bytes) -> tuple[int, int, int, int]:
    """(command_length, command_id, command_status, sequence_number) of a 16-byte header."""
    if len(data) != HEADER_BYTES:
        raise PDUError("short SMPP header")
    length, command_id, status, sequence = HEADER.unpack(data)
    return int(length), int(command_id), int(status), int(sequence)


def cstring(value: str | bytes, limit: int) -> bytes:
    raw = value.encode("ascii", errors="replace") if isinstance(value, str) else value
    return raw[: limit - 1] + b"\x00"


class _Body:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.at = 0

    def cstring(self) -> bytes:
        end = self.body.find(b"\x00", self.at)
        if end < 0:
            raise PDUError("unterminated C-octet string")
        value = self.body[self.at : end]
        self.at = end + 1
        return value

    def byte(self) -> int:
        if self.at >= len(self.body):
            raise PDUError("PDU body too short")
        self.at += 1
        return self.body[self.at - 1]

    def octets(self, n: int) -> bytes:
        if self.at + n > len(self.body):
            raise PDUError("PDU body too short")
        self.at += n
        return self.body[self.at - n : self.at]

    def tlvs(self) -> dict[int, bytes]:
        found: dict[int, bytes] = {}
        while self.at + 4 <= len(self.body):
            tag, length = struct.unpack("!HH", self.octets(4))
            found[tag] = self.octets(length)
        return found


def bind_transceiver(sequence: int, system_id: str, password: str, system_type: str) -> PDU:
    body = cstring(system_id, 16) + cstring(password, 9) + cstring(system_type, 13)
    body += bytes([INTERFACE_VERSION, 0, 0]) + cstring("", 41)
    return PDU(BIND_TRANSCEIVER, 0, sequence, body)


def _address_ton(address: str) -> int:
    return TON_INTERNATIONAL if address.lstrip("+").isdigit() else TON_ALPHANUMERIC


def submit_sm(sequence: int, source: str, destination: str, text: str) -> PDU:
    """A text SMS (GSM default alphabet, data_coding 0) asking for a final delivery receipt."""
    message = text.encode("ascii", errors="replace")[:254]
    body = cstring("", 6)
    body += bytes([_address_ton(source) if source else 0, NPI_ISDN if source else 0]) + cstring(source.lstrip("+"), 21)
    body += bytes([TON_INTERNATIONAL, NPI_ISDN]) + cstring(destination.lstrip("+"), 21)
    body += bytes([0, 0, 0]) + cstring("", 17) + cstring("", 17)  # esm_class, protocol_id, priority; times
    body += bytes([REGISTERED_DELIVERY_FINAL, 0, 0, 0, len(message)]) + message
    return PDU(SUBMIT_SM, 0, sequence, body)


def response(request: PDU, body: bytes = b"\x00", status: int = 0) -> PDU:
    """The ``*_resp`` to ``request`` (deliver_sm_resp, enquire_link_resp...): same sequence number."""
    return PDU(request.command_id | GENERIC_NACK, status, request.sequence, body)


def message_id(pdu: PDU) -> str:
    """The message_id of a submit_sm_resp (empty when the SMSC refused)."""
    if not pdu.body:
        return ""
    return _Body(pdu.body).cstring().decode("ascii", errors="replace")


@dataclass(frozen=True)
class Deliver:
    """A deliver_sm: a delivery receipt (``receipt``) or a message. Addresses are not kept."""

    receipt: bool
    text: str
    receipted_id: str | None
    stat: str | None


def parse_deliver_sm(pdu: PDU) -> Deliver:
    body = _Body(pdu.body)
    body.cstring()  # service_type
    body.octets(2)
    body.cstring()  # source_addr: a number, dropped here
    body.octets(2)
    body.cstring()  # destination_addr: likewise
    esm_class = body.byte()
    body.octets(2)
    body.cstring()  # schedule_delivery_time
    body.cstring()  # validity_period
    body.octets(4)  # registered_delivery, replace_if_present, data_coding, sm_default_msg_id
    length = body.byte()
    text = body.octets(length).decode("latin-1")
    tlvs = body.tlvs()
    receipt = bool(esm_class & ESM_CLASS_RECEIPT)
    receipted_id: str | None = None
    stat: str | None = None
    if receipt:
        if TLV_RECEIPTED_MESSAGE_ID in tlvs:
            receipted_id = tlvs[TLV_RECEIPTED_MESSAGE_ID].rstrip(b"\x00").decode("ascii", errors="replace")
        elif match := _RECEIPT_ID.search(text):
            receipted_id = match.group(1)
        if tlvs.get(TLV_MESSAGE_STATE):
            stat = _MESSAGE_STATES.get(tlvs[TLV_MESSAGE_STATE][0], "UNKNOWN")
        elif match := _RECEIPT_STAT.search(text):
            stat = match.group(1).upper()
    return Deliver(receipt, text, receipted_id, stat)
