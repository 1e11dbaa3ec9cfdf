"""Where the collector's ingest stores a checked batch: SQLite or PostgreSQL, one small interface.

``ingest`` decides (what is new, what is a duplicate, what contradicts the stored chains); a
``BatchStore`` only answers its questions and writes, inside one transaction per batch:

    store_sqlite    the embedded default: a probe's schema plus ``probes``, one writer at a time
    store_postgres  a server: the chain ledger's unique key makes every record stored once, even
                    with several writers; measurements go in by COPY, into month partitions

``stores.batch_store`` picks one for an open database. A store raises storage errors, never an answer
to a client; ``ingest`` turns them into the HTTP statuses the service answers with:

    StorageError
    └── BatchStoreError     the batch cannot be stored as sent
        ├── UnstorableValue     a value this engine cannot hold (ingest: 422)
        └── StoredMeanwhile     another writer stored some of its records meanwhile (ingest: 503)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from probe.errors import StorageError
from probe.storage.columns import CHAIN_RECORD_COLUMNS
from probe.upload.protocol import VERDICT_FIELDS

STORED_COLUMNS = (*CHAIN_RECORD_COLUMNS, *VERDICT_FIELDS)
"""A record's columns as a collector stores them: its chained content and link, and its verdict (since /2)."""
TOUCH_PROBE = (
    "update probes set first_seen = coalesce(first_seen, ?), last_seen = ?, batches = batches + 1, "
    "measurements = measurements + ?, upload_every = coalesce(?, upload_every) where id = ?"
)
"""A batch counted in ``probes`` (now, now, new measurements, the upload interval it declares or None, probe id):
the same SQL on both engines. A batch that declares no interval (a bundle, an older probe) keeps the last one."""
ADD_ARRIVAL = (
    "insert into batch_arrivals (probe_id, received_at, created_at, first_at, last_at, rounds, measurements, "
    "upload_every) values (?, ?, ?, ?, ?, ?, ?, ?)"
)
"""A stored batch's arrival (``probe.storage.tables.BATCH_ARRIVALS``, in that order): the same SQL on both engines."""
Stored = tuple[str, str]
"""A stored record found by id: (probe_id, chain_hash)."""
Link = tuple[str, str, str]
"""A stored record found by its place in a chain: (id, chain_prev, chain_hash)."""


class BatchStoreError(StorageError):
    """The batch cannot be stored as it was sent; nothing of it is kept."""


class UnstorableValue(BatchStoreError):
    """A value this engine cannot hold (PostgreSQL's text holds no NUL): the batch is at fault."""


class StoredMeanwhile(BatchStoreError):
    """Another writer stored some of the batch's records meanwhile: the same batch may be sent again."""


class BatchStore(Protocol):
    def transaction(self) -> AbstractContextManager[None]:
        """One write transaction: committed at the end, rolled back on any exception."""

    def by_id(self, ids: Sequence[str]) -> dict[str, Stored]:
        """The stored records with these ids (any probe's)."""

    def at_seq(self, probe_id: str, epoch: str, seqs: Sequence[int]) -> dict[int, Link]:
        """The stored records of ``probe_id``'s chain ``epoch`` ('' for none) at these places."""

    def insert_records(self, probe_id: str, epoch: str | None, rows: Sequence[dict[str, Any]]) -> None:
        """Store new records (``CHAIN_RECORD_COLUMNS``) of ``probe_id``'s chain ``epoch``; a record
        stored meanwhile by another writer raises ``StoredMeanwhile``, a value the engine cannot hold
        ``UnstorableValue``."""

    def owners(self, table: str, ids: Sequence[str]) -> dict[str, str]:
        """The probe owning each stored run or round (``table``: runs, rounds) of these ids."""

    def upsert(self, table: str, fields: Sequence[str], rows: Sequence[dict[str, Any]], probe_id: str) -> None:
        """Insert or update runs or rounds; a newer state is never replaced by an older ``running``."""

    def add_head(self, probe_id: str, epoch: str, seq: int, hash_: str, signed_at: str, signature: str) -> None:
        """Keep a signed chain head (once)."""

    def touch_probe(self, probe_id: str, now: str, stored: int, upload_every: float | None) -> None:
        """Count a batch and its new measurements in ``probes``, and keep the upload interval it declares."""

    def add_arrival(self, values: Sequence[Any]) -> None:
        """Keep a stored batch's arrival (``ADD_ARRIVAL``'s values)."""

    def claim(self, key: str) -> None:
        """Wait until no other writer's transaction holds ``key``, and hold it until this one ends: for
        rows stored after a look (a run's network contexts) that no unique key guards."""


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
