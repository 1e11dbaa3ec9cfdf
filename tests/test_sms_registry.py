"""An SMS back-end is its own module and one line in ``probe.sms.backends``: nothing in ``probe/config.py``.

A toy back-end written here, with its own settings table and input form, is registered for the length of a
test: the config validates ``[sms.toy]`` with the toy's model (and refuses a bad one in one line naming the
table and field, when the config is loaded), ``probe run --help`` lists its form, and the sms experiment
measures with it. A command that measures no SMS (``probe results``) validates the tables of the enabled
back-ends only, and imports none when none is.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import Field, SecretStr

from probe.cli.main import cli
from probe.config import BackendSection, Config, load_config, parse_config
from probe.errors import ConfigError, ProbeError
from probe.experiments.sms import SMSExperiment, parse_target
from probe.model.sms import SMSTestKeys
from probe.sms import conclusion
from probe.sms.backend import Backend, SMSNetwork, SMSTarget
from probe.sms.backends import BACKENDS, backend_for
from probe.storage import open_database

ROOT = Path(__file__).resolve().parent.parent
NUMBER = "+77001234567"
PASSWORD = "pw-toy-7431"


class ToySection(BackendSection):
    """``[sms.toy]``: declared by the back-end, not by ``probe.config``."""

    channel: int = Field(1, ge=1, le=9, description="The toy gateway's channel.")
    password: SecretStr = Field(SecretStr(""), description="The toy gateway's password.")
    recipient: str = Field("self-loop", description="Label in [sms.recipients] the SMS is sent to.")

    def recipient_label(self) -> str:
        return self.recipient


def _check(value: str) -> str | None:
    return None if re.match(r"^toy://[a-z]+$", value) else "toy://NAME, letters only"


def _parse(value: str, sms: Any) -> SMSTarget:
    reason = _check(value)
    if reason:
        raise ValueError(reason)
    return SMSTarget(TOY.name, host=value.removeprefix("toy://"), label=TOY.settings(sms).recipient)


def _measure(target: SMSTarget, config: Config, recipient: Any, keys: SMSTestKeys, net: SMSNetwork) -> None:
    settings = TOY.settings(config.sms)
    assert recipient is not None and settings.password.get_secret_value() == PASSWORD
    keys.conclude("gateway_reachable", f"channel {settings.channel} of {target.host}")


TOY = Backend(
    name="toy",
    section=ToySection,
    prefixes=("toy://",),
    form="toy://NAME",
    check=_check,
    parse=_parse,
    measure=_measure,
)


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> Backend[ToySection]:
    monkeypatch.setitem(BACKENDS, "toy", TOY)  # the one registry line
    return TOY


def toy_sms(**table: Any) -> dict[str, Any]:
    return {"backends": ["toy"], "recipients": {"self-loop": {"number": NUMBER}}, "toy": table}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "probe.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_toy_is_picked_by_its_input_form_and_listed_in_run_help(toy: Backend[ToySection]) -> None:
    assert backend_for("toy://gw") is toy
    experiment = SMSExperiment()
    assert experiment.check_input("toy://gw") is None
    assert experiment.check_input("toy://GW1") == "toy://NAME, letters only"
    assert "toy://NAME" in experiment.inputs and "toy://NAME" in (experiment.check_input("ftp://x") or "")
    result = CliRunner().invoke(cli, ["run", "--help"], terminal_width=1000)
    assert "sms: at:LABEL, smpp://HOST:PORT, https://GATEWAY/PATH, toy://NAME" in " ".join(result.output.split())
    # The back-ends already registered keep their explicit forms and the older ones.
    assert backend_for("at:self-loop") is BACKENDS["at_modem"]
    assert backend_for("self-loop") is BACKENDS["at_modem"]
    assert backend_for("smpp://smsc.example.kz:2775") is BACKENDS["smpp"]
    assert backend_for("smsc.example.kz:2775") is BACKENDS["smpp"]
    assert backend_for("https://gw.example.kz/send") is BACKENDS["http_gateway"]


def test_the_toys_table_is_validated_with_its_own_model_and_its_secret_stays_masked(
    toy: Backend[ToySection],
) -> None:
    config = parse_config({"sms": toy_sms(channel=3, password=PASSWORD)})
    settings = toy.settings(config.sms)
    assert isinstance(settings, ToySection) and settings.channel == 3
    assert settings.password.get_secret_value() == PASSWORD
    assert PASSWORD not in config.model_dump_json() + repr(config)
    assert json.loads(config.model_dump_json())["sms"]["toy"] == {
        "channel": 3,
        "password": "**********",
        "recipient": "self-loop",
    }
    # Without a table the back-end has its defaults, like every other.
    assert toy.settings(parse_config({}).sms) == ToySection()
    assert parse_target("toy://gw", config) == SMSTarget("toy", host="gw", label="self-loop")


@pytest.mark.parametrize(
    ("table", "line"),
    [
        ("channel = 12", "sms.toy.channel: Input should be less than or equal to 9"),
        ('channel = "two"', "sms.toy.channel: Input should be a valid integer"),
        ("chanel = 2", "sms.toy.chanel: Extra inputs are not permitted"),
        ('recipient = "peer"', "sms.toy.recipient: Value error, 'peer' is not in [sms.recipients]"),
    ],
)
def test_a_bad_toy_table_is_refused_when_the_config_is_loaded_in_one_line(
    toy: Backend[ToySection], tmp_path: Path, table: str, line: str
) -> None:
    path = write(
        tmp_path,
        f'[sms]\nbackends = ["toy"]\n\n[sms.recipients]\nself-loop = {{ number = "{NUMBER}" }}\n\n[sms.toy]\n{table}\n',
    )
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value).startswith(f"{path}: {line}") and "\n" not in str(error.value)


def test_without_its_registry_line_the_toy_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"sms\.backends: .*unknown SMS back-end 'toy' \(known: at_modem, smpp"):
        parse_config({"sms": {"backends": ["toy"]}})
    with pytest.raises(ConfigError, match=r"sms\.toy: .*not an SMS back-end's table"):
        parse_config({"sms": {"toy": {"channel": 3}}})


def test_probe_run_measures_with_the_toy_and_keeps_its_password_out_of_the_run(
    toy: Backend[ToySection], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    path = write(
        tmp_path,
        f'[probe]\ndata_dir = "{data}"\n\n[sms]\nbackends = ["toy"]\n\n'
        f'[sms.recipients]\nself-loop = {{ number = "{NUMBER}" }}\n\n'
        f'[sms.toy]\nchannel = 3\npassword = "{PASSWORD}"\n',
    )
    result = CliRunner().invoke(cli, ["run", "--accept", "--config", str(path), "-e", "sms", "--url", "toy://gw"])
    assert result.exit_code == 0, result.output
    db = open_database(data / "probe.db")
    (row,) = db.measurement_rows()
    keys = json.loads(row["test_keys"])
    assert (row["experiment"], keys["backend"], keys["conclusion"]) == ("sms", "toy", "gateway_reachable")
    assert keys["conclusion_detail"] == "channel 3 of gw"
    (run,) = db.runs()
    assert json.loads(run["config"])["sms"]["toy"]["channel"] == 3
    stored = b"".join(file.read_bytes() for file in data.iterdir())
    assert PASSWORD.encode() not in stored and NUMBER.encode() not in stored
    db.close()


def test_a_bad_toy_table_stops_probe_run_before_anything_is_measured(toy: Backend[ToySection], tmp_path: Path) -> None:
    data = tmp_path / "data"
    path = write(tmp_path, f'[probe]\ndata_dir = "{data}"\n\n[sms]\nbackends = ["toy"]\n\n[sms.toy]\nchannel = 0\n')
    result = CliRunner().invoke(cli, ["run", "--accept", "--config", str(path), "-e", "sms", "--url", "toy://gw"])
    assert isinstance(result.exception, ProbeError) and "sms.toy.channel" in str(result.exception)
    assert not data.exists()


@pytest.mark.parametrize(
    ("sms", "key"),
    [
        ('backends = ["smpp", "pigeon"]', "sms.backends"),
        ("[sms.smpp]\ntls = 3", "sms.smpp.tls"),
        ('[sms.at_modem]\nport = "/dev/ttyUSB2"\nbaud = 9600', "sms.at_modem.baud"),
        ('backends = ["http_gateway"]\n[sms.http_gateway]\nrecipient = "peer"', "sms.http_gateway.recipient"),
    ],
)
def test_the_real_command_refuses_a_bad_sms_config_in_one_line_before_measuring(
    tmp_path: Path, sms: str, key: str
) -> None:
    data = tmp_path / "data"
    path = write(tmp_path, f'[probe]\ndata_dir = "{data}"\n\n[sms]\n{sms}\n')
    done = subprocess.run(
        [sys.executable, "-m", "probe", "run", "--accept", "--config", str(path), "-e", "sms", "--url", "at:x"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and f": {key}: " in done.stderr and "Traceback" not in done.stderr
    assert not data.exists()


def test_a_command_that_measures_no_sms_sets_aside_the_tables_of_back_ends_not_enabled(
    toy: Backend[ToySection], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    path = write(tmp_path, f'[probe]\ndata_dir = "{data}"\n\n[sms.smpp]\ntls = 3\n')
    with pytest.raises(ConfigError, match=r"sms\.smpp\.tls: "):
        load_config(path)  # what probe run and the daemon load
    reading = load_config(path, sms_tables="enabled")  # what probe results and probe outages load
    with pytest.raises(TypeError, match=r"\[sms\.smpp\] was set aside unread"):
        BACKENDS["smpp"].settings(reading.sms)
    assert "smpp" not in json.loads(reading.model_dump_json())["sms"]
    listed = CliRunner().invoke(cli, ["results", "--config", str(path)])
    assert listed.exit_code == 0, listed.output
    # An enabled back-end's table is validated whatever the command: a bad one is still refused in one line.
    (tmp_path / "enabled").mkdir()
    recipients = f'[sms.recipients]\nself-loop = {{ number = "{NUMBER}" }}\n'
    enabled = write(tmp_path / "enabled", f'[sms]\nbackends = ["toy"]\n\n{recipients}\n[sms.toy]\nchannel = 12\n')
    with pytest.raises(ConfigError, match=r"sms\.toy\.channel: Input should be less than or equal to 9"):
        load_config(enabled, sms_tables="enabled")
    refused = CliRunner().invoke(cli, ["results", "--config", str(enabled)])
    assert isinstance(refused.exception, ConfigError) and "sms.toy.channel" in str(refused.exception)


def test_a_back_end_names_the_stage_of_its_own_protocol_where_it_failed() -> None:
    stored = {"backend": "toy", "conclusion": "gateway_unreachable", "failed_stage": "toy"}
    keys = SMSTestKeys.model_validate(stored)  # as read back from a stored measurement
    assert conclusion.blocking_detail(keys.conclusion, keys.failed_stage) == "sms:gateway_unreachable:toy"


def test_a_config_loaded_in_a_fresh_interpreter_finds_the_back_ends_without_importing_them_first(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        f'[sms]\nbackends = ["smpp"]\n\n[sms.recipients]\nself-loop = {{ number = "{NUMBER}" }}\n\n'
        '[sms.smpp]\nsystem_id = "probe-7"\n',
    )
    script = (
        "import sys\nfrom pathlib import Path\nfrom probe.config import load_config\n"
        "assert 'probe.sms.backends' not in sys.modules\n"
        f"config = load_config(Path({str(path)!r}))\n"
        "settings = config.sms.section('smpp', object)\n"
        "print(type(settings).__name__, settings.system_id, config.sms.backends)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["SMPPSection", "probe-7", "['smpp']"]


def test_a_config_without_sms_loads_no_back_end() -> None:
    script = "import sys\nfrom probe.config import parse_config\nparse_config({})\nprint('probe.sms' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
