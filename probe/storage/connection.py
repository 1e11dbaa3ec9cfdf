"""What the readers of a database need from a connection, whichever engine is behind it.

The analysis, the report and the verifier only run ``execute(sql, params)`` with ``?``
placeholders and read tuples back; ``sqlite3.Connection`` does that, and so does the PostgreSQL
store's connection (``probe.storage.postgres``), which translates the placeholders. SQL written
for both keeps to what the two engines share (``coalesce``, ``case``, ``exists``, ``min``; the
PostgreSQL schema adds SQLite's ``julianday``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol


class Cursor(Protocol):
    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchmany(self, size: int = ..., /) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """A connection that runs SQL with ``?`` placeholders (``sqlite3.Connection`` is one)."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...


FETCH_ROWS = 5000
"""Rows taken from a cursor at a time."""


def rows(conn: Connection, sql: str, parameters: Sequence[Any] = ()) -> Iterator[Any]:
    """A query's rows, read in batches: streamed from a server that sends them while the caller works
    (``stream``, PostgreSQL's), else ``FETCH_ROWS`` at a time (one call a batch, not one a row)."""
    stream = getattr(conn, "stream", None)
    if stream is not None:
        return stream(sql, parameters)  # type: ignore[no-any-return]
    return fetched(conn.execute(sql, parameters))


def fetched(cursor: Cursor) -> Iterator[Any]:
    """A cursor's rows, taken ``FETCH_ROWS`` at a time: one call a batch, not one a row (which costs psycopg
    more than reading the row did)."""
    while batch := cursor.fetchmany(FETCH_ROWS):
        yield from batch
