"""The command line, in process (click's runner) and, where exit codes matter, as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.dnsserver import NXDOMAIN, Answer, running_dns_server
from support.servers import http_server, page

from probe.cli.main import cli
from probe.storage import open_database

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT.parent / "shared" / "data" / "ooni-samples" / "wc_accessible_ID_archive.org_2025.json"


def write_config(tmp_path: Path, dns_spec: str) -> Path:
    path = tmp_path / "probe.toml"
    path.write_text(
        f"""
[probe]
data_dir = "{tmp_path / "data"}"
concurrency = 4
probe_asn = "AS9198"
probe_cc = "KZ"

[dns]
resolvers = ["{dns_spec}"]
timeout = 1.0
late_answer_window = 0.2

[tcp]
timeout = 1.0

[http]
timeout = 2.0
""",
        encoding="utf-8",
    )
    return path


def run_probe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "probe", *args], capture_output=True, text=True, timeout=60, cwd=ROOT)


@pytest.fixture
def measured(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A database holding one run over a reachable and an NXDOMAIN site."""
    records = {"guljan.test": Answer(("127.0.0.1",))}
    with running_dns_server(records, default=NXDOMAIN) as dns, http_server({"/": page("<title>ok</title>")}) as web:
        config = write_config(tmp_path, dns.spec())
        listing = tmp_path / "list.csv"
        listing.write_text(
            "url,category_code,category_description,date_added,source,notes\n"
            f"http://guljan.test:{web.port}/,NEWS,News Media,2026-01-01,test,\n"
            "http://ridus.test/,NEWS,News Media,2026-01-01,test,\n"
            "not-a-url,NEWS,News Media,2026-01-01,test,\n",
            encoding="utf-8",
        )
        result = CliRunner().invoke(cli, ["run", "--accept", "--config", str(config), "--list", str(listing)])
    assert result.exit_code == 0, result.output
    return config, tmp_path / "data" / "probe.db", result


def test_run_stores_every_measurement_and_prints_a_summary(measured) -> None:  # type: ignore[no-untyped-def]
    _, db_path, result = measured
    assert "line 4" in result.output and "skipped" in result.output
    assert "dns_nxdomain_error" in result.output and "(reached)" in result.output
    db = open_database(db_path)
    rows = {r["input"].split(":")[1].strip("/"): r for r in db.measurement_rows()}
    assert rows["guljan.test"]["failure"] is None
    assert rows["ridus.test"]["failure"] == "dns_nxdomain_error"
    assert rows["ridus.test"]["category_code"] == "NEWS"
    (run,) = db.runs()
    assert run["status"] == "finished" and run["measurements"] == 2
    assert "line 4" in json.loads(run["problems"])[0]


def test_results_lists_the_failing_step_and_show_prints_json(measured) -> None:  # type: ignore[no-untyped-def]
    config, db_path, _ = measured
    listing = CliRunner().invoke(cli, ["results", "--config", str(config)])
    assert listing.exit_code == 0
    assert "dns: dns_nxdomain_error" in listing.output
    measurement_id = next(open_database(db_path).measurement_rows())["id"]
    shown = CliRunner().invoke(cli, ["show", "--db", str(db_path), measurement_id])
    data = json.loads(shown.output)
    assert data["id"] == measurement_id and data["test_name"] == "web_connectivity"
    assert data["probe_cc"] == "KZ" and "verdict" in data


