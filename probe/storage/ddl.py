"""A small column table: a table declared once, its DDL made for SQLite and for PostgreSQL.

A ``Column`` says in which migration each engine got it (``sqlite=``, ``postgres=``: the numbers of
``probe.storage.migrations`` and ``probe.storage.postgres.schema``; None where the engine lacks it), so a
migration step makes the table as it was at its number: a step once released keeps making what it made, and
a database from any earlier version upgrades to the same shape as a new one. The declarations themselves
are in ``probe.storage.tables``.

The engines differ where the program needs them to: times compare byte by byte in PostgreSQL (``TIME``,
collation "C", as SQLite compares text), counts may pass 2^31 there (``BIGINT``), generated ids are
``bigserial``, and a collector's keys start with ``probe_id`` (``Table.postgres_key``). A column in a
PostgreSQL key is ``not null`` there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from probe.errors import StorageError


@dataclass(frozen=True)
class Type:
    """A column's type in each engine, and sqlite-utils' Python type (for the steps that made columns with it)."""

    sqlite: str
    postgres: str
    python: type


TEXT = Type("text", "text", str)
TIME = Type("text", 'text collate "C"', str)
"""ISO 8601 UTC text, compared byte by byte in both engines."""
INTEGER = Type("integer", "integer", int)
BIGINT = Type("integer", "bigint", int)
"""A count or chain seq that may pass 2^31 at a collector (SQLite's integers are 64-bit already)."""
REAL = Type("real", "double precision", float)
SERIAL = Type("integer", "bigserial", int)
"""A generated id: SQLite's rowid alias, PostgreSQL's sequence. Only as a table's one-column key."""


@dataclass(frozen=True)
class Column:
    name: str
    type: Type
    not_null: bool = False
    default: str | None = None
    """As SQL, written into both engines' DDL (``0``, ``''``)."""
    sqlite: int | None = None
    """The SQLite migration that made it; None: PostgreSQL only."""
    postgres: int | None = 1
    """The PostgreSQL migration that made it; None: SQLite only."""


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]
    sqlite: int | None = None
    postgres: int | None = None
    where: str | None = None
    """A partial index's condition, as SQL both engines take (``verdict = 'blocked'``): only those rows are in it,
    and a query uses it only when its own condition says the same, word for word."""


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    """The primary key in SQLite, and in PostgreSQL unless ``postgres_key`` says otherwise."""
    indexes: tuple[Index, ...] = ()
    postgres_key: tuple[str, ...] | None = None
    sqlite_rebuilt: int = 0
    """The SQLite migration that last made the table anew: its columns then are in the declared order."""

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise StorageError(f"table {self.name} declares no column {name}")

    def sqlite_columns(self, version: int | None = None) -> tuple[Column, ...]:
        """Its SQLite columns after migration ``version`` (None: the latest), in the order SQLite has them:
        those of the step that made (or last rebuilt) the table as declared, then those each later step added."""
        present = [c for c in self.columns if c.sqlite is not None and (version is None or c.sqlite <= version)]
        rebuilt = self.sqlite_rebuilt if version is None else min(self.sqlite_rebuilt, version)
        return tuple(sorted(present, key=lambda c: 0 if (c.sqlite or 0) <= rebuilt else c.sqlite or 0))

    def postgres_columns(self, version: int | None = None) -> tuple[Column, ...]:
        """Its PostgreSQL columns after migration ``version`` (None: the latest), in PostgreSQL's order."""
        present = [c for c in self.columns if c.postgres is not None and (version is None or c.postgres <= version)]
        return tuple(sorted(present, key=lambda column: column.postgres or 0))

    @property
    def sqlite_made(self) -> int | None:
        """The SQLite migration that made the table (None: PostgreSQL only)."""
        return min((c.sqlite for c in self.columns if c.sqlite is not None), default=None)

    @property
    def postgres_made(self) -> int | None:
        return min((c.postgres for c in self.columns if c.postgres is not None), default=None)

    def python_types(self, version: int) -> dict[str, type]:
        """SQLite's columns after migration ``version`` as sqlite-utils takes them."""
        return {c.name: c.type.python for c in self.sqlite_columns(version)}


def _column_sql(column: Column, kind: str, *, not_null: bool, inline_key: bool) -> str:
    parts = [column.name, kind]
    if inline_key:
        parts.append("primary key")
    if not_null:
        parts.append("not null")
    if column.default is not None:
        parts.append(f"default {column.default}")
    return " ".join(parts)


