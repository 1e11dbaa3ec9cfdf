"""A verdict changed after its measurement was saved, noted so that the uploader sends it again (``verdict_changes``,
made by migration 11, ``schema_rejudged``; read by ``probe.upload.rejudged``)."""

from __future__ import annotations

import sqlite3

from probe.storage.own_chain import own_chain

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
