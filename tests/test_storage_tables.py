# ruff: noqa: F811  (pytest fixtures imported from other test modules are parameters here)
"""Both engines' live schemas, migrated from empty, hold each table as ``probe.storage.tables`` declares it.

SQLite is read with ``pragma table_info``, PostgreSQL with ``information_schema``; each is held to the
declaration, and then to the other, table by table: the same columns (but those declared for one engine), of
the same kind, null or not alike. A database migrated from any earlier version ends the same, and a column
declared later reaches both engines through one migration step each.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from support.pgcluster import pg_cluster, pg_url  # noqa: F401  (fixtures)

from probe.storage import migrations
from probe.storage.ddl import (
    TEXT,
    TIME,
    Column,
    Index,
    Table,
    postgres_create,
    postgres_step,
    sqlite_create,
    sqlite_step,
)
from probe.storage.postgres.connection import PgConnection
from probe.storage.postgres.database import open_postgres
from probe.storage.tables import TABLES

_KIND = {"text": "text", "integer": "integer", "bigint": "integer", "real": "real", "double precision": "real"}
"""Each engine's type as the kind both store: a column's types in the two engines map to the same kind."""


def sqlite_live(conn: sqlite3.Connection, table: str) -> list[tuple[str, str, bool, Any, bool]]:
    """(name, kind, not null, default, in the key) of each column, in SQLite's order."""
    return [
        (name, _KIND[kind.lower()], bool(notnull), default, pk > 0)
        for _, name, kind, notnull, default, pk in conn.execute(f"pragma table_info({table})")
    ]


def sqlite_indexes(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"pragma index_list({table})") if row[3] == "c"}


def postgres_live(conn: PgConnection, table: str) -> list[tuple[str, str, bool, Any, bool]]:
    """(name, kind, not null, default, in the key) of each column, in PostgreSQL's order; a time is text
    compared byte by byte (collation "C"), a sequence's default is ``serial``."""
    key = {
        name
        for (name,) in conn.execute(
            "select k.column_name from information_schema.table_constraints c "
            "join information_schema.key_column_usage k on k.constraint_name = c.constraint_name "
            "and k.table_schema = c.table_schema "
            "where c.table_schema = current_schema() and c.table_name = ? and c.constraint_type = 'PRIMARY KEY'",
            (table,),
        )
    }
    rows = conn.execute(
        "select column_name, data_type, is_nullable, column_default, collation_name from information_schema.columns "
        "where table_schema = current_schema() and table_name = ? order by ordinal_position",
        (table,),
    )
    live = []
    for name, kind, nullable, default, collation in rows:
        if default is not None and default.startswith("nextval("):
            default = "serial"
        elif default is not None:
            default = default.split("::")[0]
        assert collation in (None, "C"), (table, name, collation)
        live.append((name, kind + (" C" if collation == "C" else ""), nullable == "NO", default, name in key))
    return live


def postgres_indexes(conn: PgConnection, table: str) -> set[str]:
    rows = conn.execute(
        "select indexname from pg_indexes where schemaname = current_schema() and tablename = ?", (table,)
    )
    return {name for (name,) in rows if not name.endswith("_pkey")}


def declared_sqlite(table: Table) -> list[tuple[str, str, bool, Any, bool]]:
    return [(c.name, _KIND[c.type.sqlite], c.not_null, c.default, c.name in table.key) for c in table.sqlite_columns()]


def declared_postgres(table: Table) -> list[tuple[str, str, bool, Any, bool]]:
    key = table.postgres_key or table.key
    return [
        (
            c.name,
            c.type.postgres.replace(' collate "C"', " C").replace("bigserial", "bigint"),
            c.not_null or c.name in key,
            "serial" if c.type.postgres == "bigserial" else c.default,
            c.name in key,
        )
        for c in table.postgres_columns()
    ]


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite_utils.Database(tmp_path / "probe.db")
    migrations.migrate(db)
    yield db.conn
    db.close()


@pytest.fixture
def postgres_db(pg_url: str) -> Iterator[PgConnection]:
    database = open_postgres(pg_url)
    yield database.conn
    database.close()


@pytest.mark.parametrize("table", TABLES, ids=[table.name for table in TABLES])
def test_sqlite_migrated_from_empty_holds_the_table_as_declared(sqlite_db: sqlite3.Connection, table: Table) -> None:
    assert sqlite_live(sqlite_db, table.name) == declared_sqlite(table)
    assert sqlite_indexes(sqlite_db, table.name) == {i.name for i in table.indexes if i.sqlite is not None}


@pytest.mark.parametrize("table", TABLES, ids=[table.name for table in TABLES])
def test_postgres_migrated_from_empty_holds_the_table_as_declared(postgres_db: PgConnection, table: Table) -> None:
    assert postgres_live(postgres_db, table.name) == declared_postgres(table)
    assert postgres_indexes(postgres_db, table.name) == {i.name for i in table.indexes if i.postgres is not None}


