"""Schema migrations: numbered steps, applied in order, each once, recorded in ``schema_migrations``.

The tables both engines hold are declared in ``probe.storage.tables``, with the number of the step that made
each column; a step makes what they say of its number (``apply_sqlite``, ``declared``). A new step is appended
to ``MIGRATIONS`` with a new number; existing steps never change what
they make, so a probe's database from any earlier version upgrades in place. Steps are
independent of each other's order except where a later number says so: any number not yet
recorded is applied, so steps developed in parallel can land in any order.

Each step and its record are one transaction, opened with an explicit ``BEGIN IMMEDIATE``:
Python's sqlite3 opens no transaction before DDL by itself, so ``with conn:`` alone would let a
crash keep a step's tables without its record. A crash inside a step leaves nothing of it, and
the next open applies it again. Steps are also idempotent (``if not exists``), so a database
left half-migrated by an older version (DDL kept, record lost) is completed, not refused.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from probe.errors import StorageError
from probe.storage.columns import INITIAL_SCHEMA
from probe.storage.schema_epochs import chain_epochs
from probe.storage.schema_network_identity import network_identity_columns
from probe.storage.schema_outages import outage_tables
from probe.storage.schema_place import consent_place
from probe.storage.schema_queue import queue_tables
from probe.storage.schema_rejudged import verdict_changes
from probe.storage.schema_rules import rule_columns
from probe.storage.schema_runs import run_owners
from probe.storage.schema_secrets import mask_stored_passwords
from probe.storage.schema_sms import sms_tables
from probe.storage.schema_unattended import unattended
from probe.storage.schema_verdicts import verdict_tables
from probe.storage.tables import RUNS, apply_sqlite

if TYPE_CHECKING:
    import sqlite_utils


def _initial(db: sqlite_utils.Database) -> None:
    db.table("runs").create(RUNS.python_types(1), pk="id", if_not_exists=True)
    db.table("measurements").create(
        INITIAL_SCHEMA,
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
        if_not_exists=True,
    )
    db.table("measurements").create_index(["run_id"], if_not_exists=True)
    db.table("measurements").create_index(["input", "started_at"], if_not_exists=True)
    db.table("measurements").create_index(["started_at"], if_not_exists=True)


Migration = Callable[["sqlite_utils.Database"], None]


def declared(version: int) -> Migration:
    """A step that makes what the declared tables (``probe.storage.tables``) say of its ``version``: the tables
    and columns it adds (docs/development.md, "Adding a column")."""

    def step(db: sqlite_utils.Database) -> None:
        apply_sqlite(db.conn, version)

    return step


MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "runs and measurements", _initial),
    (2, "hash chain, heartbeats, signed heads, probes, upload marks, consent", unattended),
    (3, "sms messages and their reports and receipts", sms_tables),
    (4, "verdict reasons, confirmation, network state; network contexts", verdict_tables),
    (5, "outage analysis: indexes by network, period and run; saved outage windows", outage_tables),
    (6, "upload quarantine, chain epochs, quarantined records in heartbeats", queue_tables),
    (7, "runs: the network's name and where its identity came from", network_identity_columns),
    (8, "verdict rule ids, rules version and suspected method", rule_columns),
    (9, "run owners: runs left running by a dead process are closed as interrupted", run_owners),
    (10, "passwords in stored collector and helper URLs masked", mask_stored_passwords),
    (11, "verdicts changed after saving, to send again to collectors that have the old one", verdict_changes),
    (12, "chains archived when a collector showed the database had lost records", chain_epochs),
    (13, "consent: the place the volunteer declared with it", consent_place),
    (14, "runs: the place the probe declared when each started", declared(14)),
    (15, "rounds: the group's interval, rebooted or resumed since the round before, the boot's id", declared(15)),
    (16, "batch arrivals: when each batch a collector stored was received, and the span it carried", declared(16)),
    (17, "measurements judged blocked by period, for each round's blocked targets", declared(17)),
    (18, "saved outage windows: a collector's regional windows with their place, probes and provisional", declared(18)),
    (19, "collector sessions: when a collector started serving, its latest heartbeat, when it stopped", declared(19)),
]


def applied(db: sqlite_utils.Database | sqlite3.Connection) -> set[int]:
    """The numbers of the migrations applied to ``db``: read through the connection alone, so that opening an
    up-to-date database does not need sqlite-utils (``probe.storage.db``)."""
    conn = db if isinstance(db, sqlite3.Connection) else db.conn
    if (
        conn.execute("select 1 from sqlite_master where type = 'table' and name = 'schema_migrations'").fetchone()
        is None
    ):
        return set()
    return {int(row[0]) for row in conn.execute("select version from schema_migrations")}


def pending(db: sqlite_utils.Database | sqlite3.Connection) -> list[int]:
    """The numbers of the migrations not applied to ``db`` yet."""
    done = applied(db)
    return sorted(number for number, _, _ in MIGRATIONS if number not in done)


def current_version(db: sqlite_utils.Database | sqlite3.Connection) -> int:
    return max(applied(db), default=0)


def migrate(db: sqlite_utils.Database) -> int:
    """Apply every pending migration, each with its record in one transaction; return the schema version."""
    conn = db.conn
    if conn.in_transaction:
        raise StorageError("cannot migrate inside an open transaction")
    _in_transaction(conn, lambda: conn.execute(_MIGRATIONS_TABLE))
    for number, name, step in sorted(MIGRATIONS, key=lambda migration: migration[0]):
        if number in applied(db):
            continue

        def apply(number: int = number, name: str = name, step: Migration = step) -> None:
            if number in applied(db):  # another process applied it while we waited for the lock
                return
            step(db)
            conn.execute(
                "insert into schema_migrations (version, name, applied_at) values (?, ?, ?)",
                (number, name, datetime.now(UTC).isoformat()),
            )

        _in_transaction(conn, apply)
    return current_version(db)


_MIGRATIONS_TABLE = (
    "create table if not exists schema_migrations (version integer primary key, name text, applied_at text)"
)


def _in_transaction(conn: sqlite3.Connection, work: Callable[[], object]) -> None:
    """Run ``work`` between an explicit ``BEGIN IMMEDIATE`` and ``COMMIT``; roll back on any error."""
    conn.execute("begin immediate")
    try:
        work()
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
