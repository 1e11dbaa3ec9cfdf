"""Bundles: written by `probe bundle`, checked by `probe verify`, imported exactly once by `probe collector import`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner
from support.unattended import fill, probe_identity

from probe.cli.main import cli
from probe.collector import registry
from probe.storage import open_database
from probe.upload.bundle import verify_bundle


def make_probe(tmp_path: Path, count: int = 7) -> tuple[Path, str]:
    db = open_database(tmp_path / "probe" / "probe.db")
    fill(db, count)
    identity = probe_identity(db)
    db.close()
    return tmp_path / "probe" / "probe.db", identity.public_key_b64


def bundle(db_path: Path, out: Path, *extra: str) -> None:
    config = out.parent / "small-batches.toml"
    config.write_text("[upload]\nbatch_size = 3\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["bundle", "--config", str(config), "--db", str(db_path), "--out", str(out), *extra]
    )
    assert result.exit_code == 0, result.output


def test_bundle_imported_twice_stores_every_measurement_once(tmp_path: Path) -> None:
    db_path, public_key = make_probe(tmp_path)
    out = tmp_path / "handover.jsonl"
    bundle(db_path, out)
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert len(out.read_text(encoding="utf-8").splitlines()) == 5  # 3 + 3 + 1 records, the run, the signed end
    collector = tmp_path / "collector.db"
    runner = CliRunner()
    assert runner.invoke(cli, ["collector", "register", "--db", str(collector), public_key]).exit_code == 0
    first = runner.invoke(cli, ["collector", "import", "--db", str(collector), str(out)])
    assert first.exit_code == 0 and "7 measurements stored" in first.output
    again = runner.invoke(cli, ["collector", "import", "--db", str(collector), str(out)])
    assert again.exit_code == 0 and "0 measurements stored, 7 already there" in again.output
    ids = [row[0] for row in sqlite3.connect(collector).execute("select id from measurements")]
    assert sorted(ids) == sorted(row[0] for row in sqlite3.connect(db_path).execute("select id from measurements"))
    assert runner.invoke(cli, ["verify", str(collector)]).exit_code == 0


def test_row_altered_in_a_bundle_is_reported_by_verify_and_refused_by_import(tmp_path: Path) -> None:
    db_path, public_key = make_probe(tmp_path)
    out = tmp_path / "handover.jsonl"
    bundle(db_path, out)
    assert verify_bundle(out).ok
    lines = out.read_text(encoding="utf-8").splitlines()
    batch = json.loads(lines[1])
    batch["measurements"][1]["failure"] = None  # record 5 "was reached"
    lines[1] = json.dumps(batch)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = CliRunner().invoke(cli, ["verify", str(out)])
    assert result.exit_code == 1
    first_problem = result.output.splitlines()[1]
    assert "ALTERED" in first_problem and "record 5 " in first_problem and "line 2" in first_problem

    collector = open_database(tmp_path / "collector.db")
    registry.register(collector, public_key)
    from probe.collector.importer import import_bundle

    report = import_bundle(collector, out)
    assert len(report.refused) == 1 and report.refused[0].startswith("line 2:")
    assert report.stored == 4  # lines 1 and 3 went in; line 2 can be brought again, intact, later
    collector.close()


def test_bundle_since_holds_the_chain_from_that_time_on(tmp_path: Path) -> None:
    db_path, _ = make_probe(tmp_path, 3)
    conn = sqlite3.connect(db_path)
    conn.execute("update measurements set started_at = '2026-01-01T00:00:00.000000Z' where chain_seq = 1")
    conn.commit()
    conn.close()
    db = open_database(db_path)
    fill(db, 2)  # seq 4 and 5
    db.close()
    out = tmp_path / "recent.jsonl"
    bundle(db_path, out, "--since", "2026-02-01")
    verification = verify_bundle(out)
    (chain,) = verification.chains
    assert verification.ok and (chain.first_seq, chain.last_seq) == (2, 5)
    assert "records before 2 are not held here" in verification.describe()


def test_bundle_line_that_is_not_a_batch_is_reported(tmp_path: Path) -> None:
    db_path, _ = make_probe(tmp_path, 2)
    out = tmp_path / "handover.jsonl"
    bundle(db_path, out)
    with out.open("a", encoding="utf-8") as stream:
        stream.write('{"format": "something else"}\n')
    verification = verify_bundle(out)
    problems = [str(problem) for problem in verification.problems]
    assert not verification.ok and any("line 4 is not a valid batch" in problem for problem in problems)
    assert any("line 4 comes after the bundle's signed end (line 3)" in problem for problem in problems)
