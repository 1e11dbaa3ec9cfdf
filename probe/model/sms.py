"""What one SMS measurement records, and the nonce that makes its message recognisable.

``SMSTestKeys`` is exported with the measurement. ``SMSTestKeys.local`` (a private attribute,
never serialised) carries what only the local database may keep: the nonce, the message
reference and the reports and receipts seen, for ``probe.storage.schema_sms`` to store and
link at save time.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from probe.model import TestKeys, utc_now_iso

Conclusion = Literal[
    "sms_ok",
    "sms_submit_rejected",
    "radio_unavailable",
    "accepted_not_delivered",
    "gateway_unreachable",
    "gateway_reachable",
    "probe_fault",
]
Stage = str
"""Where a ``gateway_unreachable`` measurement stopped: a network step (dns, tcp, tls, http), or the back-end's
own protocol, named as the back-end (smpp): open, so that a new back-end names its protocol in its own module."""
SendResult = Literal["ok", "cms_error", "error", "timeout", "no_prompt", "rejected", "not_sent"]
DeliveryStatus = Literal["delivered", "failed", "pending"]
EventKind = Literal["report", "receipt"]

NONCE_BYTES = 8
MESSAGE_TEXT = "Test message, ref {nonce}"
"""Neutral on purpose: a keyword in the text would test keyword filtering, which is off."""
_NONCE_IN_TEXT = re.compile(r"\bref ([0-9a-f]{16})\b")


def new_nonce() -> str:
    return secrets.token_hex(NONCE_BYTES)


def message_text(nonce: str) -> str:
    return MESSAGE_TEXT.format(nonce=nonce)


def find_nonce(text: str) -> str | None:
    """The nonce in a message this probe sent, or None for anybody else's message."""
    match = _NONCE_IN_TEXT.search(text)
    return match.group(1) if match else None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Registration(_Model):
    """Registration states (3GPP 27.007 stat: 1 home, 5 roaming; 0/2/3/4 not registered)."""

    creg: int | None = None
    cgreg: int | None = None
    cereg: int | None = None

    @property
    def registered(self) -> bool:
        return any(stat in (1, 5) for stat in (self.creg, self.cgreg, self.cereg))

    @property
    def known(self) -> bool:
        return any(stat is not None for stat in (self.creg, self.cgreg, self.cereg))


class LateEvent(_Model):
    """A report or receipt of an earlier measurement, seen during this one (its link is in the database)."""

    kind: EventKind
    status: DeliveryStatus | None = None
    code: str | None = None


@dataclass
class LocalEvent:
    """A report or receipt as the local database keeps it: with the keys that link it."""

    kind: EventKind
    status: DeliveryStatus | None
    code: str | None
    nonce: str | None = None
    message_ref: str | None = None
    latency: float | None = None
    observed_at: str = field(default_factory=utc_now_iso)


@dataclass
class LocalRecords:
    backend: str | None = None
    nonce: str | None = None
    message_ref: str | None = None
    sent_at: str | None = None
    events: list[LocalEvent] = field(default_factory=list)
    """This measurement's own reports and receipts, in time."""
    late: list[LocalEvent] = field(default_factory=list)
    """Earlier measurements' reports and receipts seen now; linked by nonce or message reference."""


class SMSTestKeys(TestKeys):
    """One SMS measurement: the radio or gateway, the submission, the report and the receipt.

    Latencies are seconds from the submission's acceptance. ``failed_stage`` is set with
    ``gateway_unreachable``. ``late_events`` are earlier measurements' reports and receipts that
    arrived during this one.
    """

    backend: str
    """The back-end's name, as registered in ``probe.sms.backends``."""
    direction: str | None = None
    recipient: str | None = None
    conclusion: Conclusion = "probe_fault"
    conclusion_detail: str | None = None
    failed_stage: Stage | None = None
    # radio (at_modem)
    sim_state: str | None = None
    cfun: int | None = None
    registration: Registration | None = None
    mcc: str | None = None
    mnc: str | None = None
    radio_type: str | None = None
    signal_rssi: int | None = None
    signal_dbm: int | None = None
    # gateways
    http_status: int | None = None
    smpp_answer: str | None = None
    smpp_status: int | None = None
    # submission and delivery
    send_result: SendResult | None = None
    cms_error: int | None = None
    message_ref_received: bool = False
    submit_latency: float | None = None
    report_status: DeliveryStatus | None = None
    report_code: str | None = None
    report_latency: float | None = None
    receipt_latency: float | None = None
    nonce_matched: bool = False
    late_events: list[LateEvent] = Field(default_factory=list)
    modem_echo_lines: int = 0
    modem_garbage_lines: int = 0

    _local: LocalRecords = PrivateAttr(default_factory=LocalRecords)

    @property
    def local(self) -> LocalRecords:
        return self._local

    def conclude(self, conclusion: Conclusion, detail: str | None = None, stage: Stage | None = None) -> None:
        self.conclusion, self.conclusion_detail, self.failed_stage = conclusion, detail, stage

    def add_late(self, event: LocalEvent) -> None:
        self._local.late.append(event)
        self.late_events.append(LateEvent(kind=event.kind, status=event.status, code=event.code))
