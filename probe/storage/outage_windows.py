"""Outage windows saved by ``probe outages --save``, for Datasette and other SQL readers (the table: migration 5,
``schema_outages``, and the regional columns of migration 18 / PostgreSQL 8, declared in ``tables``).

Two kinds of rows share the table, told apart by ``regional``:

    windows    ``probe outages --by probe|network|region``: each save replaces every such row (``save_windows``)
    regional   ``--by district|area``, a collector's regional windows: each save replaces the rows its query
               covered (``save_regional``): the same scope, area and period. A window is found again whole by
               the query that found it, so saving twice keeps one row of it, and a provisional window later
               confirmed (its bounds moved, its probes too), or dropped, leaves no row of its provisional self.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from probe.storage.tables import OUTAGE_WINDOWS

if TYPE_CHECKING:
    from probe.storage.postgres.connection import PgConnection

REGIONAL_COLUMNS = ("regional", "area", "district", "network_type", "probe_ids", "provisional")
"""What only a regional window fills (migration 18)."""
WINDOW_COLUMNS = tuple(
    column.name for column in OUTAGE_WINDOWS.columns if column.name not in ("id", "saved_at", *REGIONAL_COLUMNS)
)
"""What a saved window holds (``Window.to_dict()``'s keys), besides its id and when it was saved."""
_ALL = (*WINDOW_COLUMNS, *REGIONAL_COLUMNS)
"""What a saved regional window holds (``RegionalWindow.saved_row()``'s keys), besides its id and saved_at."""
_NOT_REGIONAL = tuple(0 if column == "regional" else None for column in REGIONAL_COLUMNS)


def _stored(value: object) -> object:
    return int(value) if isinstance(value, bool) else value


def _replace(
    conn: sqlite3.Connection | PgConnection, where: str, params: Sequence[object], rows: list[list[object]]
) -> int:
    """Delete the rows ``where`` says and insert ``rows`` (``_ALL``'s values, saved_at first), in one transaction."""
    columns = ", ".join(("saved_at", *_ALL))
    marks = ", ".join("?" for _ in range(len(_ALL) + 1))
    with conn:
        conn.execute(f"delete from outage_windows where {where}", list(params))
        conn.executemany(f"insert into outage_windows ({columns}) values ({marks})", rows)
    return len(rows)


def save_windows(
    conn: sqlite3.Connection | PgConnection, windows: Iterable[Mapping[str, object]], saved_at: str
) -> int:
    """Replace the saved windows (not the regional ones) by ``windows`` (``Window.to_dict()``); how many.

    ``conn``: a SQLite connection, or a PostgreSQL collector's (``probe.storage.postgres``)."""
    # Flags as integers, as SQLite keeps them (PostgreSQL would not take a boolean into an integer column).
    rows = [[saved_at, *(_stored(window[c]) for c in WINDOW_COLUMNS), *_NOT_REGIONAL] for window in windows]
    return _replace(conn, "coalesce(regional, 0) = 0", (), rows)


@dataclass(frozen=True)
class Covered:
    """The regional windows a query covered: its scopes, its area, its period (ISO text)."""

    districts: bool = True
    """False: every scope but the districts' (``--by area``)."""
    area: str | None = None
    """An ISO 3166-2 area: its windows and its country's country-wide ones."""
    since: str | None = None
    until: str | None = None


def save_regional(
    conn: sqlite3.Connection | PgConnection, windows: Iterable[Mapping[str, object]], covered: Covered, saved_at: str
) -> int:
    """Replace the regional windows ``covered`` by ``windows`` (the rows of all it covers now); how many.

    Covered: a window of its scopes and area, ongoing or ending after ``since``, and starting by ``until``."""
    where = ["regional = 1"]
    params: list[object] = []
    if not covered.districts:
        where.append("scope != 'district'")
    if covered.area is not None:
        where.append("((scope = 'country' and region = ?) or upper(area) = ?)")
        params += [covered.area.split("-", 1)[0].upper(), covered.area.upper()]
    if covered.since is not None:
        where.append("(end_max is null or end_max > ?)")
        params.append(covered.since)
    if covered.until is not None:
        where.append("start_max <= ?")
        params.append(covered.until)
    rows = [[saved_at, *(_stored(window[column]) for column in _ALL)] for window in windows]
    return _replace(conn, " and ".join(where), params, rows)