def test_both_engines_hold_the_same_columns_of_the_same_kind_in_every_table(
    sqlite_db: sqlite3.Connection, postgres_db: PgConnection
) -> None:
    for table in TABLES:
        lite = {name: (kind, not_null) for name, kind, not_null, _, _ in sqlite_live(sqlite_db, table.name)}
        key = table.postgres_key or table.key
        pg = {
            name: (_KIND[kind.removesuffix(" C")], not_null and name not in key)
            for name, kind, not_null, _, _ in postgres_live(postgres_db, table.name)
        }
        only_sqlite = {c.name for c in table.columns if c.postgres is None}
        only_postgres = {c.name for c in table.columns if c.sqlite is None}
        assert set(lite) - set(pg) == only_sqlite, table.name
        assert set(pg) - set(lite) == only_postgres, table.name
        for name in set(lite) & set(pg):
            lite_kind, lite_not_null = lite[name]
            assert (lite_kind, lite_not_null and name not in key) == pg[name], (table.name, name)


@pytest.mark.parametrize("version", range(1, max(number for number, _, _ in migrations.MIGRATIONS)))
def test_a_database_of_an_earlier_version_upgrades_to_the_declared_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: int
) -> None:
    db = sqlite_utils.Database(tmp_path / "old.db")
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", [m for m in migrations.MIGRATIONS if m[0] <= version])
        assert migrations.migrate(db) == version
    migrations.migrate(db)
    for table in TABLES:
        assert sqlite_live(db.conn, table.name) == declared_sqlite(table), table.name
    db.close()


TOY = Table(
    "toy",
    (Column("id", TEXT, sqlite=1), Column("probe_id", TEXT, sqlite=1), Column("seen_at", TIME, sqlite=1)),
    key=("id",),
    postgres_key=("probe_id", "id"),
    indexes=(Index("toy_seen", ("seen_at",), sqlite=1, postgres=1),),
)


def test_a_column_declared_later_reaches_both_engines_through_one_step_each(
    tmp_path: Path, postgres_db: PgConnection
) -> None:
    grown = replace(
        TOY, columns=(*TOY.columns, Column("area", TEXT, not_null=True, default="''", sqlite=2, postgres=2))
    )
    lite = sqlite3.connect(tmp_path / "toy.db")
    lite.execute(sqlite_create(TOY))
    lite.execute("insert into toy (id, probe_id) values ('r1', 'p1')")
    postgres_db.raw.execute(";\n".join(postgres_step(TOY, 1)).encode())
    postgres_db.execute("insert into toy (id, probe_id) values ('r1', 'p1')")
    for _ in range(2):  # SQLite's steps are run again after a crash: the second does nothing
        existing = [row[1] for row in lite.execute("pragma table_info(toy)")]
        for statement in sqlite_step(grown, 2, existing):
            lite.execute(statement)
    postgres_db.raw.execute(";\n".join(postgres_step(grown, 2)).encode())
    assert sqlite_live(lite, "toy") == declared_sqlite(grown)
    assert postgres_live(postgres_db, "toy") == declared_postgres(grown)
    assert lite.execute("select area from toy").fetchall() == postgres_db.execute("select area from toy").fetchall()
    assert sqlite_step(grown, 2, [c.name for c in grown.columns]) == []
    lite.close()


def released(engine: str, version: int) -> str:
    """What the declarations make a step of ``engine`` do, as text: each table as it was then, what it adds. A
    table made by a step after every digested one (``batch_arrivals``) is no part of what those made."""
    newest = max(number for name, number in RELEASED if name == engine)
    if engine == "postgres":
        tables = [t for t in TABLES if (t.postgres_made or 0) <= newest]
        return "".join(postgres_create(t, version) + ";\n".join(postgres_step(t, version)) for t in tables)
    tables = [t for t in TABLES if (t.sqlite_made or 0) <= newest]
    return "".join(sqlite_create(t, version) + ";\n".join(sqlite_step(t, version, [])) for t in tables)


RELEASED = {
    ("sqlite", 1): "a22d9f6f8d035ef9",
    ("sqlite", 2): "01a97939c76e21ac",
    ("sqlite", 4): "a61a6d5fdd52a02c",
    ("sqlite", 5): "ba3a0d264e9d2d9d",
    ("sqlite", 6): "f6877c3280986b6f",
    ("sqlite", 7): "03ca3e7bc2a0b057",
    ("sqlite", 9): "ca4b7643d0dd9890",
    ("sqlite", 12): "0abce5ef2450dd64",
    ("postgres", 1): "1aaca3c66181f6e9",
    ("postgres", 3): "4eca3c424133f8d2",
}
"""A digest of what each released step makes of the declared tables. A step once released never changes what
it makes (databases in the field were made by it): a column added later takes the numbers of new steps."""


@pytest.mark.parametrize("engine, version", sorted(RELEASED))
def test_a_released_migration_still_makes_what_it_made(engine: str, version: int) -> None:
    assert hashlib.sha256(released(engine, version).encode()).hexdigest()[:16] == RELEASED[engine, version]
