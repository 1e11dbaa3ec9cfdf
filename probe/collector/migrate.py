"""Moving a collector from its SQLite file to PostgreSQL, without loss, and proving it.

``move(sqlite_path, url)`` copies probes, runs, rounds, signed heads, measurements (through the
chain ledger, so a second run copies only what the first did not), network contexts and saved
outage windows, then verifies both databases (``probe verify``'s walk of every chain) and compares
what each holds: every chain's records, seqs and signed heads, and each table's row count. The
move succeeds only when they agree. The SQLite file is only read.

Only a collector moves: measurements of a database's own probe (no ``probe_id``) have no place in
the PostgreSQL schema, and their presence refuses the move before anything is written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probe.errors import ProbeError
from probe.integrity.verify import Verification, verify_connection, verify_database
from probe.storage.db import open_database
from probe.storage.postgres.database import PgDatabase, month_of, open_postgres
from probe.storage.tables import NETWORK_CONTEXTS

CHUNK_ROWS = 5000
"""Measurements copied per transaction."""
_CONTEXT_COLUMNS = tuple(
    c.name for c in NETWORK_CONTEXTS.columns if c.sqlite is not None and c.postgres is not None and c.name != "id"
)
"""What a network context holds in both engines (its id is PostgreSQL's own; its probe is its run's)."""
_COUNTED = ("probes", "runs", "rounds", "chain_heads", "measurements", "network_contexts")


@dataclass
class MoveReport:
    copied: dict[str, int] = field(default_factory=dict)
    before: Verification | None = None
    after: Verification | None = None
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def describe(self) -> str:
        lines = ["copied: " + ", ".join(f"{count} {table}" for table, count in self.copied.items())]
        if self.before is not None:
            lines.append("before: " + self.before.describe().splitlines()[0])
        if self.after is not None:
            lines.append("after:  " + self.after.describe().splitlines()[0])
        if self.differences:
            lines.append("NOT moved without loss:")
            lines += [f"  {difference}" for difference in self.differences]
        else:
            lines.append("the two databases agree")
        return "\n".join(lines)


def _rows(conn: sqlite3.Connection, sql: str) -> Iterator[list[Any]]:
    cursor = conn.execute(sql)
    while batch := cursor.fetchmany(CHUNK_ROWS):
        yield from (list(row) for row in batch)


def _columns(conn: sqlite3.Connection, table: str, wanted: Sequence[str]) -> list[str]:
    """``wanted``, as select expressions: NULL for a column an older database lacks."""
    present = {row[1] for row in conn.execute(f"pragma table_info({table})")}
    return [name if name in present else f"null as {name}" for name in wanted]


def _target_columns(target: PgDatabase, table: str) -> list[str]:
    """The columns of ``table`` in PostgreSQL, less a generated ``id`` (bigserial)."""
    rows = target.conn.execute(
        "select column_name, column_default from information_schema.columns "
        "where table_schema = current_schema() and table_name = ? order by ordinal_position",
        (table,),
    )
    return [name for name, default in rows if not (name == "id" and default)]


def _check_columns(source: sqlite3.Connection, target: PgDatabase, table: str) -> list[str]:
    """The columns to copy; a ``ProbeError`` when SQLite holds one PostgreSQL has no place for."""
    fields = _target_columns(target, table)
    extra = {row[1] for row in source.execute(f"pragma table_info({table})")} - {*fields, "id"}
    # A column only a probe fills (runs.owner: the local process) is empty at a collector: nothing is lost.
    held = sorted(
        name for name in extra if source.execute(f"select 1 from {table} where {name} is not null limit 1").fetchone()
    )
    if held:
        raise ProbeError(f"{table} holds columns the PostgreSQL schema lacks: {', '.join(held)}")
    return fields


def _copy_simple(source: sqlite3.Connection, target: PgDatabase, table: str, key: str) -> int:
    fields = _check_columns(source, target, table)
    select = ", ".join(_columns(source, table, fields))
    rows = list(_rows(source, f"select {select} from {table}"))
    if rows:
        with target.conn:
            target.conn.executemany(
                f"insert into {table} ({', '.join(fields)}) values ({', '.join('?' for _ in fields)}) "
                f"on conflict {key} do nothing",
                rows,
            )
    return len(rows)


def _copy_measurements(source: sqlite3.Connection, target: PgDatabase) -> int:
    fields = _check_columns(source, target, "measurements")
    select = ", ".join(_columns(source, "measurements", fields))
    copied = 0
    chunk: list[list[Any]] = []
    for row in _rows(source, f"select {select} from measurements order by probe_id, chain_seq"):
        chunk.append(row)
        if len(chunk) >= CHUNK_ROWS:
            copied += _copy_chunk(target, fields, chunk)
            chunk = []
    if chunk:
        copied += _copy_chunk(target, fields, chunk)
    return copied


def _copy_chunk(target: PgDatabase, fields: Sequence[str], chunk: list[list[Any]]) -> int:
    at = {name: index for index, name in enumerate(fields)}
    conn = target.conn
    with conn.transaction():
        epochs = [row[at["chain_epoch"]] or "" for row in chunk]
        new = conn.execute(
            "insert into measurement_chain (probe_id, epoch, chain_seq, id, chain_prev, chain_hash) "
            "select * from unnest(?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[], ?::text[]) "
            "on conflict do nothing returning probe_id, epoch, chain_seq",
            [
                [row[at["probe_id"]] for row in chunk],
                epochs,
                *([row[at[name]] for row in chunk] for name in ("chain_seq", "id", "chain_prev", "chain_hash")),
            ],
        ).fetchall()
        fresh = {(probe_id, epoch, int(seq)) for probe_id, epoch, seq in new}
        rows = [
            row
            for row, epoch in zip(chunk, epochs, strict=True)
            if (row[at["probe_id"]], epoch, row[at["chain_seq"]]) in fresh
        ]
        target.ensure_partitions({month for row in rows if (month := month_of(row[at["started_at"]]))})
        with conn.raw.cursor() as cursor, cursor.copy(f"copy measurements ({', '.join(fields)}) from stdin") as copy:
            for row in rows:
                copy.write_row(row)
    return len(rows)


def _copy_contexts(source: sqlite3.Connection, target: PgDatabase) -> int:
    """The network contexts not copied yet: a run's context is one per phase (start, end), as ingest keeps it."""
    if "network_contexts" not in {row[0] for row in source.execute("select name from sqlite_master")}:
        return 0
    there = {(run_id, phase) for run_id, phase in target.conn.execute("select run_id, phase from network_contexts")}
    select = ", ".join(f"nc.{name}" for name in _CONTEXT_COLUMNS)
    rows = [
        row
        for row in _rows(
            source, f"select r.probe_id, {select} from network_contexts nc left join runs r on r.id = nc.run_id"
        )
        if (row[1], row[2]) not in there
    ]
    if rows:
        columns = ("probe_id", *_CONTEXT_COLUMNS)
        with target.conn:
            target.conn.executemany(
                f"insert into network_contexts ({', '.join(columns)}) values ({', '.join('?' for _ in columns)})", rows
            )
    return len(rows)