def sqlite_column(column: Column) -> str:
    """A column as ``alter table ... add column`` takes it."""
    return _column_sql(column, column.type.sqlite, not_null=column.not_null, inline_key=False)


def postgres_column(column: Column, key: tuple[str, ...] = ()) -> str:
    return _column_sql(column, column.type.postgres, not_null=column.not_null or column.name in key, inline_key=False)


def _create(name: str, lines: list[str], prefix: str) -> str:
    body = ",\n".join(f"    {line}" for line in lines)
    return f"{prefix} {name} (\n{body}\n)"


def sqlite_create(table: Table, version: int | None = None, *, name: str | None = None) -> str:
    """``create table if not exists`` as SQLite's migration ``version`` made ``table`` (its key's columns then)."""
    columns = table.sqlite_columns(version)
    names = {c.name for c in columns}
    key = tuple(part for part in table.key if part in names)
    one_key = key[0] if len(key) == 1 else None
    lines = [_column_sql(c, c.type.sqlite, not_null=c.not_null, inline_key=c.name == one_key) for c in columns]
    if one_key is None:
        lines.append(f"primary key ({', '.join(key)})")
    return _create(name or table.name, lines, "create table if not exists")


def postgres_create(table: Table, version: int | None = None) -> str:
    """``create table`` as PostgreSQL's migration ``version`` made ``table``."""
    columns = table.postgres_columns(version)
    key = table.postgres_key or table.key
    one_key = key[0] if len(key) == 1 else None
    lines = [
        _column_sql(
            c,
            c.type.postgres,
            not_null=(c.not_null or c.name in key) and c.name != one_key,
            inline_key=c.name == one_key,
        )
        for c in columns
    ]
    if one_key is None:
        lines.append(f"primary key ({', '.join(key)})")
    return _create(table.name, lines, "create table")


def _index_sql(table: str, index: Index, prefix: str) -> str:
    where = f" where {index.where}" if index.where else ""
    return f"{prefix} {index.name} on {table} ({', '.join(index.columns)}){where}"


def sqlite_indexes(table: Table, version: int) -> list[str]:
    """The indexes SQLite's migration ``version`` made on ``table``."""
    return sqlite_indexes_on(table.name, table.indexes, version)


def postgres_indexes(table: Table, version: int) -> list[str]:
    return postgres_indexes_on(table.name, table.indexes, version)


def sqlite_indexes_on(table: str, indexes: Iterable[Index], version: int) -> list[str]:
    """The indexes of ``indexes`` SQLite's migration ``version`` made on the table named ``table``."""
    return [_index_sql(table, i, "create index if not exists") for i in indexes if i.sqlite == version]


def postgres_indexes_on(table: str, indexes: Iterable[Index], version: int) -> list[str]:
    return [_index_sql(table, i, "create index") for i in indexes if i.postgres == version]


def sqlite_added(table: Table, version: int, existing: Iterable[str]) -> list[str]:
    """``alter table ... add column`` for each column SQLite's migration ``version`` added to ``table`` and
    ``existing`` (its live columns) lacks: a step run again completes, never fails."""
    have = set(existing)
    return [
        f"alter table {table.name} add column {sqlite_column(c)}"
        for c in table.columns
        if c.sqlite == version and c.name not in have
    ]


def postgres_added(table: Table, version: int) -> list[str]:
    """``alter table ... add column`` for each column PostgreSQL's migration ``version`` added to ``table``."""
    key = table.postgres_key or table.key
    return [
        f"alter table {table.name} add column {postgres_column(c, key)}" for c in table.columns if c.postgres == version
    ]


def sqlite_step(table: Table, version: int, existing: Iterable[str]) -> list[str]:
    """What SQLite's migration ``version`` does to ``table``, whose live columns are ``existing`` (none: no
    table yet): makes it, or adds the columns it lacks; then the step's indexes. Run again, it does nothing."""
    statements = [sqlite_create(table, version)] if table.sqlite_made == version else []
    if table.sqlite_made is not None and table.sqlite_made < version:
        statements += sqlite_added(table, version, existing)
    return statements + sqlite_indexes(table, version)


def postgres_step(table: Table, version: int) -> list[str]:
    """What PostgreSQL's migration ``version`` does to ``table`` (each migration runs once, in a transaction)."""
    statements = [postgres_create(table, version)] if table.postgres_made == version else []
    if table.postgres_made is not None and table.postgres_made < version:
        statements += postgres_added(table, version)
    return statements + postgres_indexes(table, version)
