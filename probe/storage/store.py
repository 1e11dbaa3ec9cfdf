"""Opening a database by what names it: a SQLite file (the default), or a PostgreSQL URI (a collector's).

``open_store("collector.db")`` is ``open_database``; ``open_store("postgresql:///probes?host=/run/postgresql")``
connects with psycopg (imported only then) and migrates the collector schema. Both results have
``conn`` (``?`` placeholders; see ``probe.storage.connection``), ``measurement_rows``, ``get_row``,
``set_verdict`` and ``close``: what the reading commands use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from probe.storage.db import Database, open_database

if TYPE_CHECKING:
    from probe.storage.postgres.database import PgDatabase

    AnyDatabase: TypeAlias = Database | PgDatabase

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(target: Path | str) -> bool:
    """Whether ``target`` is a PostgreSQL URI rather than a SQLite file."""
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def open_store(target: Path | str, *, read_only_ok: bool = False) -> AnyDatabase:
    """Open the database ``target`` names (creating or migrating it as needed).

    ``read_only_ok``: the caller only reads; a SQLite file that cannot be written here is opened read-only."""
    if is_postgres(target):
        from probe.storage.postgres.database import open_postgres

        return open_postgres(str(target))
    return open_database(target, read_only_ok=read_only_ok)
