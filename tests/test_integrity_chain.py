"""The hash chain in a probe's database: every save extends it, and `probe verify` finds the first problem."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import sqlite_utils
from click.testing import CliRunner
from support.unattended import fill, probe_identity

from probe.cli.main import cli
from probe.integrity.heads import sign_local_head
from probe.integrity.verify import verify_database
from probe.storage import open_database
from probe.storage.chain import GENESIS, record_hash
from probe.storage.columns import CHAINED_COLUMNS as CHAINED_FIELDS
from probe.storage.migrations import MIGRATIONS
from probe.storage.own_chain import local_chain_tail


def chained_db(tmp_path: Path, count: int = 6) -> Path:
    path = tmp_path / "probe.db"
    db = open_database(path)
    fill(db, count)
    db.close()
    return path


def execute(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    with conn:
        for statement in statements:
            conn.execute(statement)
    conn.close()


def test_every_saved_measurement_extends_the_chain_in_insertion_order(tmp_path: Path) -> None:
    path = chained_db(tmp_path)
    rows = (
        sqlite3.connect(path)
        .execute("select chain_seq, chain_prev, chain_hash from measurements order by rowid")
        .fetchall()
    )
    assert [row[0] for row in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0][1] == GENESIS
    assert all(rows[i][1] == rows[i - 1][2] for i in range(1, len(rows)))
    verification = verify_database(path)
    assert verification.ok and verification.records == 6


def test_altered_record_is_reported_as_the_first_altered_one(tmp_path: Path) -> None:
    path = chained_db(tmp_path)
    execute(
        path,
        "update measurements set failure = null where chain_seq = 4",
        "update measurements set input = 'x' where chain_seq = 5",
    )
    verification = verify_database(path)
    assert not verification.ok
    problem = verification.chains[0].problem
    assert problem is not None and problem.kind == "altered" and "record 4 " in problem.message


def test_deleted_record_is_reported_missing(tmp_path: Path) -> None:
    path = chained_db(tmp_path)
    execute(path, "delete from measurements where chain_seq = 3")
    problem = verify_database(path).chains[0].problem
    assert problem is not None and problem.kind == "missing" and "record 3 missing" in problem.message


def test_swapped_records_are_reported_reordered(tmp_path: Path) -> None:
    path = chained_db(tmp_path)
    execute(
        path,
        "update measurements set chain_seq = -2 where chain_seq = 2",
        "update measurements set chain_seq = 2 where chain_seq = 3",
        "update measurements set chain_seq = 3 where chain_seq = -2",
    )
    problem = verify_database(path).chains[0].problem
    assert problem is not None and problem.kind == "reordered" and "record 2 " in problem.message


def test_verdict_columns_filled_later_leave_the_chain_intact(tmp_path: Path) -> None:
    path = chained_db(tmp_path)
    execute(path, "update measurements set verdict = 'blocked', blocking = 'tcp_ip', blocking_detail = 'reset'")
    assert verify_database(path).ok


def test_chain_rewritten_after_its_head_was_signed_is_caught_by_the_signature(tmp_path: Path) -> None:
    path = tmp_path / "probe.db"
    db = open_database(path)
    fill(db, 4)
    sign_local_head(db, probe_identity(db))
    db.close()
    # Alter record 2 and recompute every hash after it, as a careful forger without the key would.
    conn = sqlite3.connect(path)
    conn.execute("update measurements set failure = null where chain_seq = 2")
    columns = ", ".join(CHAINED_FIELDS)
    prev = GENESIS
    for values in conn.execute(f"select chain_seq, {columns} from measurements order by chain_seq").fetchall():
        row = dict(zip(CHAINED_FIELDS, values[1:], strict=True))
        new = record_hash(values[0], prev, row)
        conn.execute(
            "update measurements set chain_prev = ?, chain_hash = ? where chain_seq = ?", (prev, new, values[0])
        )
        prev = new
    conn.commit()
    conn.close()
    problem = verify_database(path).chains[0].problem
    assert problem is not None and problem.kind == "altered" and "rewritten after signing" in problem.message


def test_measurement_inserted_behind_the_probes_back_is_reported_unchained(tmp_path: Path) -> None:
    path = chained_db(tmp_path, 2)
    execute(path, "insert into measurements (id, run_id, experiment, input) values ('forged', 'r', 'web', 'http://x/')")
    verification = verify_database(path)
    assert not verification.ok
    assert verification.problems[0].kind == "unchained" and "forged" in verification.problems[0].message


def test_measurements_saved_before_the_chain_existed_are_chained_by_the_migration(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    legacy = sqlite_utils.Database(path)
    legacy["schema_migrations"].create({"version": int, "name": str, "applied_at": str}, pk="version")  # type: ignore[union-attr]
    MIGRATIONS[0][2](legacy)
    legacy["schema_migrations"].insert({"version": 1, "name": "initial", "applied_at": "2026-01-01"})  # type: ignore[union-attr]
    donor = open_database(":memory:")
    fill(donor, 3)
    for row in donor.measurement_rows():
        legacy["measurements"].insert({k: v for k, v in row.items() if k in legacy["measurements"].columns_dict})  # type: ignore[union-attr]
    legacy.close()
    db = open_database(path)
    assert [row["chain_seq"] for row in db.db.query("select chain_seq from measurements order by rowid")] == [1, 2, 3]
    fill(db, 1)  # the chain goes on from there
    db.close()
    verification = verify_database(path)
    assert verification.ok and verification.records == 4


def test_two_processes_saving_into_one_database_never_share_a_seq(tmp_path: Path) -> None:
    path = tmp_path / "probe.db"
    open_database(path).close()
    errors: list[BaseException] = []

    def save_some() -> None:
        try:
            db = open_database(path)  # its own connection, as a second process would have
            fill(db, 15)
            db.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=save_some) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    verification = verify_database(path)
    assert verification.ok and verification.records == 30


def test_probe_verify_says_verified_with_counts_and_exits_1_on_an_altered_row(tmp_path: Path) -> None:
    path = chained_db(tmp_path, 3)
    runner = CliRunner()
    good = runner.invoke(cli, ["verify", str(path)])
    assert good.exit_code == 0, good.output
    assert good.output.startswith("verified:") and "3 records" in good.output
    execute(path, "update measurements set test_keys = '{}' where chain_seq = 2")
    bad = runner.invoke(cli, ["verify", str(path)])
    assert bad.exit_code == 1
    assert "ALTERED" in bad.output and "record 2 " in bad.output


def test_the_chains_tail_is_found_through_its_index_not_by_reading_every_row(tmp_path: Path) -> None:
    # Each save reads the tail: a scan of the probe's rows (bodies and all) made saves slower as a run grew.
    db = open_database(chained_db(tmp_path, count=3))
    statements: list[str] = []
    db.db.conn.set_trace_callback(statements.append)
    try:
        assert local_chain_tail(db.db.conn)[0] == 3
        plan = " ".join(str(row[-1]) for row in db.db.conn.execute(f"explain query plan {statements[-1]}"))
    finally:
        db.db.conn.set_trace_callback(None)
        db.close()
    assert "USING INDEX measurements_chain_epoch" in plan and "TEMP B-TREE" not in plan, plan
