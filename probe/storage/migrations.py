"""Schema migrations: numbered steps, applied in order, each once, recorded in ``schema_migrations``.

A new step is appended to ``MIGRATIONS`` with a new number; existing steps are never
edited, so a probe's database from any earlier version upgrades in place. Steps are
independent of each other's order except where a later number says so: any number not yet
recorded is applied, so steps developed in parallel can land in any order.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlite_utils

from probe.storage.columns import INITIAL_SCHEMA
from probe.storage.schema_outages import outage_tables
from probe.storage.schema_sms import sms_tables
from probe.storage.schema_unattended import unattended
from probe.storage.schema_verdicts import verdict_tables


def _initial(db: sqlite_utils.Database) -> None:
    db["runs"].create(  # type: ignore[union-attr]
        {
            "id": str,
            "started_at": str,
            "finished_at": str,
            "status": str,
            "experiment": str,
            "test_list": str,
            "probe_asn": str,
            "probe_cc": str,
            "software_version": str,
            "config": str,
            "measurements": int,
            "problems": str,
        },
        pk="id",
    )
    db["measurements"].create(  # type: ignore[union-attr]
        INITIAL_SCHEMA,
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["measurements"].create_index(["run_id"])  # type: ignore[union-attr]
    db["measurements"].create_index(["input", "started_at"])  # type: ignore[union-attr]
    db["measurements"].create_index(["started_at"])  # type: ignore[union-attr]


Migration = Callable[[sqlite_utils.Database], None]
MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "runs and measurements", _initial),
    (2, "hash chain, heartbeats, signed heads, probes, upload marks, consent", unattended),
    (3, "sms messages and their reports and receipts", sms_tables),
    (4, "verdict reasons, confirmation, network state; network contexts", verdict_tables),
    (5, "outage analysis: indexes by network, period and run; saved outage windows", outage_tables),
]


def applied(db: sqlite_utils.Database) -> set[int]:
    if "schema_migrations" not in db.table_names():
        return set()
    return {int(row[0]) for row in db.execute("select version from schema_migrations")}


def current_version(db: sqlite_utils.Database) -> int:
    return max(applied(db), default=0)


def migrate(db: sqlite_utils.Database) -> int:
    """Apply every pending migration, each in its own transaction; return the schema version."""
    if "schema_migrations" not in db.table_names():
        db["schema_migrations"].create(  # type: ignore[union-attr]
            {"version": int, "name": str, "applied_at": str}, pk="version"
        )
    done = applied(db)
    for number, name, step in sorted(MIGRATIONS, key=lambda migration: migration[0]):
        if number in done:
            continue
        with db.conn:
            step(db)
            db["schema_migrations"].insert(  # type: ignore[union-attr]
                {"version": number, "name": name, "applied_at": datetime.now(UTC).isoformat()}
            )
    return current_version(db)
