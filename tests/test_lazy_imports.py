"""The command line loads a command's modules only when that command runs (``probe.cli.main.COMMANDS``).

On a Raspberry Pi Zero importing everything took a second and 78 MB before ``probe --help`` printed a line; these
tests fail when an eager import comes back. Each check runs in a fresh interpreter, as a command would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from test_storage import sample, start

from probe.cli.main import COMMANDS, cli
from probe.defaults import shipped
from probe.storage import open_database

HEAVY = ("scapy", "pyarrow", "psycopg", "probe.collector", "probe.lab", "probe.forensics", "probe.export")
"""Modules no command below needs: packet capture, Parquet, PostgreSQL, the collector, the lab, the exports."""

RUNNER_SIDE = ("probe.runner", "probe.experiments", "probe.daemon", "probe.helper", "probe.upload", "dns.resolver")
"""Modules that measure or serve: ``probe --help`` and ``probe results`` read a database at most."""

SUBPROCESS_LIMIT = 60.0
TESTS = Path(__file__).resolve().parent


def loaded_after(code: str) -> set[str]:
    """The modules in ``sys.modules`` after a fresh interpreter runs ``code`` (which may import ``support``)."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=SUBPROCESS_LIMIT, check=True, env=env
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def heavy(loaded: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(name for name in loaded if name in names or name.startswith(tuple(f"{n}." for n in names)))


def test_importing_the_command_line_loads_no_command() -> None:
    loaded = loaded_after("import probe.cli.main")
    assert heavy(loaded, HEAVY + RUNNER_SIDE) == []
    assert not [name for name in loaded if name.startswith("probe.cli.") and name != "probe.cli.main"]


def test_help_lists_every_command_without_loading_one() -> None:
    loaded = loaded_after(
        "from probe.cli.main import cli\ntry:\n    cli(['--help'], standalone_mode=False)\nexcept SystemExit:\n    pass"
    )
    assert heavy(loaded, HEAVY + RUNNER_SIDE) == []


@pytest.mark.parametrize("command", ["results", "show"])
def test_reading_commands_load_neither_measuring_nor_heavy_modules(command: str) -> None:
    loaded = loaded_after(f"from probe.cli.main import cli, COMMANDS\nCOMMANDS[{command!r}].load()")
    assert heavy(loaded, HEAVY + RUNNER_SIDE) == []


READING_NEEDS_NOT = ("sqlite_utils", "probe.model", "probe.sms", "probe.storage.sms_records")
"""What made ``probe results`` take a third of a second besides pydantic and the config: sqlite-utils (with its
plugins' entry points), the measurement models, and the SMS back-ends, which the config imported to validate the
shipped ``[sms.*]`` tables although none is enabled. ``probe outages`` reads the same way; ``probe show`` needs the
measurement models, nothing else."""


def a_database_with_a_measurement(path: Path) -> tuple[Path, str]:
    db = open_database(path)
    start(db)
    measurement = sample()
    db.save(measurement, "run1")
    db.close()
    return path, measurement.id


@pytest.mark.parametrize(
    ("command", "needs_not"),
    [
        (["results"], READING_NEEDS_NOT),
        (["outages"], READING_NEEDS_NOT),
        (["show"], tuple(set(READING_NEEDS_NOT) - {"probe.model"})),
    ],
)
def test_reading_a_database_with_the_shipped_config_loads_no_sqlite_utils_sms_back_end_or_measurement_model(
    tmp_path: Path, command: list[str], needs_not: tuple[str, ...]
) -> None:
    db, measurement_id = a_database_with_a_measurement(tmp_path / "probe.db")
    argv = [*command, "--config", str(shipped("default.toml")), "--db", str(db)]
    if command == ["show"]:
        argv.append(measurement_id)
    loaded = loaded_after(f"from probe.cli.main import cli\ncli({argv!r}, standalone_mode=False)")
    assert {"probe.config", "probe.storage.db", COMMANDS[command[0]].target.partition(":")[0]} <= loaded  # it ran
    assert heavy(loaded, HEAVY + RUNNER_SIDE + needs_not) == []


RUN_NEEDS_NOT = (
    "scapy",
    "pyarrow",
    "psycopg",
    "probe.collector",
    "probe.lab",
    "probe.analysis",
    "probe.report.build",
    "probe.forensics",
)
"""Besides ``HEAVY``: the outage analysis and the HTML report, which the end of a run does not draw on, and the
packet capture, which only a reset or an injected answer measured again as root needs."""
PLAIN_DNS_NEEDS_NOT = ("httpx2", "dns.query")
"""DNS over HTTPS's client, loaded by the first encrypted lookup: the shipped config has none."""


@pytest.mark.parametrize("command", ["run", "daemon"])
def test_measuring_commands_load_no_packet_capture_collector_lab_report_or_doh_client(command: str) -> None:
    loaded = loaded_after(f"from probe.cli.main import COMMANDS\nCOMMANDS[{command!r}].load()")
    assert heavy(loaded, RUN_NEEDS_NOT + PLAIN_DNS_NEEDS_NOT) == []


DAEMON_ROUND_END = """
import tempfile
from pathlib import Path
from probe.cli.main import COMMANDS
COMMANDS["daemon"].load()
from probe.identity import key_path_for, load_or_create
from probe.integrity.heads import register_self
from probe.integrity.signing import sign_head
from probe.storage import open_database
db_path = Path(tempfile.mkdtemp()) / "probe.db"
register_self(open_database(db_path), load_or_create(key_path_for(db_path)))  # made
assert len(sign_head(load_or_create(key_path_for(db_path)), 1, "ab" * 32, "2026-12-06T00:00:00Z")) == 88  # read
"""


def test_a_daemon_makes_its_key_and_signs_its_head_without_cryptography() -> None:
    # cryptography's native extension was 8.5 MB of a daemon's 59: probe.ed25519 signs with ssl's OpenSSL.
    assert heavy(loaded_after(DAEMON_ROUND_END), ("cryptography",)) == []


FORENSIC_CAPTURE = """
from conftest import loopback_config
from support.dnsserver import Answer, running_dns_server
from support.servers import reset_after_hello_server
from test_verdict_runner import reset_measurement
from probe.stage.verdicts import VerdictStage
with running_dns_server({"guljan.test": Answer(("127.0.0.1",))}) as dns, reset_after_hello_server() as server:
    judged = VerdictStage.start(loopback_config(dns.spec())).judge(reset_measurement(server.port, dns.spec()))
assert judged.test_keys.x_forensics["status"] == "ok", judged.test_keys.x_forensics
assert judged.test_keys.x_forensics["suspicious"], judged.test_keys.x_forensics
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="packet capture needs root")
def test_a_reset_measured_again_under_capture_leaves_no_scapy_in_the_process() -> None:
    # What a run or a daemon holds after its first forensic capture, for as long as it runs.
    loaded = loaded_after(FORENSIC_CAPTURE)
    assert "probe.forensics.capture" in loaded
    assert heavy(loaded, ("scapy",)) == []


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_summary_is_its_commands_first_sentence(name: str) -> None:
    command = COMMANDS[name].load()
    assert COMMANDS[name].summary == command.get_short_help_str(limit=1000)


def test_every_command_of_the_group_is_in_the_table() -> None:
    context = click.Context(cli)
    assert cli.list_commands(context) == sorted(COMMANDS)
