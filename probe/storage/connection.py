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
