"""The measurement database: ``<data_dir>/probe.db`` by default.

WAL mode so analysts can read while the probe writes; every measurement is committed
as soon as it completes, so killing the probe loses at most the ones in flight.
One ``Database`` belongs to one thread (the runner writes from its main thread).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlite_utils

from probe.errors import StorageError
from probe.model import Measurement, TestKeys, ooni_time
from probe.storage.migrations import migrate

DB_FILENAME = "probe.db"
_ENVELOPE_COLUMNS = (
    "probe_asn",
    "probe_cc",
    "test_name",
    "test_version",
    "report_id",
    "software_name",
    "software_version",
)


class Database:
    def __init__(self, db: sqlite_utils.Database, path: Path | None) -> None:
        self.db = db
        self.path = path

    # runs -----------------------------------------------------------------
    def start_run(self, run: dict[str, Any]) -> None:
        self._write("runs", {**run, "status": "running", "measurements": 0})

    def finish_run(self, run_id: str, *, finished_at: str, status: str, measurements: int) -> None:
        try:
            with self.db.conn:
                self.db["runs"].update(  # type: ignore[union-attr]
                    run_id, {"finished_at": finished_at, "status": status, "measurements": measurements}
                )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot update run {run_id}: {exc}") from None

    def runs(self) -> list[dict[str, Any]]:
        return list(self.db.query("select * from runs order by started_at desc"))

    def latest_run_id(self) -> str | None:
        row = self.db.execute("select id from runs order by started_at desc limit 1").fetchone()
        return str(row[0]) if row else None

    # measurements ---------------------------------------------------------
    def save(self, measurement: Measurement, run_id: str, category_code: str = "") -> None:
        """Commit one measurement now."""
        row = {
            "id": measurement.id,
            "run_id": run_id,
            "experiment": measurement.experiment,
            "input": measurement.input,
            "category_code": category_code or None,
            "started_at": measurement.started_at,
            "test_start_time": measurement.test_start_time,
            "runtime": measurement.test_runtime,
            "failure": measurement.failure,
            "failed_step": measurement.failed_step,
            "annotations": json.dumps(measurement.annotations),
            "test_keys": measurement.test_keys.model_dump_json(),
            **{column: getattr(measurement, column) for column in _ENVELOPE_COLUMNS},
        }
        self._write("measurements", row)

    def measurement_rows(self, run_id: str | None = None) -> Iterator[dict[str, Any]]:
        where, params = ("where run_id = ?", [run_id]) if run_id else ("", [])
        yield from self.db.query(f"select * from measurements {where} order by started_at, id", params)

    def get_row(self, measurement_id: str) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from measurements where id = ?", [measurement_id]))
        return rows[0] if rows else None

    def _write(self, table: str, row: dict[str, Any]) -> None:
        try:
            with self.db.conn:
                self.db[table].insert(row)  # type: ignore[union-attr]
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write to {table} in {self.path or 'memory'}: {exc}") from None

    def close(self) -> None:
        self.db.close()


def row_to_measurement(row: dict[str, Any]) -> Measurement:
    """Rebuild the full measurement (OONI envelope included) from its row."""
    annotations = json.loads(row["annotations"] or "{}")
    return Measurement(
        id=row["id"],
        experiment=row["experiment"],
        input=row["input"],
        failure=row["failure"],
        failed_step=row["failed_step"],
        annotations=annotations,
        started_at=row["started_at"],
        measurement_start_time=ooni_time(row["started_at"]),
        test_start_time=row["test_start_time"],
        test_runtime=row["runtime"],
        test_keys=TestKeys.model_validate_json(row["test_keys"]),
        **{column: row[column] for column in _ENVELOPE_COLUMNS},
    )


def open_database(path: Path | str) -> Database:
    """Open (creating and migrating as needed) the database at ``path`` (``:memory:`` works)."""
    memory = str(path) == ":memory:"
    try:
        if not memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite_utils.Database(memory=True) if memory else sqlite_utils.Database(path)
        if not memory:
            db.enable_wal()
        db.execute("pragma busy_timeout = 5000")
        migrate(db)
    except (OSError, sqlite3.Error) as exc:
        raise StorageError(f"cannot open database {path}: {exc}") from None
    return Database(db, None if memory else Path(path))
