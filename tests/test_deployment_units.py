"""The collector's and the test helper's systemd units: the installed probe, a user of their own, systemd's
hardening, and units systemd itself parses without a complaint (where ``systemd-analyze`` is installed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from probe.defaults import SYSTEMD_UNITS, shipped

UNITS = {
    "zhanaozen-collector.service": ("collector serve", "zhanaozen-collector"),
    "zhanaozen-helper.service": ("helper serve", "zhanaozen-helper"),
}
HARDENING = (
    "NoNewPrivileges=yes",
    "PrivateTmp=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateDevices=yes",
    "CapabilityBoundingSet=",
    "UMask=0077",
)


def unit_lines(name: str) -> list[str]:
    return (shipped(SYSTEMD_UNITS) / name).read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("name", sorted(UNITS))
def test_server_units_run_the_installed_probe_as_their_own_user_with_hardening(name: str) -> None:
    command, user = UNITS[name]
    lines = unit_lines(name)
    [exec_start] = [line for line in lines if line.startswith("ExecStart=")]
    assert exec_start.startswith(f"ExecStart=/usr/local/bin/probe {command} ")
    assert f"User={user}" in lines and f"Group={user}" in lines
    assert f"StateDirectory={user}" in lines and f"ReadWritePaths=/var/lib/{user}" in lines
    for directive in HARDENING:
        assert directive in lines, f"{name}: {directive}"
    assert not any(line.startswith(("WorkingDirectory", "Environment=PROBE_HELPER_TOKEN")) for line in lines)


def test_the_collector_listens_on_loopback_only_behind_its_proxy() -> None:
    [exec_start] = [line for line in unit_lines("zhanaozen-collector.service") if line.startswith("ExecStart=")]
    assert "--host 127.0.0.1" in exec_start and "--config /etc/zhanaozen-collector/" in exec_start


def test_the_helper_token_is_a_credential_not_a_readable_file() -> None:
    lines = unit_lines("zhanaozen-helper.service")
    assert "LoadCredential=token:/etc/zhanaozen-helper/token" in lines
    assert any("--token-file ${CREDENTIALS_DIRECTORY}/token" in line for line in lines)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_parses_the_units_without_a_warning(tmp_path: Path) -> None:
    for name in UNITS:
        # The installed probe need not exist here: any executable stands in for it.
        text = (shipped(SYSTEMD_UNITS) / name).read_text(encoding="utf-8").replace("/usr/local/bin/probe", "/bin/true")
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / name) for name in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.strip() == "" and result.stderr.strip() == "", result.stderr
