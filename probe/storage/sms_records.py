"""An SMS measurement's side records: its message, its reports and receipts, late ones linked to their message.

The tables are migration 3's (``schema_sms``). Late events are linked by nonce when they carry one (receipts,
Kannel reports), else by message reference: the most recent message of the same back-end with that reference sent
in the last ``LATE_MATCH_DAYS`` days (a modem's TP-MR wraps at 256).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from probe.model import Measurement, db_time
from probe.model.sms import LocalEvent, SMSTestKeys

LATE_MATCH_DAYS = 7


def _owner(conn: sqlite3.Connection, event: LocalEvent, backend: str, current: str) -> str | None:
    if event.nonce is not None:
        row = conn.execute("select measurement_id from sms_messages where nonce = ?", [event.nonce]).fetchone()
        return str(row[0]) if row else None
    if event.message_ref is None:
        return None
    since = db_time(datetime.now(UTC) - timedelta(days=LATE_MATCH_DAYS))
    row = conn.execute(
        "select measurement_id from sms_messages where backend = ? and message_ref = ? and sent_at >= ?"
        " and measurement_id != ? order by sent_at desc limit 1",
        [backend, event.message_ref, since, current],
    ).fetchone()
    return str(row[0]) if row else None


def _insert_event(conn: sqlite3.Connection, owner: str | None, observed_in: str, event: LocalEvent, late: bool) -> None:
    conn.execute(
        "insert into sms_events (measurement_id, observed_in, kind, late, status, code, latency, observed_at)"
        " values (?, ?, ?, ?, ?, ?, ?, ?)",
        [owner, observed_in, event.kind, int(late), event.status, event.code, event.latency, event.observed_at],
    )


def save_sms_records(conn: sqlite3.Connection, measurement: Measurement) -> None:
    """Store an SMS measurement's message, its reports and receipts, and link late ones (no-op otherwise).

    Runs in the caller's transaction, after the measurement's own row is written.
    """
    keys = measurement.test_keys
    if not isinstance(keys, SMSTestKeys):
        return
    local = keys.local
    if local.nonce is not None:
        conn.execute(
            "insert or ignore into sms_messages (nonce, measurement_id, backend, message_ref, sent_at)"
            " values (?, ?, ?, ?, ?)",
            [local.nonce, measurement.id, keys.backend, local.message_ref, local.sent_at or measurement.started_at],
        )
    for event in local.events:
        _insert_event(conn, measurement.id, measurement.id, event, late=False)
    for event in local.late:
        _insert_event(conn, _owner(conn, event, keys.backend, measurement.id), measurement.id, event, late=True)
