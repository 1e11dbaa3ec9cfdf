"""A machine that is not connected (Wi-Fi off, cable out): ``probe run`` in a network namespace with only loopback.

No route, no address but loopback, no gateway, every connection ``network_unreachable``: that is this machine, a
``local_fault``, said in one line at the end of the run, and never a shutdown: not in a verdict, a network context,
an outage window or a record an upload would send. The namespace is made here (root and ``ip`` needed; the test
skips with the reason otherwise); its resolver is a TEST-NET address it has no route to, so nothing is ever sent.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe.analysis import OutageQuery, find_outages
from probe.storage import open_database
from probe.upload.queue import measurement_records, network_context_records

pytestmark = pytest.mark.root

NETNS_ETC = Path("/etc/netns")
RESOLVER = "198.18.0.53"
"""The namespace's only resolver (resolv.conf and ``[dns] resolvers``): a lab address it has no route to."""
RUN_LIMIT = 120.0
"""Seconds one run may take (every step fails at once; the bound holds on a loaded 2-core machine)."""
TARGETS = ("https://twitter.com/", "http://guljan.org/", "https://ridus.ru/")


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root to make a network namespace (CI runs as root)"
    if shutil.which("ip") is None:
        return "needs ip(8) (Debian: iproute2) to make a network namespace"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def offline() -> Iterator[str]:
    """A network namespace with loopback up and nothing else (no interface, address or route): its name."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    name = f"zp-offline-{secrets.token_hex(3)}"
    etc = NETNS_ETC / name
    try:
        _ip("netns", "add", name)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot make a network namespace here: {exc.stderr.decode(errors='replace').strip()}")
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        etc.mkdir(parents=True, exist_ok=True)  # ``ip netns exec`` mounts these over /etc's
        (etc / "resolv.conf").write_text(f"nameserver {RESOLVER}\n", encoding="ascii")
        (etc / "hosts").write_text("127.0.0.1 localhost\n", encoding="ascii")
        (etc / "nsswitch.conf").write_text("hosts: files dns\n", encoding="ascii")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True, timeout=30)
        shutil.rmtree(etc, ignore_errors=True)


CONTROLS = (
    '[network]\ndomestic_controls = ["https://www.gov.kz/", "https://kaspi.kz/"]\n'
    'international_controls = ["https://www.wikipedia.org/"]\ngateway = "auto"\n'
)
NO_CONTROLS = '[network]\ngateway = "auto"\n'


def _config(tmp_path: Path, network: str) -> Path:
    """A volunteer's config with a helper (and network controls, or none); every name and address is unreachable."""
    config = tmp_path / "probe.toml"
    config.write_text(
        f'[probe]\ndata_dir = "{tmp_path / "data"}"\n'
        f'[dns]\nresolvers = ["udp://{RESOLVER}:53"]\ntimeout = 2.0\n[tcp]\ntimeout = 2.0\n'
        '[control]\nurl = ["https://198.18.0.80/"]\nretries = 1\nretry_delay = 0.0\n' + network,
        encoding="utf-8",
    )
    return config


def _run(namespace: str, config: Path, db: Path) -> subprocess.CompletedProcess[str]:
    args = ["run", "--accept", "--config", str(config), "--db", str(db)]
    args += [arg for target in TARGETS for arg in ("--url", target)]
    return subprocess.run(
        ["ip", "netns", "exec", namespace, sys.executable, "-m", "probe", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_LIMIT,
        check=False,
    )


@pytest.mark.parametrize("network", [CONTROLS, NO_CONTROLS], ids=["with-controls", "without-controls"])
def test_a_machine_that_is_not_connected_is_a_local_fault_said_in_one_line_and_never_a_shutdown(
    offline: str, tmp_path: Path, network: str
) -> None:
    config, db_path = _config(tmp_path, network), tmp_path / "probe.db"
    runs = [_run(offline, config, db_path) for _ in range(2)]  # two rounds: enough to open a window
    for done in runs:
        assert done.returncode == 0, done.stderr
        assert "shutdown" not in done.stdout + done.stderr
        said = [line for line in done.stdout.splitlines() if "not connected" in line]
        assert said == [done.stdout.splitlines()[-1]]  # one line, the last
        assert said[0].startswith("this machine is not connected") and "3 targets" in said[0]
        assert not any(target in done.stdout for target in TARGETS)  # not listed one by one
    db = open_database(db_path)
    try:
        rows = list(db.measurement_rows())
        assert sorted(row["input"] for row in rows) == sorted(TARGETS * 2)
        for row in rows:
            assert (row["verdict"], row["network_state"]) == ("network_down", "local_fault")
            assert "this machine is not connected" in row["reason"]
        run_ids = [run["id"] for run in db.runs()]
        contexts = network_context_records(db, run_ids)
        assert [context["network_state"] for context in contexts] == ["local_fault"] * 4  # start and end of each run
        windows = find_outages(db.db.conn, OutageQuery(by="probe"))
        assert windows and {window.kind for window in windows} == {"local_fault"}
        records = measurement_records(db, after_seq=0, limit=100, max_bytes=1 << 24)
        assert len(records) == len(rows)
        assert "shutdown" not in json.dumps([records, contexts])
    finally:
        db.close()
