"""The sms experiment as a whole: its inputs, its config, its verdicts, its storage, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest
from support.fakemodem import FakeModem, Script

from probe.config import Config, parse_config
from probe.errors import ConfigError, ProbeError
from probe.experiments import EXPERIMENTS, Context, get_experiment
from probe.experiments.sms import parse_target
from probe.model import utc_now_iso
from probe.model.sms import Conclusion, SMSTestKeys, find_nonce, message_text, new_nonce
from probe.sms import conclusion
from probe.storage import open_database

ROOT = Path(__file__).resolve().parent.parent
SMS = get_experiment("sms")
NUMBER = "+77001234567"
ALL_BACKENDS = {
    "backends": ["at_modem", "smpp", "http_gateway"],
    "recipients": {"self-loop": {"number": NUMBER}},
}


def test_sms_is_a_registered_experiment() -> None:
    assert EXPERIMENTS["sms"] is SMS and (SMS.name, SMS.test_name) == ("sms", "sms_reachability")


@pytest.mark.parametrize(
    ("value", "backend"),
    [
        ("self-loop", "at_modem"),
        ("smsc.example.kz:2775", "smpp"),
        ("https://sms.example.kz/cgi-bin/sendsms", "http_gateway"),
    ],
)
def test_the_input_form_picks_the_backend(value: str, backend: str) -> None:
    assert SMS.check_input(value) is None
    assert parse_target(value, parse_config({"sms": ALL_BACKENDS})).backend == backend


@pytest.mark.parametrize("value", [NUMBER, "87001234567", "+7 700 123 45 67"])
def test_phone_numbers_are_never_inputs(value: str) -> None:
    reason = SMS.check_input(value)
    assert reason is not None and "never phone numbers" in reason and value not in reason


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("https://user:pw@gw.example/send", "without credentials"),
        ("https://gw.example/send?to=1", "without credentials"),
        ("peer", "no recipient 'peer'"),
        ("smsc.example.kz", "host:port"),
    ],
)
def test_unusable_inputs_are_refused_with_a_reason(value: str, why: str) -> None:
    with pytest.raises(ProbeError, match=why):
        parse_target(value, parse_config({"sms": ALL_BACKENDS}))


def test_sms_is_off_by_default() -> None:
    config = Config()
    assert config.sms.backends == []
    with pytest.raises(ProbeError, match="not enabled"):
        SMS.run("self-loop", Context(config=config, report_id="r", test_start_time=utc_now_iso()))


def test_shipped_config_keeps_sms_off() -> None:
    from probe.config import load_config

    assert load_config(ROOT / "configs" / "default.toml").sms.backends == []


def test_config_never_writes_numbers_or_passwords() -> None:
    config = parse_config(
        {
            "sms": {
                **ALL_BACKENDS,
                "smpp": {"system_id": "probe", "password": "pw-smpp", "source_addr": "+77010000000"},
                "http_gateway": {"username": "probe", "password": "pw-http"},
            }
        }
    )
    dumped = config.model_dump_json() + repr(config)
    for secret in (NUMBER, "7001234567", "pw-smpp", "pw-http", "77010000000"):
        assert secret not in dumped
    assert config.sms.recipients["self-loop"].number.get_secret_value() == NUMBER


@pytest.mark.parametrize("label", ["+77001234567", "Self", "a" * 40])
def test_recipient_labels_are_role_names_not_numbers(label: str) -> None:
    with pytest.raises(ConfigError, match="role names"):
        parse_config({"sms": {"recipients": {label: {"number": NUMBER}}}})


def test_a_gateway_recipient_must_be_configured() -> None:
    with pytest.raises(ConfigError, match=r"not in \[sms.recipients\]"):
        parse_config({"sms": {"backends": ["smpp"], "recipients": {}}})


def test_every_conclusion_has_a_conservative_verdict() -> None:
    verdicts = {name: conclusion.verdict(name) for name in get_args(Conclusion)}
    assert verdicts == {
        "sms_ok": ("accessible", "false"),
        "gateway_reachable": ("accessible", "false"),
        "sms_submit_rejected": ("inconclusive", None),
        "radio_unavailable": ("network_down", None),
        "accepted_not_delivered": ("inconclusive", None),
        "gateway_unreachable": ("inconclusive", None),
        "probe_fault": ("inconclusive", None),
    }
    assert conclusion.blocking_detail("gateway_unreachable", "tls") == "sms:gateway_unreachable:tls"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        *[(code, "sms_submit_rejected") for code in (8, 21, 38, 42, 332)],
        (331, "radio_unavailable"),
        *[(code, "probe_fault") for code in (310, 311, 330, 500)],
    ],
)
def test_cms_errors_are_the_network_s_or_the_probe_s(code: int, expected: str) -> None:
    assert conclusion.cms_conclusion(code) == expected


@pytest.mark.parametrize(("st", "status"), [(0, "delivered"), (0x20, "pending"), (0x41, "failed"), (0x60, "failed")])
def test_status_report_codes(st: int, status: str) -> None:
    assert conclusion.status_report(st) == status


def test_nonce_is_found_only_in_probe_messages() -> None:
    nonce = new_nonce()
    assert find_nonce(message_text(nonce)) == nonce
    assert find_nonce("ref to the meeting at 10") is None


def test_export_has_neither_verdict_columns_nor_local_identifiers(tmp_path: Path) -> None:
    keys = SMSTestKeys(backend="at_modem", conclusion="sms_ok")
    keys.local.nonce, keys.local.message_ref = "0123456789abcdef", "42"
    from probe.experiments.base import Outcome, measure

    m = measure(SMS, "self-loop", Context(Config(), "r", utc_now_iso()), lambda _trace: Outcome(keys))
    m.verdict, m.blocking, m.blocking_detail = "accessible", "false", "sms:sms_ok"
    exported = json.dumps(m.to_ooni())
    assert "0123456789abcdef" not in exported and "verdict" not in exported and "sms:sms_ok" not in exported
    db = open_database(tmp_path / "probe.db")
    db.start_run({"id": "run"})
    db.save(m, "run")
    row = db.get_row(m.id)
    assert row is not None and (row["verdict"], row["blocking"], row["blocking_detail"]) == (
        "accessible",
        "false",
        "sms:sms_ok",
    )
    assert [tuple(r) for r in db.db.execute("select nonce, measurement_id, message_ref from sms_messages")] == [
        ("0123456789abcdef", m.id, "42")
    ]
    db.close()


def test_migration_3_adds_the_sms_tables() -> None:
    db = open_database(":memory:")
    assert {"sms_messages", "sms_events"} <= set(db.db.table_names())
    assert 3 in {int(r[0]) for r in db.db.execute("select version from schema_migrations")}
    db.close()


def test_cli_runs_the_self_loop_and_the_number_is_in_no_file_log_or_export(tmp_path: Path) -> None:
    modem = FakeModem(Script())
    data = tmp_path / "data"
    with modem.serve_socket() as port:
        config = tmp_path / "probe.toml"
        config.write_text(
            f"""