def test_export_writes_one_ooni_measurement_per_line(measured, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config, _, _ = measured
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(cli, ["export", "--config", str(config), "--out", str(out)])
    assert result.exit_code == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 2
    assert {line["test_name"] for line in lines} == {"web_connectivity"}
    assert all(line["probe_asn"] == "AS9198" and line["data_format_version"] == "0.2.0" for line in lines)


LOAD_WITH_OONIDATA = """
import json, sys
from oonidata.dataclient import load_measurement
for line in open(sys.argv[1], encoding="utf-8"):
    m = load_measurement(json.loads(line))
    tk = m.test_keys
    print(json.dumps({
        "type": type(m).__name__,
        "dns_failure": tk.dns_experiment_failure,
        "query_failure": tk.queries[0].failure,
        "ipv4": tk.queries[0].answers[0].ipv4 if tk.queries[0].answers else None,
        "tcp_success": tk.tcp_connect[0].status.success if tk.tcp_connect else None,
        "code": tk.requests[0].response.code if tk.requests else None,
        "title": tk.requests[0].response.body_str[:200] if tk.requests else None,
    }))
"""


def oonidata_python() -> str | None:
    """An interpreter with OONI's ``oonidata`` (it pins an old click, so CI keeps it in .venv-ooni)."""
    for python in (sys.executable, str(ROOT / ".venv-ooni" / "bin" / "python")):
        if Path(python).exists():
            check = subprocess.run([python, "-c", "import oonidata.dataclient"], capture_output=True, timeout=60)
            if check.returncode == 0:
                return python
    return None


def test_export_loads_with_ooni_own_library(measured, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    python = oonidata_python()
    if python is None:
        pytest.skip("oonidata is not installed (.ci/run puts it in .venv-ooni)")
    config, _, _ = measured
    out = tmp_path / "out.jsonl"
    CliRunner().invoke(cli, ["export", "--config", str(config), "--out", str(out)])
    loaded = subprocess.run(
        [python, "-c", LOAD_WITH_OONIDATA, str(out)], capture_output=True, text=True, timeout=120, check=True
    )
    results = [json.loads(line) for line in loaded.stdout.splitlines()]
    assert {r["type"] for r in results} == {"WebConnectivity"}
    by_failure = {r["dns_failure"]: r for r in results}
    reached = by_failure[None]
    assert (reached["code"], reached["ipv4"], reached["tcp_success"]) == (200, "127.0.0.1", True)
    assert "<title>ok</title>" in reached["title"]
    assert by_failure["dns_nxdomain_error"]["query_failure"] == "dns_nxdomain_error"


@pytest.mark.skipif(not SAMPLE.exists(), reason="../shared/data/ooni-samples is not beside the project")
def test_export_shape_matches_a_real_ooni_measurement_envelope(measured, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config, _, _ = measured
    out = tmp_path / "out.jsonl"
    CliRunner().invoke(cli, ["export", "--config", str(config), "--out", str(out)])
    ours = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    real = json.loads(SAMPLE.read_text(encoding="utf-8"))
    required = {"input", "report_id", "measurement_start_time", "test_start_time", "probe_asn", "probe_cc"}
    required |= {"test_name", "test_version", "test_runtime", "software_name", "software_version", "test_keys"}
    assert required <= set(real) and required <= set(ours)
    assert len(ours["measurement_start_time"]) == len(real["measurement_start_time"])


def test_bad_config_is_one_line_error_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[probe]\nconcurency = 3\n", encoding="utf-8")
    result = run_probe("run", "--config", str(bad), "--url", "http://x.test/")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "probe.concurency" in result.stderr and "Traceback" not in result.stderr


def test_unreadable_list_is_one_line_error(tmp_path: Path) -> None:
    result = run_probe("run", "--db", str(tmp_path / "p.db"), "--list", str(tmp_path / "none.csv"))
    assert result.returncode == 2 and "cannot read test list" in result.stderr
    assert "Traceback" not in result.stderr


def test_show_unknown_id_is_an_error(tmp_path: Path) -> None:
    result = run_probe("show", "--db", str(tmp_path / "p.db"), "nope")
    assert result.returncode == 2 and "no measurement with id 'nope'" in result.stderr


def test_dns_and_tcp_experiments_run_from_the_command_line(tmp_path: Path) -> None:
    with running_dns_server({"smsc.test": Answer(("127.0.0.1",))}) as dns, http_server({}) as web:
        config = write_config(tmp_path, dns.spec())
        db = tmp_path / "p.db"
        common = ["run", "--accept", "--config", str(config), "--db", str(db)]
        names = CliRunner().invoke(cli, [*common, "-e", "dns", "--url", "smsc.test"])
        ports = CliRunner().invoke(cli, [*common, "-e", "tcp", "--url", f"smsc.test:{web.port}"])
    assert names.exit_code == 0 and ports.exit_code == 0, names.output + ports.output
    rows = {r["experiment"]: r for r in open_database(db).measurement_rows()}
    assert rows["dns"]["failure"] is None and json.loads(rows["dns"]["test_keys"])["addresses"] == ["127.0.0.1"]
    assert rows["tcp"]["failure"] is None and json.loads(rows["tcp"]["test_keys"])["connection"] == "success"
