"""Migration 11, for verdicts judged again after their measurement was uploaded.

    verdict_changes  one row per record of the probe's own chain whose verdict was changed after it was
                     saved (``Database.set_verdict`` with a verdict other than the stored one):
                     chain_seq, generation (a number that grows with every change, of any record),
                     changed_at (when it changed)

A collector's acknowledgement of a record's verdict is an ``upload_acks`` row (kind ``verdict``, key the
record's chain seq, state the generation it was sent with): the uploader sends again every acknowledged
record whose generation is newer than the one its collector acknowledged (``probe.upload.rejudged``).
A verdict changed before this migration left no row: it is not sent again by itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


VERDICT_CHANGES = """
create table if not exists verdict_changes (
    chain_seq integer primary key,
    generation integer not null,
    changed_at text not null
);
create unique index if not exists verdict_changes_generation on verdict_changes (generation);
create index if not exists verdict_changes_changed_at on verdict_changes (changed_at);
"""


def verdict_changes(db: sqlite_utils.Database) -> None:
    """Migration 11. Idempotent."""
    for statement in VERDICT_CHANGES.split(";"):
        if statement.strip():
            db.execute(statement)
