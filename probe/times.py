"""Times as the probe writes them: the database's text (ISO 8601 UTC to the microsecond) and OONI's envelope's.

Apart from ``probe.model`` (which re-exports them) so that a command that reads a database, such as
``probe results``, writes and compares times without loading the measurement models.
"""

from __future__ import annotations

from datetime import UTC, datetime

DB_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
"""How the database stores times: ISO 8601 UTC to the microsecond, ``Z`` suffix (sorts as time does)."""


def db_time(moment: datetime) -> str:
    """``moment`` (timezone-aware) as the database's time text."""
    return moment.astimezone(UTC).strftime(DB_TIME_FORMAT)


def utc_now_iso() -> str:
    """Now, as the database's time text."""
    return db_time(datetime.now(UTC))


def ooni_time(iso: str) -> str:
    """OONI's envelope time format, ``YYYY-MM-DD HH:MM:SS`` UTC, from an ISO 8601 UTC string."""
    return iso.replace("T", " ")[:19]
