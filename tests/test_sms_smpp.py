"""The sms experiment's SMPP back-end against an SMSC stub on loopback, and the PDUs it speaks."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from support.dnsserver import NXDOMAIN, Answer, running_dns_server
from support.servers import reset_after_hello_server, tcp_blackhole_server, tcp_refusing_port
from support.smppstub import SMSCScript, running_smsc
from support.timing import SLACK

from probe.config import Config
from probe.experiments import Context, get_experiment
from probe.model import Measurement, utc_now_iso
from probe.model.sms import SMSTestKeys
from probe.sms import smpp_pdu
from probe.storage import open_database

SMS = get_experiment("sms")
NUMBER = "+77001234567"


def smpp_config(dns_spec: str = "system", **smpp: Any) -> Config:
    settings = {
        "system_id": "probe",
        "password": "secret",
        "bind_timeout": 1.0,
        "submit_timeout": 1.0,
        "receipt_timeout": 1.0,
        "enquire_link_interval": 0.2,
        **smpp,
    }
    return Config.model_validate(
        {
            "dns": {"resolvers": [dns_spec], "timeout": 1.0, "late_answer_window": 0.1},
            "tcp": {"timeout": 0.5},
            "sms": {"backends": ["smpp"], "recipients": {"self-loop": {"number": NUMBER}}, "smpp": settings},
        }
    )


def run(target: str, config: Config) -> tuple[Measurement, SMSTestKeys]:
    m = SMS.run(target, Context(config=config, report_id="r", test_start_time=utc_now_iso()))
    assert isinstance(m.test_keys, SMSTestKeys)
    return m, m.test_keys


def test_delivered_receipt_is_sms_ok() -> None:
    with running_smsc() as smsc:
        m, keys = run(smsc.address, smpp_config())
    assert keys.conclusion == "sms_ok" and (m.failure, m.verdict) == (None, "accessible")
    assert keys.send_result == "ok" and keys.message_ref_received and keys.submit_latency is not None
    assert (keys.report_status, keys.report_code) == ("delivered", "DELIVRD") and keys.report_latency is not None
    destination, registered_delivery, text = smsc.submitted[0]
    assert (destination, registered_delivery) == (NUMBER.lstrip("+"), 1) and text.startswith("Test message, ref ")
    assert smsc.received[:2] == ["bind_transceiver", "submit_sm"] and "deliver_sm_resp" in smsc.received
    assert smsc.received[-1] == "unbind"
    assert NUMBER.lstrip("+") not in m.model_dump_json()  # the receipt's source_addr is dropped


def test_receipt_naming_the_id_in_decimal_still_matches() -> None:
    with running_smsc(SMSCScript(decimal_receipt_id=True)) as smsc:
        _, keys = run(smsc.address, smpp_config())
    assert keys.conclusion == "sms_ok"


def test_submit_refused_is_sms_submit_rejected_with_the_status() -> None:
    with running_smsc(SMSCScript(submit_status=0x45)) as smsc:
        m, keys = run(smsc.address, smpp_config())
    assert (keys.conclusion, keys.send_result, keys.smpp_status) == ("sms_submit_rejected", "rejected", 0x45)
    assert (m.failure, m.verdict, m.blocking_detail) == (
        "sms_submit_rejected",
        "inconclusive",
        "sms:sms_submit_rejected",
    )


def test_no_receipt_is_accepted_not_delivered_at_the_deadline() -> None:
    with running_smsc(SMSCScript(receipt=None)) as smsc:
        begin = time.monotonic()
        _, keys = run(smsc.address, smpp_config(receipt_timeout=0.6))
        elapsed = time.monotonic() - begin
    assert keys.conclusion == "accepted_not_delivered" and keys.send_result == "ok"
    assert 0.6 <= elapsed < 0.6 + SLACK
    assert "enquire_link" in smsc.received  # the link was kept alive while waiting


def test_undelivered_receipt_is_accepted_not_delivered() -> None:
    with running_smsc(SMSCScript(receipt="UNDELIV")) as smsc:
        _, keys = run(smsc.address, smpp_config())
    assert (keys.conclusion, keys.report_status, keys.report_code) == ("accepted_not_delivered", "failed", "UNDELIV")


def test_connection_timeout_is_gateway_unreachable_at_tcp() -> None:
    with tcp_blackhole_server() as hole:
        begin = time.monotonic()
        m, keys = run(hole.address, smpp_config())
    assert (keys.conclusion, keys.failed_stage) == ("gateway_unreachable", "tcp")
    assert (m.failure, m.failed_step, m.verdict) == ("generic_timeout_error", "tcp", "inconclusive")
    assert m.blocking_detail == "sms:gateway_unreachable:tcp"
    assert time.monotonic() - begin < 2.0


def test_refused_port_is_gateway_unreachable_at_tcp() -> None:
    with tcp_refusing_port() as port:
        m, _ = run(port.address, smpp_config())
    assert (m.failure, m.failed_step) == ("connection_refused", "tcp")


def test_unresolvable_smsc_is_gateway_unreachable_at_dns() -> None:
    with running_dns_server({}, default=NXDOMAIN) as dns:
        m, keys = run("smsc.test:2775", smpp_config(dns.spec()))
    assert (keys.conclusion, m.failure, m.failed_step) == ("gateway_unreachable", "dns_nxdomain_error", "dns")


def test_smsc_by_name_resolves_and_delivers() -> None:
    with running_dns_server({"smsc.test": Answer(("127.0.0.1",))}) as dns, running_smsc() as smsc:
        _, keys = run(f"smsc.test:{smsc.port}", smpp_config(dns.spec()))
    assert keys.conclusion == "sms_ok" and keys.queries


def test_bind_refused_is_a_probe_fault() -> None:
    with running_smsc(SMSCScript(password="other")) as smsc:
        _, keys = run(smsc.address, smpp_config())
    assert (keys.conclusion, keys.smpp_status) == ("probe_fault", 0x0E) and smsc.submitted == []


def test_silent_bind_is_gateway_unreachable_at_the_smpp_stage() -> None:
    with running_smsc(SMSCScript(answer_bind=False)) as smsc:
        begin = time.monotonic()
        m, keys = run(smsc.address, smpp_config(bind_timeout=0.4))
    assert (keys.conclusion, keys.failed_stage, keys.conclusion_detail) == (
        "gateway_unreachable",
        "smpp",
        "generic_timeout_error",
    )
    assert (m.failure, m.failed_step, m.blocking_detail) == (
        "generic_timeout_error",
        None,
        "sms:gateway_unreachable:smpp",
    )
    assert time.monotonic() - begin < 2.0


def test_reset_after_bind_is_gateway_unreachable_at_the_smpp_stage() -> None:
    with reset_after_hello_server() as middlebox:
        _, keys = run(middlebox.address, smpp_config())
    assert (keys.conclusion, keys.failed_stage, keys.conclusion_detail) == (
        "gateway_unreachable",
        "smpp",
        "connection_reset",
    )


def test_without_an_account_reachability_is_checked_and_the_smsc_answer_recorded() -> None:
    with running_smsc() as smsc:
        m, keys = run(smsc.address, smpp_config(system_id=""))
    assert (keys.conclusion, keys.smpp_answer) == ("gateway_reachable", "enquire_link_resp")
    assert (m.failure, m.verdict) == (None, "accessible") and smsc.submitted == []


def test_receipt_queued_from_an_earlier_session_is_linked_to_its_measurement(tmp_path: Path) -> None:
    db = open_database(tmp_path / "probe.db")
    db.start_run({"id": "run"})
    script = SMSCScript(receipt_delay=0.8)
    with running_smsc(script) as smsc:
        first, first_keys = run(smsc.address, smpp_config(receipt_timeout=0.3))
        db.save(first, "run")
        time.sleep(0.1)
        script.receipt_delay = 0.05
        second, second_keys = run(smsc.address, smpp_config())
        db.save(second, "run")
    assert first_keys.conclusion == "accepted_not_delivered" and second_keys.conclusion == "sms_ok"
    assert [(e.kind, e.status) for e in second_keys.late_events] == [("report", "delivered")]
    late = db.sms_events(first.id)
    assert [(e["kind"], e["code"], e["late"], e["observed_in"]) for e in late] == [("report", "DELIVRD", 1, second.id)]
    db.close()


def test_deliver_sm_receipt_fields_come_from_tlvs_when_present() -> None:
    body = (
        b"\x00" + b"\x01\x01123\x00" + b"\x01\x01456\x00" + bytes([0x04, 0, 0]) + b"\x00\x00" + bytes([0, 0, 0, 0, 0])
    )
    body += b"\x00\x1e\x00\x05abcd\x00" + b"\x04\x27\x00\x01\x02"
    deliver = smpp_pdu.parse_deliver_sm(smpp_pdu.PDU(smpp_pdu.DELIVER_SM, 0, 7, body))
    assert (deliver.receipt, deliver.receipted_id, deliver.stat) == (True, "abcd", "DELIVRD")


def test_truncated_pdu_body_is_a_pdu_error_not_a_crash() -> None:
    with pytest.raises(smpp_pdu.PDUError):
        smpp_pdu.parse_deliver_sm(smpp_pdu.PDU(smpp_pdu.DELIVER_SM, 0, 7, b"\x00\x01"))
