"""The measurement database: ``<data_dir>/probe.db`` by default.

WAL mode so analysts can read while the probe writes; every measurement is committed
as soon as it completes, so killing the probe loses at most the ones in flight. A write that
finds another writer holding the lock waits for it (``busy``): a finished measurement is never
dropped. The files are the owner's only (``private``). Opening for writing completes any
migration a crash interrupted and closes runs left ``running`` by dead processes; a database
that cannot be written here (a read-only copy) can be opened read-only instead.
One ``Database`` belongs to one thread (the runner writes from its main thread).

Reading needs only the connection: sqlite-utils, with which rows are written and the schema migrated, is imported
when a write or a migration first needs it, so that ``probe results`` on an up-to-date database does without it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from probe.errors import StorageError
from probe.limits import fit_measurement_row
from probe.processes import this_process
from probe.storage.busy import BUSY_TIMEOUT_MS, when_free
from probe.storage.chain import record_hash
from probe.storage.columns import (
    CHAINED_COLUMNS,
    ENVELOPE_COLUMNS,
    VERDICT_COLUMNS,
    VERDICT_STAGE_COLUMNS,
    verdict_update,
)
from probe.storage.dead_runs import RUNNING, close_dead_runs
from probe.storage.filesystem import network_filesystem
from probe.storage.migrations import current_version, migrate, pending
from probe.storage.own_chain import local_chain_tail
from probe.storage.private import create_new_private, create_private, tighten_database
from probe.storage.readonly import connect_read_only, writable
from probe.storage.verdict_changes import note_verdict_change
from probe.times import ooni_time, utc_now_iso

if TYPE_CHECKING:
    import sqlite_utils

    from probe.model import Measurement

DB_FILENAME = "probe.db"
log = logging.getLogger("probe.storage")


class Database:
    def __init__(self, conn: sqlite3.Connection, path: Path | None, *, read_only: bool = False) -> None:
        self.conn = conn
        """The connection (what readers shared with PostgreSQL use: ``probe.storage.connection``)."""
        self.path = path
        self.read_only = read_only

    @cached_property
    def db(self) -> sqlite_utils.Database:
        """sqlite-utils over the connection, made when something first writes with it (imported only then)."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    def _query(self, sql: str, params: list[Any] | None = None) -> Iterator[dict[str, Any]]:
        """Rows as dicts, as ``sqlite_utils.Database.query`` gives them, through the connection alone."""
        cursor = self.conn.execute(sql, params or [])
        keys = [column[0] for column in cursor.description]
        for row in cursor:
            yield dict(zip(keys, row, strict=True))

    @property
    def label(self) -> str:
        return str(self.path or "memory")

    def release_memory(self) -> None:
        """Free what SQLite keeps for this connection: its page cache, up to 2 MB, filled again by the next query
        (a daemon calls it after each round, to wait for the next with less)."""
        self.conn.execute("pragma shrink_memory")

    # runs -----------------------------------------------------------------
    def start_run(self, run: dict[str, Any]) -> None:
        self._write("runs", {**run, "status": RUNNING, "measurements": 0, "owner": this_process()})

    def finish_run(
        self, run_id: str, *, finished_at: str, status: str, measurements: int, problems: str | None = None
    ) -> None:
        """Close a run; ``problems`` (JSON) replaces its list of problems when given (a streamed list's)."""
        values: dict[str, Any] = {"finished_at": finished_at, "status": status, "measurements": measurements}
        if problems is not None:
            values["problems"] = problems

        def write() -> None:
            with self.db.conn:
                self.db.table("runs").update(run_id, values)

        try:
            when_free(write, what=f"run {run_id}")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot update run {run_id}: {exc}") from None

    def set_run_network(self, run_id: str, *, asn: str, cc: str, name: str, source: str) -> None:
        """The run's network identity as finally known (see ``probe.network_identity``)."""
        values = {"probe_asn": asn, "probe_cc": cc, "probe_network_name": name, "network_source": source}
        try:
            with self.db.conn:
                self.db.table("runs").update(run_id, values)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot update run {run_id}: {exc}") from None

    def runs(self) -> list[dict[str, Any]]:
        return list(self._query("select * from runs order by started_at desc"))

    def latest_run_id(self) -> str | None:
        row = self.conn.execute("select id from runs order by started_at desc limit 1").fetchone()
        return str(row[0]) if row else None

    # measurements ---------------------------------------------------------
    def save(
        self,
        measurement: Measurement,
        run_id: str,
        category_code: str = "",
        *,
        verdict_columns: Mapping[str, Any] | None = None,
    ) -> dict[str, int]:
        """Commit one measurement now, as the next record of the database's hash chain.

        Returns the fields cut to the limits a collector accepts (``probe.limits``), usually none.

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
        cut = fit_measurement_row(row, CHAINED_COLUMNS)  # what a collector would refuse is cut now, and recorded
        self._append_to_chain(row)
        self._save_side_records(measurement)
        return cut

    def _save_side_records(self, measurement: Measurement) -> None:
        """Rows other tables keep about a measurement: an SMS's message, reports and receipts."""

        def write() -> None:
            from probe.storage.sms_records import save_sms_records  # the SMS models, when a measurement is saved

            with self.conn:
                save_sms_records(self.conn, measurement)

        try:
            when_free(write, what=f"the SMS records of {measurement.id}")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write SMS records in {self.path or 'memory'}: {exc}") from None

    def sms_events(self, measurement_id: str) -> list[dict[str, Any]]:
        """Reports and receipts of the SMS a measurement sent, late ones included, in arrival order."""
        return list(self._query("select * from sms_events where measurement_id = ? order by id", [measurement_id]))

    def _append_to_chain(self, row: dict[str, Any]) -> None:
        # BEGIN IMMEDIATE takes the write lock before reading the chain's tail, so two
        # processes saving into one database (a daemon and a manual run) never share a seq.
        conn = self.conn
        own_transaction = not conn.in_transaction

        def append() -> None:
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

        try:
            # Inside a caller's transaction the caller decides; on its own, a locked database is waited for.
            when_free(append, what=f"measurement {row['id']}") if own_transaction else append()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write to measurements in {self.path or 'memory'}: {exc}") from None

    def set_verdict(self, measurement_id: str, row: Mapping[str, Any]) -> None:
        """Replace a measurement's verdict (judged again: new fingerprints, new rules, a network that went dark).

        ``row``: the verdict's columns, all of them (``Verdict.as_row()``; ``columns.VERDICT_ROW_COLUMNS``).
        A verdict that changes a record of this probe's own chain is noted (``verdict_changes``), in the same
        transaction, so the uploader sends it again to collectors that have the old one; the same verdict
        again changes nothing and is not sent again."""
        sql, params = verdict_update(measurement_id, row, only_if_changed=True)

        def write() -> None:
            with self.conn:
                if self.conn.execute(sql, params).rowcount:
                    note_verdict_change(self.conn, measurement_id, utc_now_iso())

        try:
            when_free(write, what=f"the verdict of {measurement_id}")
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
        return list(self._query("select * from network_contexts where run_id = ? order by id", [run_id]))

    def measurement_rows(
        self, run_id: str | None = None, columns: Sequence[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every measurement (of one run), oldest first; ``columns``: only these (names of ``probe.storage.columns``),
        e.g. to list many without reading their test keys."""
        where, params = ("where run_id = ?", [run_id]) if run_id else ("", [])
        yield from self._query(f"select {_selected(columns)} from measurements {where} order by started_at, id", params)

    def get_row(self, measurement_id: str) -> dict[str, Any] | None:
        rows = list(self._query("select * from measurements where id = ?", [measurement_id]))
        return rows[0] if rows else None

    def _write(self, table: str, row: dict[str, Any]) -> None:
        def write() -> None:
            with self.db.conn:
                self.db.table(table).insert(row)

        try:
            when_free(write, what=f"a row of {table}")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write to {table} in {self.path or 'memory'}: {exc}") from None

    def close(self) -> None:
        self.conn.close()


def _selected(columns: Sequence[str] | None) -> str:
    """What a select reads: ``columns`` (names this code gives, never a user's text), or every column."""
    return ", ".join(columns) if columns else "*"


def row_to_measurement(row: dict[str, Any]) -> Measurement:
    """Rebuild the full measurement (OONI envelope included) from its row."""
    from probe.model import Measurement, TestKeys  # the measurement models: ``probe show``, not ``probe results``

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
    lock = path.with_name(path.name + ".lock")
    create_private(lock)
    with open(lock, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _enable_wal(conn: sqlite3.Connection) -> None:
    if conn.execute("pragma journal_mode").fetchone()[0] != "wal":
        with conn:
            conn.execute("pragma journal_mode = wal")


def _prepare(database: Database) -> None:
    """WAL, every pending migration, and runs left running by dead processes closed."""
    conn = database.conn
    when_free(lambda: _enable_wal(conn), what="the journal mode")
    if pending(conn):  # migrate() looks again under the write lock: another process may be migrating it too
        when_free(lambda: migrate(database.db), what="the schema")

    def close_runs() -> None:
        conn.execute("begin immediate")
        try:
            close_dead_runs(conn)
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

    when_free(close_runs, what="interrupted runs")


def _durable(conn: sqlite3.Connection, path: Path) -> None:
    """Every commit on the disk before it returns, whatever this SQLite's build defaults to (a power cut keeps
    what was committed: NORMAL in WAL mode may lose the last commits); no memory-mapped I/O (a stray write in
    the process could reach the file); and a word when the file is on a network filesystem."""
    conn.execute("pragma synchronous = full")
    conn.execute("pragma mmap_size = 0")
    remote = network_filesystem(path)
    if remote is not None:
        log.warning(
            "%s is on a network filesystem (%s): SQLite's locks and WAL are not safe there, and two "
            "programs writing it can corrupt it; keep the database on a local disk",
            path,
            remote,
        )


def open_database(path: Path | str, *, read_only_ok: bool = False) -> Database:
    """Open (creating and migrating as needed) the database at ``path`` (``:memory:`` works).

    ``read_only_ok``: the caller only reads; a database that cannot be written here (a read-only
    file, directory or mount) is then opened read-only instead of refused.
    """
    if str(path) == ":memory:":
        database = Database(sqlite3.connect(":memory:"), None)
        migrate(database.db)
        return database
    path = Path(path)
    if read_only_ok and path.exists() and not writable(path):
        return _open_read_only(path)
    try:
        create_new_private(path)  # before SQLite makes it: -wal and -shm take the database's mode
        database = Database(sqlite3.connect(str(path)), path)
        conn = database.conn
        # Wait for other writers before anything else: switching to WAL needs the lock too.
        conn.execute(f"pragma busy_timeout = {BUSY_TIMEOUT_MS}")
        # Whether it is a database at all is SQLite's to say: reading its header here would take a second
        # descriptor, and closing it would drop this process's locks (``tighten_database``).
        conn.execute("select count(*) from sqlite_master").fetchone()
        tighten_database(path)
        _durable(conn, path)
        with _migration_lock(path):
            _prepare(database)
        tighten_database(path)
    except (OSError, sqlite3.Error) as exc:
        raise StorageError(f"cannot open database {path}: {exc}") from None
    return database


def _open_read_only(path: Path) -> Database:
    try:
        conn = connect_read_only(path)
        behind = pending(conn)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot read database {path}: {exc}") from None
    if behind:
        conn.close()
        raise StorageError(
            f"{path} is read-only here and was made by an older version (schema {current_version(conn)}): "
            "copy it somewhere writable to read it"
        )
    return Database(conn, path, read_only=True)
