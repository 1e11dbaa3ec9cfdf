"""From what a back-end saw to one conclusion, and from a conclusion to a verdict.

Conclusions (``SMSTestKeys.conclusion``):

    sms_ok                  delivered: a status report said so, or the nonce came back
    sms_submit_rejected     the network refused the submission (CMS error 0-127, an SMSC's error status)
    radio_unavailable       the modem is not registered on any network (CREG/CGREG/CEREG), or CMS 331
    accepted_not_delivered  accepted (message reference) but no delivery before the deadline, or a failed report
    gateway_unreachable     the SMSC or HTTP gateway could not be reached; ``failed_stage`` says where
    gateway_reachable       reachability check only (no credentials): the gateway answered
    probe_fault             the probe's side: SIM, PIN, credentials, a modem that does not answer sanely

Verdicts are conservative: operators lose up to ~5% of SMS on a normal day, so one failed SMS
is not proof of a block. A single measurement is therefore never ``blocked``: failures are
``inconclusive`` (a verdict stage with repeats, baselines and a control outside the region
decides), except ``radio_unavailable``, which is ``network_down``: the probe's own mobile
network is gone (the Zhanaozen signature, but also a dead antenna or a basement).
"""

from __future__ import annotations

from typing import Literal

from probe.model.sms import Conclusion, DeliveryStatus, Stage

Verdict = Literal["accessible", "blocked", "site_down", "network_down", "inconclusive"]

VERDICTS: dict[Conclusion, Verdict] = {
    "sms_ok": "accessible",
    "gateway_reachable": "accessible",
    "sms_submit_rejected": "inconclusive",
    "radio_unavailable": "network_down",
    "accepted_not_delivered": "inconclusive",
    "gateway_unreachable": "inconclusive",
    "probe_fault": "inconclusive",
}

CMS_NO_NETWORK_SERVICE = 331
CMS_NETWORK_TIMEOUT = 332
_NETWORK_CMS = range(0, 128)

# 3GPP 27.007 <AcT> of +COPS, as a radio generation.
_RADIO_TYPES = {0: "gsm", 1: "gsm", 2: "umts", 3: "gsm", 4: "umts", 5: "umts", 6: "umts", 7: "lte"}
_RADIO_TYPES.update({8: "gsm", 9: "lte", 10: "lte", 11: "nr", 12: "nr", 13: "lte"})

# SMPP delivery receipt "stat:" values (SMPP 3.4 appendix B).
_SMPP_STATES: dict[str, DeliveryStatus] = {
    "DELIVRD": "delivered",
    "ENROUTE": "pending",
    "ACCEPTD": "pending",
    "EXPIRED": "failed",
    "DELETED": "failed",
    "UNDELIV": "failed",
    "REJECTD": "failed",
    "UNKNOWN": "failed",
}

# Kannel delivery report types (dlr-mask bits).
KANNEL_DELIVERED, KANNEL_FAILED, KANNEL_QUEUED, KANNEL_SMSC_ACK, KANNEL_SMSC_REJECT = 1, 2, 4, 8, 16
KANNEL_DLR_MASK = 31


def verdict(conclusion: Conclusion) -> tuple[Verdict, str | None]:
    """The measurement row's ``verdict`` and ``blocking`` (OONI's: "false" when accessible, else null)."""
    result = VERDICTS[conclusion]
    return result, "false" if result == "accessible" else None


def blocking_detail(conclusion: Conclusion, stage: Stage | None) -> str:
    return f"sms:{conclusion}:{stage}" if stage else f"sms:{conclusion}"


def cms_conclusion(code: int) -> Conclusion:
    """A ``+CMS ERROR`` in answer to AT+CMGS (3GPP 27.005 3.2.5).

    0-127 are the network's (8 barred, 21 rejected, 38 network out of order, 42 congestion...):
    the network refused. 331 "no network service": no radio. 332 "network timeout": the network
    did not answer the submission, counted as a refusal. Other 3xx codes (SIM, PIN, SMSC address,
    memory) and 500 (unknown) are the probe's side.
    """
    if code in _NETWORK_CMS or code == CMS_NETWORK_TIMEOUT:
        return "sms_submit_rejected"
    if code == CMS_NO_NETWORK_SERVICE:
        return "radio_unavailable"
    return "probe_fault"


def status_report(st: int) -> DeliveryStatus:
    """TP-Status of an SMS-STATUS-REPORT (3GPP 23.040 9.2.3.15): 0x00-0x1F done, 0x20-0x3F still trying."""
    if st < 0x20:
        return "delivered"
    if st < 0x40:
        return "pending"
    return "failed"


def smpp_receipt(stat: str) -> DeliveryStatus:
    return _SMPP_STATES.get(stat.upper(), "failed")


def kannel_report(kind: int) -> DeliveryStatus:
    if kind & KANNEL_DELIVERED:
        return "delivered"
    if kind & (KANNEL_FAILED | KANNEL_SMSC_REJECT):
        return "failed"
    return "pending"


def radio_type(act: int | None) -> str | None:
    return None if act is None else _RADIO_TYPES.get(act, f"act{act}")


def signal_dbm(rssi: int | None) -> int | None:
    """+CSQ rssi 0-31 as dBm (-113 + 2 * rssi); 99 (unknown) as None."""
    return None if rssi is None or not 0 <= rssi <= 31 else -113 + 2 * rssi


def delivery_conclusion(report: DeliveryStatus | None, receipt: bool) -> tuple[Conclusion, str | None]:
    """After an accepted submission: delivered if the report says so or the nonce came back."""
    if receipt or report == "delivered":
        return "sms_ok", None
    if report == "failed":
        return "accepted_not_delivered", "failed status report"
    return "accepted_not_delivered", "no delivery before the deadline"
