"""``probe outages`` on a probe's and a collector's database, its formats, ``--save``, and the Datasette
canned queries that read what it saved."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_outages import GULJAN, TWITTER, Series, collector, t

from probe.analysis.windows import FIELDS
from probe.cli.main import cli
from probe.cli.outages import parse_time
from probe.errors import ProbeError
from probe.storage import open_database

ROOT = Path(__file__).resolve().parent.parent
METADATA = ROOT / "configs" / "datasette" / "metadata.json"


def probe_db(path: Path) -> Path:
    series = Series(open_database(path))
    series.rounds({TWITTER: "oo ddd oo", GULJAN: "oo ooo oo", "network": "oo ooo oo"})
    series.db.close()
    return path


def outages(*args: str) -> str:
    result = CliRunner().invoke(cli, ["outages", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_table_lists_the_window_with_its_bounds(tmp_path: Path) -> None:
    text = outages("--db", str(probe_db(tmp_path / "probe.db")))
    header, rule, row = text.splitlines()
    assert header.split() == [
        "target",
        "kind",
        "how",
        "start",
        "between",
        "end",
        "between",
        "failing",
        "probes",
        "network",
        "confidence",
        "severity",
    ]
    assert set(rule.replace(" ", "")) == {"-"}
    assert row.startswith(f"{TWITTER}  targeted_block  dns/dns_nxdomain  2026-11-21 00:10:01Z .. 2026-11-21 00:20:01Z")
    assert "3/3" in row and "1/1" in row and "AS9198" in row


def test_json_and_csv_carry_every_field(tmp_path: Path) -> None:
    path = str(probe_db(tmp_path / "probe.db"))
    [window] = json.loads(outages("--db", path, "--format", "json"))
    assert tuple(window) == FIELDS
    assert (window["start_min"], window["start_max"], window["end_min"], window["end_max"]) == (
        t(1, 1),
        t(2, 1),
        t(4, 1),
        t(5, 1),
    )
    assert window["ongoing"] is False and window["confidence_label"] == "medium"  # 0.85 × (1 − 1/8)
    [row] = list(csv.DictReader(io.StringIO(outages("--db", path, "--format", "csv"))))
    assert row["kind"] == "targeted_block" and row["end_max"] == t(5, 1)


def test_no_window_says_so(tmp_path: Path) -> None:
    assert outages("--db", str(probe_db(tmp_path / "probe.db")), "--target", "guljan.org") == "no outage windows\n"


def test_hysteresis_options_and_periods(tmp_path: Path) -> None:
    path = str(probe_db(tmp_path / "probe.db"))
    assert outages("--db", path, "--open-after", "4") == "no outage windows\n"
    assert "targeted_block" in outages("--db", path, "--since", "2026-11-21T00:30Z", "--until", "2026-11-21")
    assert outages("--db", path, "--since", "2026-11-22") == "no outage windows\n"


def test_collector_database_grouped_by_network_region_or_probe(tmp_path: Path) -> None:
    path = tmp_path / "collector.db"
    series = collector()
    series.db.db.conn.execute("vacuum into ?", (str(path),))
    by_network = json.loads(outages("--db", str(path), "--format", "json"))
    assert [(w["target"], w["network"], w["probes"], w["probes_total"]) for w in by_network] == [
        ("network", "AS21299", 1, 1),
        (TWITTER, "AS9198", 2, 3),
    ]
    by_probe = json.loads(outages("--db", str(path), "--format", "json", "--by", "probe", "--network", "AS9198"))
    assert sorted(w["probe"][:1] for w in by_probe) == ["a", "b"]
    by_region = json.loads(outages("--db", str(path), "--format", "json", "--by", "region", "--target", "network"))
    assert [(w["region"], w["probes_total"]) for w in by_region] == [("KZ", 4)]


def test_bad_times_are_one_line_errors() -> None:
    with pytest.raises(ProbeError, match="--since: not a date"):
        parse_time("yesterday", "--since")
    assert parse_time("2026-11-21", "--until") == "2026-11-22T00:00:00.000000Z"
    assert parse_time("2026-11-21T08:00+06:00", "--since") == "2026-11-21T02:00:00.000000Z"


def test_saved_windows_feed_the_datasette_canned_queries(tmp_path: Path) -> None:
    path = str(probe_db(tmp_path / "probe.db"))
    result = CliRunner().invoke(cli, ["outages", "--db", path, "--save"])
    assert result.exit_code == 0 and "1 windows saved in outage_windows" in result.output
    metadata = json.loads(METADATA.read_text(encoding="utf-8"))
    databases = metadata["databases"]
    assert set(databases) == {"probe", "collector"} and databases["probe"] == databases["collector"]
    queries = databases["probe"]["queries"]
    assert {"latest_verdicts", "outage_windows"} <= set(queries)
    conn = sqlite3.connect(path)
    results = {}
    for name, query in queries.items():
        cursor = conn.execute(query["sql"], {"since": "", "until": ""})
        results[name] = [dict(zip([c[0] for c in cursor.description], row, strict=True)) for row in cursor]
    [window] = results["outage_windows"]
    assert (window["target"], window["kind"], window["start_max"]) == (TWITTER, "targeted_block", t(2, 1))
    latest = {row["input"]: row["verdict"] for row in results["latest_verdicts"]}
    assert latest == {TWITTER: "accessible", GULJAN: "accessible"}
    assert len(results["heartbeats"]) == 7 and len(results["network_states"]) == 14
    assert results["daily_reachability"][0]["measurements"] == 7
