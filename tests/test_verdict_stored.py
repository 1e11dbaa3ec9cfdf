"""What leaves the probe with a verdict: the stored columns (migration 8: rule, rules_version, suspected) and
OONI's ``blocking`` in the ``ooni-jsonl`` export, a method only for ``blocked``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_verdict_rules import HTTPS_URL, URL, connect, control, handshake, keys, query, request

from probe.cli.main import cli
from probe.config import Config
from probe.experiments.base import Context, Outcome, measure
from probe.export import export
from probe.model import Measurement, WebTestKeys, utc_now_iso
from probe.stage.verdicts import VerdictStage
from probe.storage import Database, open_database
from probe.storage.columns import VERDICT_ROW_COLUMNS
from probe.storage.migrations import MIGRATIONS
from probe.verdict.rules import RULES_VERSION, Verdict

PARKED = request(body="<html><body>ads</body></html>", headers={"Server": "Apache", "Content-Type": "text/html"})


class _Recorded:
    """An experiment that returns web test keys written in the test (a measurement as the probe stores it)."""

    name = "web"
    version = "0.1.0"
    test_name = "web_connectivity"

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def check_input(self, value: str) -> str | None:
        return None

    def run(self, value: str, ctx: Context) -> Measurement:
        data = {**self.data}
        for name in ("queries", "tcp_connect", "tls_handshakes", "requests"):
            data[name] = [{"t0": 0.0, "t": 0.01, "transaction_id": 1, **entry} for entry in data.get(name) or []]
        test_keys = WebTestKeys.model_validate(data)
        return measure(self, value, ctx, lambda trace: Outcome(test_keys, None, None))


def judged_db(*cases: tuple[str, dict[str, Any]], path: Path | str = ":memory:") -> tuple[Database, list[str]]:
    """A database with the measurements of ``cases`` judged and stored as the runner stores them, and their ids."""
    config = Config()
    db = open_database(path)
    db.start_run({"id": "run1", "started_at": utc_now_iso(), "experiment": "web"})
    stage = VerdictStage.start(config, measure_controls=False)
    ids = []
    for url, data in cases:
        measurement = stage.judge(_Recorded(data).run(url, Context(config, "run1", utc_now_iso())))
        db.save(measurement, "run1", verdict_columns=stage.columns(measurement))
        ids.append(measurement.id)
    return db, ids


def judged_rows(*cases: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    db, _ = judged_db(*cases)
    out = io.StringIO()
    export(db, out, fmt="ooni-jsonl")
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_migration_8_adds_the_rule_columns() -> None:
    assert (8, "verdict rule ids, rules version and suspected method") in [(n, d) for n, d, _ in MIGRATIONS]
    db = open_database(":memory:")
    assert {"rule", "rules_version", "suspected"} <= set(db.db.table("measurements").columns_dict)


def test_an_inconclusive_verdict_exports_no_blocking_and_keeps_its_suspicion_elsewhere() -> None:
    (row,) = judged_rows((URL, keys(requests=[PARKED])))
    test_keys = row["test_keys"]
    assert (test_keys["blocking"], test_keys["accessible"]) == (None, None)
    verdict = test_keys["x_verdict"]
    assert (verdict["verdict"], verdict["suspected"], verdict["rule"], verdict["rules_version"]) == (
        "inconclusive",
        "http-diff",
        "http_diff",
        RULES_VERSION,
    )
    assert verdict["blocking_detail"] is None


def test_a_blocked_verdict_exports_oonis_method_and_csv_carries_the_rule() -> None:
    reset = handshake("connection_reset")
    tls_data = keys(tcp=[connect(port=443)], tls=[reset], requests=[])
    tls_data["control"]["tls_handshake"] = {"198.51.100.7:443": {"server_name": "guljan.org", "status": True}}
    rows = judged_rows((HTTPS_URL, tls_data), (URL, keys()))
    by_input = {row["input"]: row["test_keys"] for row in rows}
    assert by_input[HTTPS_URL]["blocking"] == "http-failure"  # OONI files TLS interference there
    assert by_input[HTTPS_URL]["x_verdict"]["rule"] == "tls_blocked"
    assert (by_input[URL]["blocking"], by_input[URL]["accessible"]) == (False, True)


def test_csv_export_has_rule_version_and_suspected_columns() -> None:
    db, _ = judged_db((URL, keys(requests=[PARKED])))
    out = io.StringIO()
    export(db, out, fmt="csv")
    (row,) = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert (row["verdict"], row["blocking"], row["suspected"], row["rule"], row["rules_version"]) == (
        "inconclusive",
        "",
        "http-diff",
        "http_diff",
        RULES_VERSION,
    )


def test_a_verdict_judged_again_replaces_every_verdict_column_and_a_partial_row_is_refused() -> None:
    db, (measurement_id,) = judged_db((URL, keys(requests=[PARKED])))
    again = Verdict("blocked", "dns", "dns_nxdomain", True, "judged again", "dns_failure", network_state="online")
    db.set_verdict(measurement_id, again.as_row())
    stored = db.get_row(measurement_id)
    assert stored is not None
    assert {column: stored[column] for column in VERDICT_ROW_COLUMNS} == again.as_row()
    with pytest.raises(ValueError, match="rule"):
        db.set_verdict(measurement_id, {k: v for k, v in again.as_row().items() if k != "rule"})
    assert db.get_row(measurement_id) == stored


def test_probe_verdict_judges_a_ghost_dns_answer_stored_under_the_old_rules_again(tmp_path: Path) -> None:
    lie = "198.18.3.1"
    nowhere = control(addresses=(), dns_failure="dns_nxdomain_error", http_failure="dns_lookup_error")
    ghost = keys(queries=[query((lie,))], tcp=[connect(lie)], requests=[PARKED], ctrl=nowhere)
    db, (measurement_id,) = judged_db((URL, ghost), path=tmp_path / "probe.db")
    old = Verdict("site_down", reason="the control gets NXDOMAIN", rule="nxdomain_at_control", suspected="dns")
    db.set_verdict(measurement_id, {**old.as_row(), "rules_version": "3"})
    db.close()
    result = CliRunner().invoke(cli, ["verdict", "--db", str(tmp_path / "probe.db")])
    assert result.exit_code == 0, result.output
    stored = open_database(tmp_path / "probe.db").get_row(measurement_id)
    assert stored is not None
    assert (stored["verdict"], stored["blocking"], stored["blocking_detail"], stored["rule"]) == (
        "blocked",
        "dns",
        "dns_ghost",
        "ghost_dns",
    )
    assert stored["rules_version"] == RULES_VERSION != "3" and stored["suspected"] is None
