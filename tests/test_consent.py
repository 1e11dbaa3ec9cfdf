"""Consent: explained and accepted before unattended measuring or any upload; recorded with time and version."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.dnsserver import running_dns_server
from support.servers import tcp_refusing_port
from support.unattended import fill

from probe import consent
from probe.cli import consent as consent_cli
from probe.cli.main import cli
from probe.config import load_config
from probe.storage import open_database

ROOT = Path(__file__).resolve().parent.parent


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "probe.toml"
    path.write_text(
        f"""
[probe]
data_dir = "{tmp_path / "data"}"
probe_asn = "AS9198"
probe_cc = "KZ"
[dns]
resolvers = ["system", "udp://127.0.0.1:5353"]
[schedule.groups.names]
experiment = "dns"
inputs = ["guljan.test"]
{extra}
""",
        encoding="utf-8",
    )
    return path


UPLOAD_ON = '[upload]\nenabled = true\nurl = "http://127.0.0.1:9/"\n'


def consent_rows(tmp_path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(tmp_path / "data" / "probe.db")
    return conn.execute("select text_version, text_sha256, accepted_at, how, upload_url from consent").fetchall()


def test_daemon_refuses_to_start_without_consent_and_measures_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "probe", "daemon", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "no consent is recorded" in result.stderr and "--accept" in result.stderr
    conn = sqlite3.connect(tmp_path / "data" / "probe.db")
    assert conn.execute("select count(*) from rounds").fetchone()[0] == 0
    assert conn.execute("select count(*) from measurements").fetchone()[0] == 0


def test_accept_records_the_time_and_the_notice_version(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = CliRunner().invoke(cli, ["consent", "--config", str(config), "--accept"])
    assert result.exit_code == 0, result.output
    ((version, sha256, accepted_at, how, upload_url),) = consent_rows(tmp_path)
    assert (version, sha256, how, upload_url) == (consent.CONSENT_VERSION, consent.TEXT_SHA256, "--accept", None)
    assert accepted_at.endswith("Z") and "T" in accepted_at
    shown = CliRunner().invoke(cli, ["consent", "--config", str(config)])
    assert f"Accepted on {accepted_at}" in shown.output


def test_notice_says_what_is_measured_stored_sent_to_whom_and_the_risks(tmp_path: Path) -> None:
    off = consent.notice(load_config(write_config(tmp_path)))
    for heading in ("WHAT IT MEASURES", "WHAT IT STORES", "WHAT IT SENDS, AND TO WHOM", "THE RISKS"):
        assert heading in off
    assert "your system resolver, udp://127.0.0.1:5353" in off and "AS9198" in off
    assert "never stores your public IP" in off and "upload is off" in off
    on = consent.notice(load_config(write_config(tmp_path, UPLOAD_ON)))
    assert "to the collector at http://127.0.0.1:9/" in on


def test_yes_at_the_terminal_is_recorded_and_no_measures_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consent_cli, "interactive", lambda: True)
    with running_dns_server({}) as dns, tcp_refusing_port() as refusing:
        config = write_config(tmp_path).read_text(encoding="utf-8").replace("udp://127.0.0.1:5353", dns.spec())
        (tmp_path / "probe.toml").write_text(config, encoding="utf-8")
        args = ["run", "--config", str(tmp_path / "probe.toml"), "-e", "tcp", "--url", f"127.0.0.1:{refusing.port}"]
        declined = CliRunner().invoke(cli, args, input="n\n")
        assert isinstance(declined.exception, consent.ConsentRequired)
        assert "THE RISKS" in declined.output
        assert consent_rows(tmp_path) == []
        accepted = CliRunner().invoke(cli, args, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert [row[3] for row in consent_rows(tmp_path)] == ["prompt"]
    assert sqlite3.connect(tmp_path / "data" / "probe.db").execute("select count(*) from measurements").fetchone() == (
        1,
    )


def test_turning_upload_on_asks_for_consent_again(tmp_path: Path) -> None:
    write_config(tmp_path)
    assert CliRunner().invoke(cli, ["consent", "--config", str(tmp_path / "probe.toml"), "--accept"]).exit_code == 0
    config = write_config(tmp_path, UPLOAD_ON)
    refused = CliRunner().invoke(cli, ["upload", "--config", str(config)])
    assert isinstance(refused.exception, consent.ConsentRequired)
    assert "does not cover sending to http://127.0.0.1:9/" in str(refused.exception)
    assert CliRunner().invoke(cli, ["consent", "--config", str(config), "--accept"]).exit_code == 0
    assert consent_rows(tmp_path)[-1][4] == "http://127.0.0.1:9/"
    # Covered now: the upload is tried (port 9 on loopback refuses) and reported, not refused for consent.
    db = open_database(tmp_path / "data" / "probe.db")
    fill(db, 1)
    db.close()
    tried = CliRunner().invoke(cli, ["upload", "--config", str(config)])
    assert tried.exit_code == 1 and "collector unreachable" in tried.output


def test_run_from_a_script_without_consent_measures_nothing(tmp_path: Path) -> None:
    with running_dns_server({}) as dns, tcp_refusing_port() as refusing:
        config = write_config(tmp_path).read_text(encoding="utf-8").replace("udp://127.0.0.1:5353", dns.spec())
        (tmp_path / "probe.toml").write_text(config, encoding="utf-8")
        args = ["run", "--config", str(tmp_path / "probe.toml"), "-e", "tcp", "--url", f"127.0.0.1:{refusing.port}"]
        result = CliRunner().invoke(cli, args)
    assert isinstance(result.exception, consent.ConsentRequired)
    assert "probe consent --accept" in str(result.exception)
    assert sqlite3.connect(tmp_path / "data" / "probe.db").execute("select count(*) from measurements").fetchone() == (
        0,
    )


def test_the_shipped_notice_names_the_helpers_the_controls_and_what_the_helpers_receive() -> None:
    config = load_config(ROOT / "configs" / "default.toml")
    text = consent.notice(config)
    for url in [*config.control.url, *config.network.domestic_controls, *config.network.international_controls]:
        assert url in text
    assert "every URL tested and the addresses your resolver returned for it" in text
    assert "the test helper tells from the address it sees" in text and "never stores the address" in text