def _counts_sqlite(conn: sqlite3.Connection) -> dict[str, int]:
    tables = {row[0] for row in conn.execute("select name from sqlite_master where type = 'table'")}
    return {
        table: int(conn.execute(f"select count(*) from {table}").fetchone()[0]) for table in _COUNTED if table in tables
    }


def _counts_pg(target: PgDatabase, tables: Sequence[str]) -> dict[str, int]:
    return {table: int(target.conn.one(f"select count(*) from {table}")[0]) for table in tables}


def _chains(verification: Verification) -> dict[str, tuple[Any, ...]]:
    return {
        chain.probe_id: (
            chain.records,
            chain.first_seq,
            chain.last_seq,
            chain.heads,
            chain.last_signed,
            str(chain.problem),
        )
        for chain in verification.chains
    }


def compare(
    before: Verification, after: Verification, counts_before: dict[str, int], counts_after: dict[str, int]
) -> list[str]:
    """What differs between two databases' verifications and row counts (empty: they agree)."""
    differences = []
    if before.ok != after.ok:
        differences.append(
            f"verify says {'ok' if before.ok else 'NOT ok'} before and {'ok' if after.ok else 'NOT ok'} after"
        )
    chains_before, chains_after = _chains(before), _chains(after)
    for probe_id in sorted(set(chains_before) | set(chains_after)):
        if chains_before.get(probe_id) != chains_after.get(probe_id):
            differences.append(
                f"probe {probe_id}: {chains_before.get(probe_id)} before, {chains_after.get(probe_id)} after"
            )
    for table, count in counts_before.items():
        if counts_after.get(table) != count:
            differences.append(f"{table}: {count} rows before, {counts_after.get(table)} after")
    return differences


def move(sqlite_path: Path, url: str) -> MoveReport:
    """Copy the collector at ``sqlite_path`` into the PostgreSQL database ``url``; verify both and compare."""
    if not sqlite_path.is_file():
        raise ProbeError(f"no collector database at {sqlite_path}")
    open_database(sqlite_path).close()  # brought up to the current schema, as every command does
    source = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    target = open_postgres(url)
    report = MoveReport()
    try:
        own = source.execute("select count(*) from measurements where probe_id is null").fetchone()[0]
        if own:
            raise ProbeError(
                f"{sqlite_path} holds {own} measurements of its own probe (no probe id): only a collector's "
                "database moves to PostgreSQL"
            )
        report.copied["probes"] = _copy_simple(source, target, "probes", "(id)")
        report.copied["runs"] = _copy_simple(source, target, "runs", "(probe_id, id)")
        report.copied["rounds"] = _copy_simple(source, target, "rounds", "(probe_id, id)")
        report.copied["chain_heads"] = _copy_simple(source, target, "chain_heads", "(probe_id, seq)")
        report.copied["measurements"] = _copy_measurements(source, target)
        report.copied["network_contexts"] = _copy_contexts(source, target)
        if not target.conn.one("select count(*) from outage_windows")[0]:
            report.copied["outage_windows"] = _copy_simple(source, target, "outage_windows", "")
        report.before = verify_database(sqlite_path)
        report.after = verify_connection(target.conn, target.label, sqlite=False)
        counts = _counts_sqlite(source)
        report.differences = compare(report.before, report.after, counts, _counts_pg(target, list(counts)))
    finally:
        source.close()
        target.close()
    return report