[probe]
data_dir = "{data}"

[sms]
backends = ["at_modem"]

[sms.recipients]
self-loop = {{ number = "{NUMBER}", direction = "self_loop" }}

[sms.at_modem]
port = "{port}"
registration_timeout = 0
command_timeout = 1.0
delivery_timeout = 2.0
""",
            encoding="utf-8",
        )
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "probe",
                "run",
                "--accept",
                "--config",
                str(config),
                "-e",
                "sms",
                "--url",
                "self-loop",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
    assert run.returncode == 0, run.stderr
    assert "sms_ok" not in run.stdout and "(reached)" in run.stdout  # sms_ok is a success: no failure
    db = open_database(data / "probe.db")
    (row,) = list(db.measurement_rows())
    assert (row["experiment"], row["input"], row["verdict"], row["blocking_detail"]) == (
        "sms",
        "self-loop",
        "accessible",
        "sms:sms_ok",
    )
    db.close()
    commands = [
        ["results", "--config", str(config)],
        ["show", "--config", str(config), row["id"]],
        ["export", "--config", str(config), "--format", "ooni-jsonl"],
    ]
    outputs = [run.stdout + run.stderr]
    for args in commands:
        done = subprocess.run(
            [sys.executable, "-m", "probe", *args], capture_output=True, text=True, timeout=60, cwd=ROOT
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout + done.stderr)
    assert modem.sent and modem.sent[0][0] == NUMBER  # the number was used...
    for secret in (NUMBER, NUMBER.lstrip("+")):  # ...and written nowhere
        assert all(secret not in output for output in outputs)
        for file in data.iterdir():
            assert secret.encode() not in file.read_bytes(), file.name


def test_the_daemon_can_schedule_sms_rounds() -> None:
    from probe.daemon.rounds import groups_from

    config = parse_config(
        {
            "schedule": {"groups": {"sms": {"experiment": "sms", "inputs": ["self-loop"], "every": 1200}}},
            "sms": {"backends": ["at_modem"], "recipients": {"self-loop": {"number": NUMBER}}},
        }
    )
    (group,) = groups_from(config)
    assert (group.experiment, group.inputs) == ("sms", ("self-loop",))
