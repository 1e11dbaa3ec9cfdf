"""The collector's batches in SQLite: the probe's schema, one writer (``BEGIN IMMEDIATE``) at a time.

Exactly-once rests on the unique index (probe, chain_seq) of migration 2 and the primary key on
``id``; ``ingest`` checks against what is stored before it writes, inside the same transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from probe.collector.store import ADD_ARRIVAL, STORED_COLUMNS, TOUCH_PROBE, Link, Stored, chunks
from probe.errors import StorageError
from probe.storage import Database

_CHUNK = 500
"""Ids or places looked up in one query (older SQLite builds take at most 999 parameters)."""


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


class SqliteBatchStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.conn = db.db.conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        conn = self.conn
        try:
            conn.execute("begin immediate")
            try:
                yield
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot store a batch in {self.db.path or 'memory'}: {exc}") from None

    # One query for a batch's ids or places (in chunks under SQLite's limit of parameters), not one a record.
    def by_id(self, ids: Sequence[str]) -> dict[str, Stored]:
        found: dict[str, Stored] = {}
        for part in chunks(ids, _CHUNK):
            rows = self.conn.execute(
                f"select id, probe_id, chain_hash from measurements where id in ({_marks(part)})", part
            )
            found.update({id_: (probe_id, hash_) for id_, probe_id, hash_ in rows})
        return found

    def at_seq(self, probe_id: str, epoch: str, seqs: Sequence[int]) -> dict[int, Link]:
        found: dict[int, Link] = {}
        for part in chunks(seqs, _CHUNK):
            rows = self.conn.execute(
                "select chain_seq, id, chain_prev, chain_hash from measurements "
                f"where coalesce(probe_id, '') = ? and coalesce(chain_epoch, '') = ? and chain_seq in ({_marks(part)})",
                (probe_id, epoch, *part),
            )
            found.update({int(seq): (id_, prev, hash_) for seq, id_, prev, hash_ in rows})
        return found

    def insert_records(self, probe_id: str, epoch: str | None, rows: Sequence[dict[str, Any]]) -> None:
        columns = (*STORED_COLUMNS, "probe_id", "chain_epoch")
        self.conn.executemany(
            f"insert into measurements ({', '.join(columns)}) values ({', '.join('?' for _ in columns)})",
            [[*(row[name] for name in STORED_COLUMNS), probe_id, epoch] for row in rows],
        )

    def owners(self, table: str, ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for part in chunks(ids, _CHUNK):
            found.update(
                dict(self.conn.execute(f"select id, probe_id from {table} where id in ({_marks(part)})", part))
            )
        return found

    def upsert(self, table: str, fields: Sequence[str], rows: Sequence[dict[str, Any]], probe_id: str) -> None:
        columns = (*fields, "probe_id")
        updates = ", ".join(f"{name} = excluded.{name}" for name in fields if name != "id")
        sql = (
            f"insert into {table} ({', '.join(columns)}) values ({', '.join('?' for _ in columns)}) "
            f"on conflict(id) do update set {updates} where {table}.status = 'running' or excluded.status != 'running'"
        )
        for row in rows:
            self.conn.execute(sql, [*(row[name] for name in fields), probe_id])

    def add_head(self, probe_id: str, epoch: str, seq: int, hash_: str, signed_at: str, signature: str) -> None:
        self.conn.execute(
            "insert or ignore into chain_heads (probe_id, epoch, seq, hash, signed_at, signature) "
            "values (?, ?, ?, ?, ?, ?)",
            (probe_id, epoch, seq, hash_, signed_at, signature),
        )

    def touch_probe(self, probe_id: str, now: str, stored: int, upload_every: float | None) -> None:
        self.conn.execute(TOUCH_PROBE, (now, now, stored, upload_every, probe_id))

    def add_arrival(self, values: Sequence[Any]) -> None:
        self.conn.execute(ADD_ARRIVAL, values)

    def claim(self, key: str) -> None:
        """Nothing to wait for: ``BEGIN IMMEDIATE`` lets one writer in at a time."""
