"""SQLite storage of runs and measurements (sqlite-utils)."""

from probe.storage.db import Database, open_database

__all__ = ["Database", "open_database"]
