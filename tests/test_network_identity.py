"""The network's identity without typing it: the helper answers ASN, name and country of the address it sees
(from MMDB files built here for loopback), the probe stores them per run, and says so when nobody could tell."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from mmdb_writer import MMDBWriter
from netaddr import IPSet
from support.servers import http_server, page

from probe.cli.main import cli
from probe.config import Config
from probe.helper.ipdb import IPDatabases
from probe.helper.server import HelperOptions, HelperServer
from probe.model.control import ControlRequest
from probe.net.control import Helpers
from probe.storage import open_database

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.0/8"


def mmdb(path: Path, record: dict[str, Any], network: str = LOOPBACK) -> Path:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="test")
    writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path


def dbip_files(tmp_path: Path, asn: int, name: str, cc: str) -> tuple[Path, Path]:
    """DB-IP lite / GeoLite2 layout: one ASN file, one country file."""
    asn_db = mmdb(
        tmp_path / f"asn-{asn}.mmdb", {"autonomous_system_number": asn, "autonomous_system_organization": name}
    )
    country_db = mmdb(tmp_path / f"country-{asn}.mmdb", {"country": {"iso_code": cc}})
    return asn_db, country_db


@contextmanager
def helper_with(databases: IPDatabases | None) -> Iterator[HelperServer]:
    options = HelperOptions(allow_private=True, test_loopback=True, ip_databases=databases)
    with HelperServer(Config(), port=0, options=options) as server:
        yield server


def test_the_helper_tells_the_clients_network_from_dbip_style_files(tmp_path: Path) -> None:
    asn_db, country_db = dbip_files(tmp_path, 64500, "Zhanaozen Test Telecom", "KZ")
    with http_server({"/": page("<title>x</title>")}) as web, helper_with(IPDatabases(asn_db, country_db)) as helper:
        answer, failure = Helpers([helper.url]).ask(ControlRequest(http_request=web.url("/")), timeout=10)
    assert failure is None and answer is not None
    assert answer.x_client_network is not None
    assert answer.x_client_network.model_dump() == {"asn": 64500, "as_name": "Zhanaozen Test Telecom", "cc": "KZ"}
    assert answer.ip_info["127.0.0.1"].asn == 64500  # the target's address, looked up in the same file
    assert "127.0.0.1" not in answer.x_client_network.model_dump_json()


def test_ipinfo_lite_layout_and_unknown_addresses(tmp_path: Path) -> None:
    both = mmdb(tmp_path / "ipinfo_lite.mmdb", {"asn": "AS9198", "as_name": "JSC Kazakhtelecom", "country_code": "KZ"})
    databases = IPDatabases(both, both)
    assert databases.network("127.0.0.5").model_dump() == {"asn": 9198, "as_name": "JSC Kazakhtelecom", "cc": "KZ"}
    assert databases.network("192.0.2.1").model_dump() == {"asn": 0, "as_name": "", "cc": "ZZ"}
    assert databases.network("not an address").known is False


def test_probe_helper_serve_reads_the_files_given_on_the_command_line(tmp_path: Path) -> None:
    asn_db, country_db = dbip_files(tmp_path, 64501, "Lab Net", "KZ")
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    args = ["helper", "serve", "--port", str(port), "--allow-private-addresses"]
    args += ["--asn-db", str(asn_db), "--country-db", str(country_db)]
    process = subprocess.Popen([sys.executable, "-m", "probe", *args], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None and "listening" in process.stderr.readline()
        with http_server({"/": page("<title>x</title>")}) as web:
            request = ControlRequest(http_request=web.url("/"))
            answer, _ = Helpers([f"http://127.0.0.1:{port}/"]).ask(request, timeout=10)
        assert answer is not None and answer.x_client_network is not None
        assert (answer.x_client_network.asn, answer.x_client_network.cc) == (64501, "KZ")
    finally:
        process.terminate()
        process.wait(timeout=10)


def run_probe(tmp_path: Path, helper_url: str, url: str) -> tuple[str, list[dict[str, Any]], list[str]]:
    config = tmp_path / "probe.toml"
    config.write_text(
        f'[probe]\ndata_dir = "{tmp_path / "data"}"\n[tcp]\ntimeout = 1.0\n'
        f'[control]\nurl = ["{helper_url}"]\nretries = 0\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["run", "--accept", "--config", str(config), "--url", url])
    assert result.exit_code == 0, result.output
    db = open_database(tmp_path / "data" / "probe.db")
    try:
        runs = db.runs()
        asns = [row["probe_asn"] for row in db.measurement_rows()]
    finally:
        db.close()
    return result.output, runs, asns


def test_a_run_stores_the_network_the_helper_told_and_a_change_between_runs(tmp_path: Path) -> None:
    home = dbip_files(tmp_path, 64500, "Zhanaozen Test Telecom", "KZ")
    vpn = dbip_files(tmp_path, 64999, "Some VPN", "NL")
    with http_server({"/": page("<title>x</title>")}) as web:
        with helper_with(IPDatabases(*home)) as helper:
            output, runs, asns = run_probe(tmp_path, helper.url, web.url("/"))
        assert "network: AS64500, Zhanaozen Test Telecom, KZ (told by the test helper)" in output
        assert (runs[0]["probe_asn"], runs[0]["probe_cc"], runs[0]["probe_network_name"]) == (
            "AS64500",
            "KZ",
            "Zhanaozen Test Telecom",
        )
        assert runs[0]["network_source"] == "helper" and asns == ["AS64500"]
        with helper_with(IPDatabases(*vpn)) as helper:
            _, runs, _ = run_probe(tmp_path, helper.url, web.url("/?again"))
    assert sorted((run["probe_asn"], run["probe_cc"]) for run in runs) == [("AS64500", "KZ"), ("AS64999", "NL")]


def test_without_a_helper_that_can_tell_the_run_is_as0_zz_and_says_so_in_one_line(tmp_path: Path) -> None:
    with http_server({"/": page("<title>x</title>")}) as web, helper_with(None) as helper:
        output, runs, asns = run_probe(tmp_path, helper.url, web.url("/"))
    lines = [line for line in output.splitlines() if line.startswith("network:")]
    assert len(lines) == 1 and "AS0" in lines[0] and "ZZ" in lines[0] and "not known" in lines[0]
    assert (runs[0]["probe_asn"], runs[0]["probe_cc"], runs[0]["network_source"]) == ("AS0", "ZZ", "unknown")
    assert asns == ["AS0"]
