"""Migration 3: the SMS tables (what is saved in them, and how late reports are linked: ``sms_records``).

    sms_messages  one row per test SMS sent: its nonce and message reference (TP-MR, SMPP
                  message_id) -> the measurement that sent it. Never a number.
    sms_events    every delivery report and receipt: ``measurement_id`` is the measurement the
                  SMS belongs to (NULL when no sent message matches), ``observed_in`` the one
                  during which it was seen, ``late`` 1 when that was a later measurement.

These tables stay local: the nonce and references could be joined with an operator's records, so they are not
exported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


def sms_tables(db: sqlite_utils.Database) -> None:
    db.table("sms_messages").create(
        {"nonce": str, "measurement_id": str, "backend": str, "message_ref": str, "sent_at": str},
        pk="nonce",
        foreign_keys=[("measurement_id", "measurements", "id")],
        if_not_exists=True,
    )
    db.table("sms_messages").create_index(["backend", "message_ref", "sent_at"], if_not_exists=True)
    db.table("sms_events").create(
        {
            "id": int,
            "measurement_id": str,
            "observed_in": str,
            "kind": str,
            "late": int,
            "status": str,
            "code": str,
            "latency": float,
            "observed_at": str,
        },
        pk="id",
        foreign_keys=[("measurement_id", "measurements", "id"), ("observed_in", "measurements", "id")],
        if_not_exists=True,
    )
    db.table("sms_events").create_index(["measurement_id"], if_not_exists=True)
