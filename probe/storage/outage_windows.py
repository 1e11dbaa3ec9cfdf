"""Outage windows saved by ``probe outages --save``, for Datasette and other SQL readers (the table: migration 5,
``schema_outages``, declared in ``tables``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from probe.storage.tables import OUTAGE_WINDOWS

if TYPE_CHECKING:
    from probe.storage.postgres.connection import PgConnection

WINDOW_COLUMNS = tuple(column.name for column in OUTAGE_WINDOWS.columns if column.name not in ("id", "saved_at"))
"""What a saved window holds (``Window.to_dict()``'s keys), besides its id and when it was saved."""


def _stored(value: object) -> object:
    return int(value) if isinstance(value, bool) else value


def save_windows(
    conn: sqlite3.Connection | PgConnection, windows: Iterable[Mapping[str, object]], saved_at: str
) -> int:
    """Replace the saved windows by ``windows`` (``Window.to_dict()``), in one transaction; how many.

    ``conn``: a SQLite connection, or a PostgreSQL collector's (``probe.storage.postgres``)."""
    # Flags as integers, as SQLite keeps them (PostgreSQL would not take a boolean into an integer column).
    rows = [[_stored(window[column]) for column in WINDOW_COLUMNS] for window in windows]
    columns = ", ".join(("saved_at", *WINDOW_COLUMNS))
    marks = ", ".join("?" for _ in range(len(WINDOW_COLUMNS) + 1))
    with conn:
        conn.execute("delete from outage_windows")
        conn.executemany(f"insert into outage_windows ({columns}) values ({marks})", [[saved_at, *r] for r in rows])
    return len(rows)
