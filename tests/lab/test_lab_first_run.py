"""A volunteer's first run, in the namespace lab: the shipped config, with only its helper list pointed at a lab
helper (and the lab's CA trusted), concludes something on its first run.

On a clean network: no ``inconclusive`` verdict, the probe's ASN and country told by the helper (from MMDB
files built here for the lab's addresses), and a network state from the shipped Kazakh and international
controls (which the lab serves). Under a DNS block of twitter.com, the run reports the block. Every packet
stays in the lab: the shipped config's other resolver (8.8.8.8) has no route there and fails at once.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from probe.lab import plan
from probe.lab.lab import Lab

from .labsupport import PROBE_RUN_LIMIT

pytestmark = [pytest.mark.root, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "configs" / "default.toml"
HELPER_PORT = 8766
LAB_ASN, LAB_NETWORK, LAB_CC = 64555, "Zhanaozen Lab Telecom", "KZ"


def lab_mmdb(path: Path, record: dict[str, Any]) -> Path:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="lab")
    writer.insert_network(IPSet([str(plan.LAB_NETWORK)]), record)
    writer.to_db_file(str(path))
    return path


@pytest.fixture(scope="module")
def helper(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("first-run-helper")
    asn_db = lab_mmdb(
        directory / "asn.mmdb", {"autonomous_system_number": LAB_ASN, "autonomous_system_organization": LAB_NETWORK}
    )
    country_db = lab_mmdb(directory / "country.mmdb", {"country": {"iso_code": LAB_CC}})
    with lab.test_helper(directory, port=HELPER_PORT, timeout=2.0, asn_db=asn_db, country_db=country_db) as url:
        yield url


@pytest.fixture(scope="module")
def shipped_config(lab: Lab, helper: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped config, its helper list replaced by the lab helper and the lab CA trusted; nothing else changed
    (its relative paths still name the shipped list and fingerprints)."""
    text = SHIPPED.read_text(encoding="utf-8")
    text, helpers = re.subn(r"(?m)^url = \[.*th\.ooni\.org.*\]$", f'url = ["{helper}"]', text)
    text, cas = re.subn(r"(?m)^# ca_bundle = .*$", f'ca_bundle = "{lab.ca_path}"', text, count=1)
    assert helpers == 1 and cas == 1
    text = text.replace('"lists/', f'"{SHIPPED.parent}/lists/').replace(
        '"fingerprints/', f'"{SHIPPED.parent}/fingerprints/'
    )
    path = tmp_path_factory.mktemp("first-run") / "probe.toml"
    path.write_text(text, encoding="utf-8")
    return path


def first_run(lab: Lab, config: Path, db: Path) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    done = lab.run_probe(["run", "--accept", "--config", str(config), "--db", str(db)], timeout=PROBE_RUN_LIMIT)
    assert done.returncode == 0, done.stderr
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        rows = [dict(row) for row in conn.execute("select * from measurements")]
        (run,) = [dict(row) for row in conn.execute("select * from runs")]
    finally:
        conn.close()
    return done.stdout, rows, run


def test_the_shipped_config_concludes_on_a_clean_network(lab: Lab, shipped_config: Path, tmp_path: Path) -> None:
    lab.scenario("clean")
    output, rows, run = first_run(lab, shipped_config, tmp_path / "probe.db")
    assert len(rows) >= 7
    verdicts = {row["input"]: (row["verdict"], row["reason"]) for row in rows}
    assert not [item for item in verdicts.items() if item[1][0] == "inconclusive"], verdicts
    assert verdicts["https://twitter.com/"][0] == "accessible" and verdicts["http://guljan.org/"][0] == "accessible"
    assert {row["network_state"] for row in rows} == {"ok"}
    assert (run["probe_asn"], run["probe_cc"], run["probe_network_name"]) == (f"AS{LAB_ASN}", LAB_CC, LAB_NETWORK)
    assert {row["probe_asn"] for row in rows} == {f"AS{LAB_ASN}"}
    assert f"network: AS{LAB_ASN}, {LAB_NETWORK}, {LAB_CC} (told by the test helper)" in output
    assert "nothing could be concluded" not in output


def test_the_shipped_config_reports_a_dns_block(lab: Lab, shipped_config: Path, tmp_path: Path) -> None:
    lab.scenario("dns_nxdomain")
    try:
        output, rows, _ = first_run(lab, shipped_config, tmp_path / "probe.db")
    finally:
        lab.scenario("clean")
    twitter = next(row for row in rows if row["input"] == "https://twitter.com/")
    assert (twitter["verdict"], twitter["blocking"], twitter["blocking_detail"]) == ("blocked", "dns", "dns_nxdomain")
    assert "blocked: " in output and "https://twitter.com/  (dns_nxdomain)" in output
