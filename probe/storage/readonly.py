"""Opening a database read-only: an analyst's copy, a write-protected USB stick, a read-only mount.

``mode=ro`` opens without writing the database, but a WAL database still needs its ``-shm``
file, which cannot be created in a read-only directory. Then the file is opened ``immutable``:
SQLite reads it without any lock or side file. A read-only copy has no writer, so that is safe;
what an unfinished ``-wal`` beside it holds is not seen (a database closed cleanly has none).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from probe.storage.busy import BUSY_TIMEOUT_MS


def _uri(path: Path, options: str) -> str:
    return f"file:{quote(str(path.resolve()))}?{options}"


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that never writes ``path`` nor creates anything beside it (``sqlite3.Error`` if unreadable)."""
    if not path.is_file():
        raise sqlite3.OperationalError(f"no such file: {path}")
    try:
        conn = sqlite3.connect(_uri(path, "mode=ro"), uri=True)
        conn.execute(f"pragma busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("select count(*) from sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        pass  # no -shm, and none can be made here
    conn = sqlite3.connect(_uri(path, "mode=ro&immutable=1"), uri=True)
    conn.execute("select count(*) from sqlite_master").fetchone()
    return conn


def writable(path: Path) -> bool:
    """Whether the database at ``path`` (and its directory, for ``-wal`` and ``-shm``) can be written here."""
    directory = path.parent
    if not path.exists():
        return os.access(directory if directory.exists() else directory.parent, os.W_OK)
    return os.access(path, os.W_OK) and os.access(directory, os.W_OK)


def is_database(path: Path) -> bool:
    """Whether SQLite takes ``path`` for a database (an empty file is not one here).

    Asked of SQLite rather than read from the file's first bytes: a second descriptor of a database,
    closed, would drop every lock this process's connections hold on it."""
    if path.stat().st_size == 0:
        return False
    try:
        connect_read_only(path).close()
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            return False
        raise
    return True
