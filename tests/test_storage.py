import sqlite3
from pathlib import Path

from probe.config import Config
from probe.experiments.base import Context, Outcome, measure
from probe.model import Measurement, TCPConnect, TCPConnectStatus, TCPTestKeys, utc_now_iso
from probe.storage import open_database
from probe.storage.db import row_to_measurement
from probe.storage.migrations import MIGRATIONS, current_version


class _Fixed:
    name = "tcp"
    version = "0.1.0"
    test_name = "tcp_connect"

    def check_input(self, value: str) -> str | None:
        return None

    def run(self, value: str, ctx: Context) -> Measurement:
        keys = TCPTestKeys(
            tcp_connect=[
                TCPConnect(
                    ip="198.18.0.9",
                    port=443,
                    status=TCPConnectStatus(success=False, failure="connection_reset"),
                    t0=0.0,
                    t=0.01,
                    transaction_id=1,
                )
            ],
            connection="connection_reset",
        )
        return measure(self, value, ctx, lambda trace: Outcome(keys, "connection_reset", "tcp"))


def sample(run_id: str = "run1") -> Measurement:
    ctx = Context(Config(), run_id, utc_now_iso())
    return _Fixed().run("198.18.0.9:443", ctx)


def start(db, run_id: str = "run1") -> None:  # type: ignore[no-untyped-def]
    db.start_run({"id": run_id, "started_at": utc_now_iso(), "experiment": "tcp"})


def test_database_is_created_in_wal_mode_at_the_given_path(tmp_path: Path) -> None:
    db = open_database(tmp_path / "nested" / "probe.db")
    assert db.db.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert {"runs", "measurements", "schema_migrations"} <= set(db.db.table_names())


def test_migrations_apply_once_and_reopen_is_a_no_op(tmp_path: Path) -> None:
    path = tmp_path / "probe.db"
    open_database(path).close()
    db = open_database(path)
    assert current_version(db.db) == max(number for number, _, _ in MIGRATIONS)
    assert db.db["schema_migrations"].count == len(MIGRATIONS)


def test_saved_measurement_is_visible_to_another_connection_at_once(tmp_path: Path) -> None:
    path = tmp_path / "probe.db"
    db = open_database(path)
    start(db)
    measurement = sample()
    db.save(measurement, "run1")
    other = sqlite3.connect(path)
    row = other.execute("select input, failure, experiment, started_at from measurements").fetchone()
    assert row[:3] == ("198.18.0.9:443", "connection_reset", "tcp")
    assert row[3].endswith("Z") and "T" in row[3]


def test_measurement_round_trips_through_its_row() -> None:
    db = open_database(":memory:")
    start(db)
    measurement = sample()
    db.save(measurement, "run1")
    row = db.get_row(measurement.id)
    assert row is not None
    again = row_to_measurement(row)
    assert again.to_ooni() == measurement.to_ooni()
    assert again.test_keys.model_dump()["connection"] == "connection_reset"


def test_verdict_columns_exist_and_start_empty() -> None:
    db = open_database(":memory:")
    start(db)
    measurement = sample()
    db.save(measurement, "run1")
    row = db.get_row(measurement.id)
    assert row is not None
    assert (row["verdict"], row["blocking"], row["blocking_detail"]) == (None, None, None)


def test_ooni_envelope_has_the_required_fields_and_no_public_ip() -> None:
    data = sample().to_ooni()
    for key in (
        "measurement_start_time",
        "test_name",
        "test_version",
        "input",
        "probe_asn",
        "probe_cc",
        "report_id",
        "software_name",
        "software_version",
        "test_keys",
        "test_runtime",
        "test_start_time",
        "data_format_version",
    ):
        assert key in data
    assert data["probe_ip"] == "127.0.0.1"
    assert len(data["measurement_start_time"]) == 19
