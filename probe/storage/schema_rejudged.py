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

import sqlite3

import sqlite_utils

from probe.storage.schema_unattended import own_chain

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


_NOTE = (
    "insert into verdict_changes (chain_seq, generation, changed_at) "
    "select m.chain_seq, (select coalesce(max(generation), 0) + 1 from verdict_changes), ? from measurements m "
    "where m.id = ? and " + own_chain("m") + " and m.chain_seq is not null "
    "on conflict(chain_seq) do update set generation = excluded.generation, changed_at = excluded.changed_at"
)


def note_verdict_change(conn: sqlite3.Connection, measurement_id: str, changed_at: str) -> None:
    """Record that the verdict of ``measurement_id`` changed (inside the caller's transaction, beside the
    change itself). A measurement of another probe (a collector's rows) is not this probe's to send: no row."""
    conn.execute(_NOTE, (changed_at, measurement_id))
