"""The sms experiment's AT modem back-end against a scripted fake modem (loopback socket or pty)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from support.fakemodem import FakeModem, Script
from support.timing import PATIENT, SLACK

from probe.config import Config
from probe.experiments import Context, get_experiment
from probe.model import Measurement, utc_now_iso
from probe.model.sms import SMSTestKeys
from probe.sms.at_port import ATChannel, ModemTimeout
from probe.storage import open_database

SMS = get_experiment("sms")
OWN = "+77001234567"
PEER = "+77015550000"


def sms_config(port: str, **at_modem: Any) -> Config:
    settings = {
        "port": port,
        "command_timeout": 1.0,
        "registration_timeout": 0,
        "prompt_timeout": 1.0,
        "submit_timeout": 1.0,
        "delivery_timeout": 1.0,
        **at_modem,
    }
    return Config.model_validate(
        {
            "probe": {"probe_asn": "AS64500", "probe_cc": "KZ"},
            "sms": {
                "backends": ["at_modem"],
                "recipients": {
                    "self-loop": {"number": OWN, "direction": "self_loop"},
                    "peer": {"number": PEER, "direction": "into_region"},
                },
                "at_modem": settings,
            },
        }
    )


def run(port: str, label: str = "self-loop", **at_modem: Any) -> tuple[Measurement, SMSTestKeys]:
    config = sms_config(port, **at_modem)
    m = SMS.run(label, Context(config=config, report_id="r", test_start_time=utc_now_iso()))
    assert isinstance(m.test_keys, SMSTestKeys)
    return m, m.test_keys


def test_self_loop_delivered_is_sms_ok_with_radio_state_report_and_receipt() -> None:
    modem = FakeModem(Script())
    with modem.serve_socket() as port:
        m, keys = run(port)
    assert keys.conclusion == "sms_ok" and m.failure is None
    assert (m.verdict, m.blocking, m.blocking_detail) == ("accessible", "false", "sms:sms_ok")
    assert keys.sim_state == "READY" and keys.cfun == 1
    assert keys.registration is not None and keys.registration.registered
    assert (keys.mcc, keys.mnc, keys.radio_type, keys.signal_rssi, keys.signal_dbm) == ("401", "01", "lte", 20, -73)
    assert keys.send_result == "ok" and keys.message_ref_received
    assert keys.report_status == "delivered" and keys.report_latency is not None
    assert keys.nonce_matched and keys.receipt_latency is not None
    assert keys.direction == "self_loop" and keys.recipient == "self-loop"
    # The SMS went to the configured number, asked for a report, and only our message was deleted.
    assert [number for number, _ in modem.sent] == [OWN]
    assert "AT+CSMP=49,167,0,0" in modem.commands and "AT+CNMI=2,1,0,1,0" in modem.commands
    assert modem.messages == {} and len(modem.deleted) == 1


def test_self_loop_over_a_pseudo_terminal_is_delivered() -> None:
    modem = FakeModem(Script())
    with modem.serve_pty() as port:
        _, keys = run(port)
    assert keys.conclusion == "sms_ok" and keys.nonce_matched


def test_peer_needs_only_the_status_report() -> None:
    modem = FakeModem(Script())
    with modem.serve_socket() as port:
        _, keys = run(port, "peer")
    assert keys.conclusion == "sms_ok" and keys.direction == "into_region"
    assert keys.report_status == "delivered" and not keys.nonce_matched
    assert [number for number, _ in modem.sent] == [PEER]


def test_cms_error_38_is_submit_rejected_and_inconclusive() -> None:
    with FakeModem(Script(cms_error=38)).serve_socket() as port:
        m, keys = run(port)
    assert keys.conclusion == "sms_submit_rejected" and keys.cms_error == 38 and keys.send_result == "cms_error"
    assert (m.failure, m.verdict, m.blocking) == ("sms_submit_rejected", "inconclusive", None)
    assert m.blocking_detail == "sms:sms_submit_rejected"


def test_local_cms_error_is_a_probe_fault() -> None:
    with FakeModem(Script(cms_error=330)).serve_socket() as port:  # SMSC address unknown: the SIM's setup
        _, keys = run(port)
    assert keys.conclusion == "probe_fault" and keys.cms_error == 330


def test_not_registered_is_radio_unavailable_and_nothing_is_sent() -> None:
    modem = FakeModem(Script(creg=0, cgreg=2, cereg=3))
    with modem.serve_socket() as port:
        m, keys = run(port, registration_timeout=0.3)
    assert keys.conclusion == "radio_unavailable"
    assert keys.registration is not None and (keys.registration.creg, keys.registration.cereg) == (0, 3)
    assert (m.verdict, m.blocking_detail) == ("network_down", "sms:radio_unavailable")
    assert modem.sent == []


def test_roaming_counts_as_registered() -> None:
    with FakeModem(Script(creg=5, cgreg=0, cereg=0)).serve_socket() as port:
        _, keys = run(port)
    assert keys.conclusion == "sms_ok"


def test_accepted_but_never_delivered_ends_at_the_deadline() -> None:
    with FakeModem(Script(delivery="never")).serve_socket() as port:
        begin = time.monotonic()
        m, keys = run(port, delivery_timeout=0.5)
        elapsed = time.monotonic() - begin
    assert keys.conclusion == "accepted_not_delivered" and keys.send_result == "ok"
    assert keys.report_status is None and not keys.nonce_matched
    assert (m.failure, m.verdict) == ("accepted_not_delivered", "inconclusive")
    assert 0.5 <= elapsed < 0.5 + SLACK


def test_failed_status_report_is_accepted_not_delivered_without_waiting() -> None:
    with FakeModem(Script(delivery="failed")).serve_socket() as port:
        begin = time.monotonic()
        _, keys = run(port, delivery_timeout=5.0)
    assert keys.conclusion == "accepted_not_delivered" and keys.report_status == "failed" and keys.report_code == "65"
    assert time.monotonic() - begin < 2.0


def test_receipt_without_a_report_is_still_sms_ok() -> None:
    with FakeModem(Script(delivery="receipt_only")).serve_socket() as port:
        _, keys = run(port)
    assert keys.conclusion == "sms_ok" and keys.report_status is None and keys.nonce_matched


def test_late_delivery_is_stored_and_linked_to_its_measurement_on_the_next_run(tmp_path: Path) -> None:
    db = open_database(tmp_path / "probe.db")
    db.start_run({"id": "run"})
    modem = FakeModem(Script(delivery="late", late_delay=0.6))
    with modem.serve_socket() as port:
        first, first_keys = run(port, delivery_timeout=0.3)
        db.save(first, "run")
        time.sleep(0.6)  # the report and the message arrive while the probe is away
        modem.script.delivery = "delivered"
        second, second_keys = run(port)
        db.save(second, "run")
    assert first_keys.conclusion == "accepted_not_delivered"
    assert second_keys.conclusion == "sms_ok"
    assert sorted((e.kind, e.status) for e in second_keys.late_events) == [
        ("receipt", "delivered"),
        ("report", "delivered"),
    ]
    late = db.sms_events(first.id)
    assert sorted((e["kind"], e["status"], e["late"], e["observed_in"]) for e in late) == [
        ("receipt", "delivered", 1, second.id),
        ("report", "delivered", 1, second.id),
    ]
    own = db.sms_events(second.id)
    assert sorted((e["kind"], e["late"]) for e in own) == [("receipt", 0), ("report", 0)]
    assert modem.messages == {}  # both probe messages deleted once read
    db.close()


def test_stored_message_of_somebody_else_is_neither_recorded_nor_deleted() -> None:
    modem = FakeModem(Script(stored=["Mama: call me tonight 12345"]))
    with modem.serve_socket() as port:
        m, keys = run(port)
    assert keys.conclusion == "sms_ok" and keys.late_events == []
    assert [message.text for message in modem.messages.values()] == ["Mama: call me tonight 12345"]
    assert "Mama" not in m.model_dump_json()


def test_echoing_modem_is_still_understood() -> None:
    with FakeModem(Script(echo=True)).serve_socket() as port:
        _, keys = run(port)
    assert keys.conclusion == "sms_ok" and keys.modem_echo_lines > 10


def test_slow_modem_within_its_timeouts_is_understood() -> None:
    with FakeModem(Script(reply_delay=0.05)).serve_socket() as port:
        _, keys = run(port)
    assert keys.conclusion == "sms_ok"


def test_modem_slower_than_the_timeout_is_a_probe_fault_not_a_hang() -> None:
    with FakeModem(Script(reply_delay=0.8)).serve_socket() as port:
        begin = time.monotonic()
        m, keys = run(port, command_timeout=0.3)
    assert keys.conclusion == "probe_fault" and "no answer to AT" in (keys.conclusion_detail or "")
    assert m.verdict == "inconclusive"
    assert time.monotonic() - begin < 3.0


def test_garbage_before_every_answer_is_skipped() -> None:
    with FakeModem(Script(garbage=b"\x00\xff\x07junk\r\n" + b"Q" * 3000 + b"\r\n")).serve_socket() as port:
        _, keys = run(port)
    assert keys.conclusion == "sms_ok" and keys.modem_garbage_lines > 10


def test_flooding_modem_is_a_probe_fault_within_the_read_limit() -> None:
    with FakeModem(Script(flood=True)).serve_socket() as port:
        begin = time.monotonic()
        # A patient command timeout: the read limit, not the clock, must end it (a busy machine floods slowly).
        _, keys = run(port, max_read_bytes=65536, command_timeout=PATIENT)
    assert keys.conclusion == "probe_fault" and "more than 65536 bytes" in (keys.conclusion_detail or "")
    assert time.monotonic() - begin < PATIENT


def test_silent_modem_is_a_probe_fault_within_bounds() -> None:
    with FakeModem(Script(silent=True)).serve_pty() as port:
        begin = time.monotonic()
        _, keys = run(port, command_timeout=0.3)
    assert keys.conclusion == "probe_fault"
    assert time.monotonic() - begin < 0.3 + SLACK


def test_missing_modem_port_is_a_probe_fault() -> None:
    m, keys = run("/dev/nonexistent-modem")
    assert keys.conclusion == "probe_fault" and "cannot open the modem port" in (keys.conclusion_detail or "")
    assert m.failure == "probe_fault"


@pytest.mark.parametrize(("sim", "state"), [("NOT_INSERTED", "not_inserted"), ("SIM PIN", "SIM PIN")])
def test_sim_not_ready_is_a_probe_fault(sim: str, state: str) -> None:
    modem = FakeModem(Script(sim=sim))
    with modem.serve_socket() as port:
        _, keys = run(port)
    assert (keys.conclusion, keys.sim_state) == ("probe_fault", state) and modem.sent == []


def test_radio_switched_off_on_the_probe_is_a_probe_fault() -> None:
    with FakeModem(Script(cfun=4)).serve_socket() as port:
        _, keys = run(port)
    assert keys.conclusion == "probe_fault" and keys.cfun == 4


def test_no_prompt_is_a_probe_fault_and_text_entry_is_cancelled() -> None:
    modem = FakeModem(Script(prompt=False))
    with modem.serve_socket() as port:
        _, keys = run(port, prompt_timeout=0.3)
    assert (keys.conclusion, keys.send_result) == ("probe_fault", "no_prompt")
    assert modem.sent == [] and modem.cancelled == 1  # ESC left text entry: nothing was submitted


def test_cell_ids_and_numbers_are_never_in_the_measurement() -> None:
    with FakeModem(Script(cell_ids=True)).serve_socket() as port:
        m, keys = run(port)
    assert keys.conclusion == "sms_ok"
    text = m.model_dump_json()
    for secret in ("1A2B", "01C3D4E5", OWN, OWN.lstrip("+")):
        assert secret not in text


def test_two_inputs_on_one_modem_are_measured_one_after_the_other(tmp_path: Path) -> None:
    from probe.runner import run_targets
    from probe.testlist import Target

    modem = FakeModem(Script())
    with modem.serve_socket() as port:
        db = open_database(tmp_path / "probe.db")
        summary = run_targets(SMS, [Target("self-loop"), Target("peer")], sms_config(port), db)
        rows = list(db.measurement_rows())
        db.close()
    assert summary.done == 2 and not summary.probe_errors
    assert sorted((r["input"], r["verdict"], r["blocking_detail"]) for r in rows) == [
        ("peer", "accessible", "sms:sms_ok"),
        ("self-loop", "accessible", "sms:sms_ok"),
    ]


class ScriptedPort:
    """An in-memory port: ``pending`` is already waiting; each written command gets its ``answers`` entry."""

    def __init__(self, pending: bytes, answers: dict[bytes, bytes]) -> None:
        self.buffer = bytearray(pending)
        self.answers = answers

    @property
    def in_waiting(self) -> int:
        return len(self.buffer)

    def read(self, size: int = 1) -> bytes:
        if not self.buffer:
            time.sleep(0.01)
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def write(self, data: bytes, /) -> int | None:
        self.buffer += self.answers.get(data, b"")
        return len(data)

    def close(self) -> None:
        pass


def channel(port: ScriptedPort) -> ATChannel:
    return ATChannel(port, max_line_bytes=80, max_read_bytes=4096)


def test_stale_lines_are_not_taken_for_the_next_answer_but_urcs_are_kept() -> None:
    port = ScriptedPort(
        b'\r\n+CMS ERROR: 38\r\n\r\n+CMTI: "SM",3\r\n', {b"AT+CPIN?\r": b"\r\n+CPIN: READY\r\n\r\nOK\r\n"}
    )
    at = channel(port)
    response = at.command("AT+CPIN?", 1.0)
    assert (response.final, response.info("+CPIN:")) == ("OK", "READY")
    assert at.garbage_lines == 1 and list(at.urcs) == ['+CMTI: "SM",3']


def test_over_long_and_binary_lines_are_dropped_and_the_prompt_is_seen() -> None:
    noise = b"X" * 200 + b"\r\n\x00\x01bin\r\n"
    at = channel(ScriptedPort(b"", {b'AT+CMGS="1"\r': noise + b"\r\n> "}))
    assert at.command('AT+CMGS="1"', 1.0, expect_prompt=True).prompt
    assert at.garbage_lines == 2


def test_a_command_without_answer_times_out_and_names_no_argument() -> None:
    at = channel(ScriptedPort(b"", {}))
    begin = time.monotonic()
    with pytest.raises(ModemTimeout) as raised:
        at.command(f'AT+CMGS="{OWN}"', 0.2)
    assert OWN not in str(raised.value) and "AT+CMGS=..." in str(raised.value)
    assert time.monotonic() - begin < 1.0
