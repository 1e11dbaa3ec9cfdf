"""A collector's database in PostgreSQL: what the commands that read a database call on it.

The same methods as ``probe.storage.Database`` that reading commands use (``conn``,
``measurement_rows``, ``get_row``, ``set_verdict``, ``close``), so ``probe outages``, ``report``,
``export`` and ``verdict`` take either. Only a collector lives here: a probe keeps SQLite.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import psycopg

from probe.errors import StorageError
from probe.model import utc_now_iso
from probe.storage.columns import verdict_update
from probe.storage.postgres.connection import PgConnection, connect
from probe.storage.postgres.schema import migrate

PARTITION_LOCK_TIMEOUT = "10s"
"""How long a batch waits to make its month's partition while queries run (then it is answered 503)."""
STREAM_ROWS = 2000
"""Rows fetched at a time when streaming measurements (exports, verdicts)."""
_MONTH = re.compile(r"\d{4}-\d{2}")
_cursors = itertools.count()


def month_of(started_at: str) -> str | None:
    """``YYYY-MM`` of a time, or None when it does not start like one (its row goes to the default partition)."""
    month = started_at[:7]
    return month if _MONTH.fullmatch(month) else None


def _next_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


class PgDatabase:
    def __init__(self, conn: PgConnection) -> None:
        self.conn = conn
        self.path = None
        self.label = conn.label
        self._months: set[str] = set()

    def ensure_partitions(self, months: set[str]) -> None:
        """Make the month partitions ``months`` need, and next month's ahead (inside the caller's transaction).

        Making a partition locks ``measurements`` whole for a moment, waiting for running queries:
        next month's is made ahead, when a failure to get the lock quickly costs nothing, so that
        the first batch of a month rarely has to wait (at most ``PARTITION_LOCK_TIMEOUT``, then 503)."""
        for month in sorted(months - self._months):
            if 1 <= int(month[5:7]) <= 12:
                self._make_partition(month, PARTITION_LOCK_TIMEOUT)
        ahead = _next_month(utc_now_iso()[:7])
        if ahead not in self._months:
            try:
                with self.conn.raw.transaction():  # a savepoint: a lock not had in time is no failure
                    self._make_partition(ahead, "200ms")
            except psycopg.errors.LockNotAvailable:
                pass

    def _make_partition(self, month: str, lock_timeout: str) -> None:
        name = f"measurements_{month.replace('-', '_')}"
        if not self.conn.one("select to_regclass(?) is not null", (name,))[0]:
            self.conn.execute(f"set local lock_timeout = '{lock_timeout}'")
            self.conn.execute("select pg_advisory_xact_lock(hashtext(?))", (name,))
            self.conn.raw.execute(
                f"create table if not exists {name} partition of measurements "
                f"for values from ('{month}') to ('{_next_month(month)}')"
            )
            self.conn.execute("set local lock_timeout = 0")
        self._months.add(month)

    def measurement_rows(
        self, run_id: str | None = None, columns: Sequence[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every measurement (of one run), oldest first, streamed from a server-side cursor; ``columns``: only
        these (as ``probe.storage.db.Database.measurement_rows``)."""
        where, params = ("where run_id = %s", [run_id]) if run_id else ("", [])
        try:
            # WITH HOLD: the caller may commit on this connection (``set_verdict``) while it reads.
            with self.conn.raw.cursor(name=f"rows_{next(_cursors)}", withhold=True) as cursor:
                cursor.itersize = STREAM_ROWS
                selected = ", ".join(columns) if columns else "*"
                cursor.execute(f"select {selected} from measurements {where} order by started_at, id", params)
                names = [column.name for column in cursor.description or ()]
                for values in cursor:
                    yield dict(zip(names, values, strict=True))
        except psycopg.Error as exc:
            raise self.conn.fail(exc) from None

    def get_row(self, measurement_id: str) -> dict[str, Any] | None:
        rows = list(self.conn.query("select * from measurements where id = ?", [measurement_id]))
        return rows[0] if rows else None

    def runs(self) -> list[dict[str, Any]]:
        return list(self.conn.query("select * from runs order by started_at desc"))

    def set_verdict(self, measurement_id: str, row: Mapping[str, Any]) -> None:
        """Replace a measurement's verdict (the verdict columns are outside the hash chain).

        ``row``: the verdict's columns, all of them (``Verdict.as_row()``; ``columns.VERDICT_ROW_COLUMNS``)."""
        sql, params = verdict_update(measurement_id, row)
        with self.conn:
            self.conn.execute(sql, params)

    def close(self) -> None:
        self.conn.close()


def open_postgres(url: str) -> PgDatabase:
    """Connect to the collector database at ``url`` and bring its schema up to date."""
    conn = connect(url)
    try:
        migrate(conn)
    except StorageError:
        conn.close()
        raise
    return PgDatabase(conn)
