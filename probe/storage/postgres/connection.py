"""A psycopg 3 connection that reads like ``sqlite3.Connection`` to the code that shares SQL.

``execute`` and ``executemany`` take ``?`` placeholders (turned into psycopg's ``%s``), ``with
conn:`` is one transaction (committed, or rolled back on an exception), and every database error
becomes a ``StorageError`` that names the database without its password. Only the placeholder
changes: SQL handed to it must already be valid PostgreSQL.

Outside ``with conn:`` or ``transaction()`` every statement commits on its own (autocommit): a
reader never sits idle in a transaction holding locks that a writer (making a month's partition)
would wait for.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import Any

import psycopg

from probe.errors import StorageError

CONNECT_TIMEOUT = 10
"""Seconds to wait for the server when connecting."""
CHUNK_ROWS = 5000
"""Rows a streamed query's result comes in at a time (``PgConnection.stream``)."""
APPLICATION_NAME = "zhanaozen-collector"
"""How the collector's connections are named in ``pg_stat_activity`` (followed by the process id)."""


def redact(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    return re.sub(r"(://[^:/@?]*):[^@/?]*@", r"\1:***@", url)


def _placeholders(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class PgConnection:
    """One psycopg connection (one thread's), with ``sqlite3``'s small interface."""

    def __init__(self, raw: psycopg.Connection[Any], label: str, url: str = "") -> None:
        self.raw = raw
        self.label = label
        self.url = url
        self._open: list[AbstractContextManager[Any]] = []

    def fail(self, exc: psycopg.Error) -> StorageError:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return StorageError(f"PostgreSQL {self.label}: {detail}")

    def one(self, sql: str, parameters: Sequence[Any] = ()) -> tuple[Any, ...]:
        """The first row of a query that always returns one."""
        row = self.execute(sql, parameters).fetchone()
        if row is None:
            raise StorageError(f"PostgreSQL {self.label}: no row from {sql.split()[0]}")
        return tuple(row)

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> psycopg.Cursor[Any]:
        try:
            return self.raw.execute(_placeholders(sql), parameters or None)
        except psycopg.Error as exc:
            raise self.fail(exc) from None

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> None:
        try:
            with self.raw.cursor() as cursor:
                cursor.executemany(_placeholders(sql), rows)
        except psycopg.Error as exc:
            raise self.fail(exc) from None

    def stream(self, sql: str, parameters: Sequence[Any] = (), /) -> Iterator[tuple[Any, ...]]:
        """A query's rows as the server sends them, ``CHUNK_ROWS`` at a time: the caller works on the first
        while the server still finds the next (``execute`` waits for the whole result). Nothing else may run
        on the connection until the rows are read or the iterator closed."""
        try:
            with self.raw.cursor() as cursor:
                yield from cursor.stream(_placeholders(sql), parameters or None, size=CHUNK_ROWS)
        except psycopg.Error as exc:
            raise self.fail(exc) from None

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        """Rows as dicts, like ``sqlite_utils.Database.query``."""
        cursor = self.execute(sql, parameters)
        names = [column.name for column in cursor.description or ()]
        for values in cursor:
            yield dict(zip(names, values, strict=True))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction: committed at the end of the block, rolled back on any exception.

        A connection the server dropped (a restart, a failover, an idle timeout) is made again first, so a
        long-running collector survives its database's restart: the batch that met the dropped connection
        failed (503 or 500, and the probe sends it again); the next one goes through."""
        if self.raw.broken and self.url:
            self.raw = _open(self.url, self.label)
        try:
            with self.raw.transaction():
                yield
        except psycopg.Error as exc:
            raise self.fail(exc) from None

    def commit(self) -> None:
        """Nothing to do: outside a ``with`` block every statement is committed (as in ``sqlite3``)."""

    def rollback(self) -> None:
        """Nothing to do outside a ``with`` block (as in ``sqlite3``)."""

    def __enter__(self) -> PgConnection:
        transaction = self.raw.transaction()
        try:
            transaction.__enter__()
        except psycopg.Error as exc:
            raise self.fail(exc) from None
        self._open.append(transaction)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            self._open.pop().__exit__(kind, value, traceback)
        except psycopg.Error as exc:
            raise self.fail(exc) from None

    def close(self) -> None:
        self.raw.close()


_LZ4 = (
    "select set_config('default_toast_compression', 'lz4', false) from pg_settings "
    "where name = 'default_toast_compression' and 'lz4' = any(enumvals)"
)
"""Large values (a measurement's ``test_keys``) compressed with lz4 where the server has it (PostgreSQL 14+
built with it, as Debian's): pglz, the default, took about half the server's time of a batch's COPY."""

_NO_JIT = "set jit = off"
"""No JIT compiling of queries: a collector's largest (the outage analysis's year of heartbeats, half a million
rows joined and sorted in about a second) spent a tenth of its time compiling, and gained nothing from it."""


def _open(url: str, label: str) -> psycopg.Connection[Any]:
    try:
        # The process id names the connection in pg_stat_activity: which of a collector's workers it is.
        name = f"{APPLICATION_NAME} {os.getpid()}"
        raw = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, application_name=name, autocommit=True)
    except psycopg.Error as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StorageError(f"cannot open PostgreSQL database {label}: {detail}") from None
    try:
        raw.execute(_LZ4)
        raw.execute(_NO_JIT)
    except psycopg.Error as exc:
        raw.close()
        raise PgConnection(raw, label).fail(exc) from None
    return raw


def connect(url: str) -> PgConnection:
    """Connect to ``url`` (a libpq URI); a ``StorageError`` that says why when it cannot."""
    label = redact(url)
    return PgConnection(_open(url, label), label, url)
