"""Migration 13, for the place a volunteer declares (``[probe] area``, ``district``, ``network_type``).

    consent  + place (what the acceptance covered: ``probe.place.describe``; NULL when nothing was declared)

Declaring a place, or another one, asks for consent again, as pointing uploads elsewhere does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


def consent_place(db: sqlite_utils.Database) -> None:
    """Migration 13. Idempotent."""
    if "place" not in db.table("consent").columns_dict:
        db.execute("alter table consent add column place text")
