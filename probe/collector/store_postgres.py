"""The collector's batches in PostgreSQL: the ledger's unique key first, then COPY into partitions.

A batch's new records go into ``measurement_chain`` with ``on conflict do nothing``: its primary
key (probe_id, chain_seq) and unique (probe_id, id) decide, not an earlier check, so two writers
(two collector processes, or an import while serving) never store a record twice. ``ingest``
claims the probe first, so two writers check one probe's batches one after the other; if a record
was stored by another writer between the checks and this insert all the same (another probe's
batch naming the same id), the batch is rolled back with ``StoredMeanwhile`` (ingest answers it 503)
and the retry is answered as such.
The measurements themselves are copied (``COPY``) into their month's partition, made on demand.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from probe.collector.store import (
    ADD_ARRIVAL,
    STORED_COLUMNS,
    TOUCH_PROBE,
    Link,
    Stored,
    StoredMeanwhile,
    UnstorableValue,
    chunks,
)
from probe.storage.postgres.database import PgDatabase, month_of

_COLUMNS = (*STORED_COLUMNS, "probe_id", "chain_epoch")
_LOOKUP_CHUNK = 1000


def _check_text(rows: Sequence[dict[str, Any]]) -> None:
    """PostgreSQL's text holds no NUL: refuse it (``UnstorableValue``) rather than fail the COPY. One scan of
    each row's text joined, the rare row holding one looked at value by value."""
    for row in rows:
        if "\x00" not in "".join([value for value in row.values() if type(value) is str]):
            continue
        for name, value in row.items():
            if isinstance(value, str) and "\x00" in value:
                raise UnstorableValue(f"record {row.get('chain_seq')}: {name} holds a NUL character")


class PostgresBatchStore:
    def __init__(self, db: PgDatabase) -> None:
        self.db = db
        self.conn = db.conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    def by_id(self, ids: Sequence[str]) -> dict[str, Stored]:
        found: dict[str, Stored] = {}
        for part in chunks(ids, _LOOKUP_CHUNK):
            rows = self.conn.execute(
                "select id, probe_id, chain_hash from measurement_chain where id = any(?)", (part,)
            )
            found.update({id_: (probe_id, hash_) for id_, probe_id, hash_ in rows})
        return found

    def at_seq(self, probe_id: str, epoch: str, seqs: Sequence[int]) -> dict[int, Link]:
        found: dict[int, Link] = {}
        for part in chunks(seqs, _LOOKUP_CHUNK):
            rows = self.conn.execute(
                "select chain_seq, id, chain_prev, chain_hash from measurement_chain "
                "where probe_id = ? and epoch = ? and chain_seq = any(?)",
                (probe_id, epoch, part),
            )
            found.update({int(seq): (id_, prev, hash_) for seq, id_, prev, hash_ in rows})
        return found

    def insert_records(self, probe_id: str, epoch: str | None, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        _check_text(rows)
        inserted = self.conn.execute(
            "insert into measurement_chain (probe_id, epoch, chain_seq, id, chain_prev, chain_hash) "
            "select ?, ?, * from unnest(?::bigint[], ?::text[], ?::text[], ?::text[]) on conflict do nothing",
            (
                probe_id,
                epoch or "",
                [row["chain_seq"] for row in rows],
                [row["id"] for row in rows],
                [row["chain_prev"] for row in rows],
                [row["chain_hash"] for row in rows],
            ),
        ).rowcount
        if inserted != len(rows):
            raise StoredMeanwhile("another writer stored some of these records meanwhile; send the batch again")
        self.db.ensure_partitions({month for row in rows if (month := month_of(row["started_at"]))})
        try:
            with (
                self.conn.raw.cursor() as cursor,
                cursor.copy(f"copy measurements ({', '.join(_COLUMNS)}) from stdin") as copy,
            ):
                for row in rows:
                    copy.write_row([*(row[name] for name in STORED_COLUMNS), probe_id, epoch])
        except psycopg.Error as exc:
            raise self.conn.fail(exc) from None

    def owners(self, table: str, ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for part in chunks(ids, _LOOKUP_CHUNK):
            found.update(dict(self.conn.execute(f"select id, probe_id from {table} where id = any(?)", (part,))))
        return found

    def upsert(self, table: str, fields: Sequence[str], rows: Sequence[dict[str, Any]], probe_id: str) -> None:
        if not rows:
            return
        _check_text(rows)
        columns = (*fields, "probe_id")
        updates = ", ".join(f"{name} = excluded.{name}" for name in fields if name != "id")
        self.conn.executemany(
            f"insert into {table} ({', '.join(columns)}) values ({', '.join('?' for _ in columns)}) "
            f"on conflict (probe_id, id) do update set {updates} "
            f"where {table}.status = 'running' or excluded.status != 'running'",
            [[*(row[name] for name in fields), probe_id] for row in rows],
        )

    def add_head(self, probe_id: str, epoch: str, seq: int, hash_: str, signed_at: str, signature: str) -> None:
        self.conn.execute(
            "insert into chain_heads (probe_id, epoch, seq, hash, signed_at, signature) values (?, ?, ?, ?, ?, ?) "
            "on conflict do nothing",
            (probe_id, epoch, seq, hash_, signed_at, signature),
        )

    def touch_probe(self, probe_id: str, now: str, stored: int, upload_every: float | None) -> None:
        self.conn.execute(TOUCH_PROBE, (now, now, stored, upload_every, probe_id))

    def add_arrival(self, values: Sequence[Any]) -> None:
        self.conn.execute(ADD_ARRIVAL, values)

    def claim(self, key: str) -> None:
        self.conn.execute("select pg_advisory_xact_lock(hashtext(?))", (key,))
