"""The measurement database: ``<data_dir>/probe.db`` by default.

WAL mode so analysts can read while the probe writes; every measurement is committed
as soon as it completes, so killing the probe loses at most the ones in flight.
One ``Database`` belongs to one thread (the runner writes from its main thread).
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from probe.errors import StorageError
from probe.limits import fit_measurement_row
from probe.model import Measurement, TestKeys, ooni_time
from probe.storage.chain import record_hash
from probe.storage.columns import CHAINED_COLUMNS, ENVELOPE_COLUMNS, VERDICT_COLUMNS, VERDICT_STAGE_COLUMNS
from probe.storage.migrations import migrate
from probe.storage.schema_sms import save_sms_records
from probe.storage.schema_unattended import local_chain_tail

DB_FILENAME = "probe.db"
BUSY_TIMEOUT_MS = 5000


class Database:
    def __init__(self, db: sqlite_utils.Database, path: Path | None) -> None:
        self.db = db
        self.path = path

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection (what readers shared with PostgreSQL use: ``probe.storage.connection``)."""
        return self.db.conn

    @property
    def label(self) -> str:
        return str(self.path or "memory")

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

    def set_run_network(self, run_id: str, *, asn: str, cc: str, name: str, source: str) -> None:
        """The run's network identity as finally known (see ``probe.network_identity``)."""
        values = {"probe_asn": asn, "probe_cc": cc, "probe_network_name": name, "network_source": source}
        try:
            with self.db.conn:
                self.db["runs"].update(run_id, values)  # type: ignore[union-attr]
        except sqlite3.Error as exc:
            raise StorageError(f"cannot update run {run_id}: {exc}") from None

    def runs(self) -> list[dict[str, Any]]:
        return list(self.db.query("select * from runs order by started_at desc"))

    def latest_run_id(self) -> str | None:
        row = self.db.execute("select id from runs order by started_at desc limit 1").fetchone()
        return str(row[0]) if row else None

    # measurements ---------------------------------------------------------
    def save(
        self,
        measurement: Measurement,
        run_id: str,
        category_code: str = "",
        *,
        verdict_columns: Mapping[str, Any] | None = None,
    ) -> None:
        """Commit one measurement now, as the next record of the database's hash chain.

        ``verdict_columns``: the verdict stage's columns that ``Measurement`` has no field for
        (``confirmed``, ``reason``, ``network_state``, ``rule``, ``rules_version``, ``suspected``; see
        ``schema_verdicts`` and ``schema_rules``)."""
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
            **{column: getattr(measurement, column) for column in ENVELOPE_COLUMNS},
            # Verdict columns set on the measurement (by its experiment, e.g. sms, or the verdict stage).
            **{column: getattr(measurement, column) for column in VERDICT_COLUMNS if getattr(measurement, column)},
            **{column: value for column, value in (verdict_columns or {}).items() if column in VERDICT_STAGE_COLUMNS},
        }
        fit_measurement_row(row, CHAINED_COLUMNS)  # what a collector would refuse is cut now, and the cut recorded
        self._append_to_chain(row)
        self._save_side_records(measurement)

    def _save_side_records(self, measurement: Measurement) -> None:
        """Rows other tables keep about a measurement: an SMS's message, reports and receipts."""
        try:
            with self.db.conn:
                save_sms_records(self.db.conn, measurement)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write SMS records in {self.path or 'memory'}: {exc}") from None

    def sms_events(self, measurement_id: str) -> list[dict[str, Any]]:
        """Reports and receipts of the SMS a measurement sent, late ones included, in arrival order."""
        return list(self.db.query("select * from sms_events where measurement_id = ? order by id", [measurement_id]))

    def _append_to_chain(self, row: dict[str, Any]) -> None:
        # BEGIN IMMEDIATE takes the write lock before reading the chain's tail, so two
        # processes saving into one database (a daemon and a manual run) never share a seq.
        conn = self.db.conn
        own_transaction = not conn.in_transaction
        try:
            if own_transaction:
                conn.execute("begin immediate")
            try:
                seq, prev = local_chain_tail(conn)
                link = {"chain_seq": seq + 1, "chain_prev": prev, "chain_hash": record_hash(seq + 1, prev, row)}
                chained = {**row, **link}
                columns = ", ".join(chained)
                marks = ", ".join("?" for _ in chained)
                conn.execute(f"insert into measurements ({columns}) values ({marks})", list(chained.values()))
            except BaseException:
                if own_transaction:
                    conn.rollback()
                raise
            if own_transaction:
                conn.commit()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write to measurements in {self.path or 'memory'}: {exc}") from None

    def set_verdict(
        self,
        measurement_id: str,
        *,
        verdict: str,
        blocking: str | None,
        blocking_detail: str | None,
        confirmed: bool = False,
        reason: str = "",
        network_state: str | None = None,
        rule: str | None = None,
        rules_version: str | None = None,
        suspected: str | None = None,
    ) -> None:
        """Replace a measurement's verdict (judged again: new fingerprints, new rules, a network that went dark)."""
        try:
            with self.db.conn:
                self.db.execute(
                    "update measurements set verdict = ?, blocking = ?, blocking_detail = ?, confirmed = ?, "
                    "reason = ?, network_state = ?, rule = ?, rules_version = ?, suspected = ? where id = ?",
                    [
                        verdict,
                        blocking,
                        blocking_detail,
                        int(confirmed),
                        reason,
                        network_state,
                        rule,
                        rules_version,
                        suspected,
                        measurement_id,
                    ],
                )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot update the verdict of {measurement_id}: {exc}") from None

    def save_network_context(self, run_id: str, phase: str, context: Mapping[str, Any]) -> None:
        """Record a round's network controls (``phase``: start or end; ``context``: ``NetworkContext.to_dict()``)."""
        answers = context.get("gateway_answers")
        row = {
            "run_id": run_id,
            "phase": phase,
            "measured_at": context.get("measured_at"),
            "network_state": context.get("state"),
            "gateway": context.get("gateway"),
            "gateway_answers": None if answers is None else int(answers),
            "controls": json.dumps(context.get("controls", [])),
        }
        self._write("network_contexts", row)

    def network_contexts(self, run_id: str) -> list[dict[str, Any]]:
        return list(self.db.query("select * from network_contexts where run_id = ? order by id", [run_id]))

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
        **{column: row[column] for column in ENVELOPE_COLUMNS},
    )


@contextmanager
def _migration_lock(path: Path) -> Iterator[None]:
    """One process at a time creates or migrates a database file (a daemon and a manual
    ``probe run`` may open a new one at the same moment); the lock file sits beside it."""
    with open(path.with_name(path.name + ".lock"), "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_database(path: Path | str) -> Database:
    """Open (creating and migrating as needed) the database at ``path`` (``:memory:`` works)."""
    memory = str(path) == ":memory:"
    try:
        if not memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite_utils.Database(memory=True) if memory else sqlite_utils.Database(path)
        # Wait for other writers before anything else: switching to WAL needs the lock too.
        db.execute(f"pragma busy_timeout = {BUSY_TIMEOUT_MS}")
        if memory:
            migrate(db)
        else:
            with _migration_lock(Path(path)):
                db.enable_wal()
                migrate(db)
    except (OSError, sqlite3.Error) as exc:
        raise StorageError(f"cannot open database {path}: {exc}") from None
    return Database(db, None if memory else Path(path))
