"""The ``BatchStore`` of an open database: its engine's (``store`` holds the interface they share).

Apart from ``store`` so that the interface imports neither engine while each engine imports the interface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from probe.collector.store import BatchStore
from probe.collector.store_sqlite import SqliteBatchStore
from probe.storage import Database

if TYPE_CHECKING:
    from probe.storage.store import AnyDatabase


def batch_store(db: AnyDatabase) -> BatchStore:
    """The ``BatchStore`` of an open database."""
    if isinstance(db, Database):
        return SqliteBatchStore(db)
    # Imported here: a collector on SQLite loads no PostgreSQL driver.
    from probe.collector.store_postgres import PostgresBatchStore

    return PostgresBatchStore(db)
