"""Which probes a collector accepts. An operator registers a probe by its public key (what
``probe identity`` prints), or allows it by its id alone: the id is the key's fingerprint, so
the first batch's key is checked against it and then kept."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from probe.errors import ProbeError, StorageError
from probe.identity import decode_public_key, fingerprint
from probe.model import utc_now_iso

if TYPE_CHECKING:
    from probe.storage.store import AnyDatabase as Store

_PROBE_ID = "0123456789abcdef"


@dataclass(frozen=True)
class ProbeEntry:
    id: str
    public_key: str | None
    name: str | None


def _write(db: Store, sql: str, params: tuple[Any, ...]) -> None:
    try:
        with db.conn:
            db.conn.execute(sql, params)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot update probes in {db.path or 'memory'}: {exc}") from None


def register(db: Store, public_key: str, name: str | None = None) -> str:
    """Accept the probe with this base64 public key; its id."""
    raw = decode_public_key(public_key)
    probe_id = fingerprint(raw)
    existing = lookup(db, probe_id)
    if existing is not None and existing.public_key not in (None, public_key.strip()):
        raise ProbeError(f"probe {probe_id} is already registered with another key")
    _write(
        db,
        "insert into probes (id, public_key, name, added_at, added_how) values (?, ?, ?, ?, 'register') "
        "on conflict(id) do update set public_key = excluded.public_key, name = coalesce(excluded.name, probes.name)",
        (probe_id, public_key.strip(), name, utc_now_iso()),
    )
    return probe_id


def allow(db: Store, probe_id: str, name: str | None = None) -> str:
    """Accept the probe with this id; its key is taken from its first batch (whose fingerprint must match)."""
    probe_id = probe_id.strip().lower()
    if len(probe_id) != 32 or any(c not in _PROBE_ID for c in probe_id):
        raise ProbeError(f"a probe id is 32 hex digits (what `probe identity` prints), got {probe_id!r}")
    _write(
        db,
        "insert into probes (id, name, added_at, added_how) values (?, ?, ?, 'allow') "
        "on conflict(id) do update set name = coalesce(excluded.name, probes.name)",
        (probe_id, name, utc_now_iso()),
    )
    return probe_id


def lookup(db: Store, probe_id: str) -> ProbeEntry | None:
    row = db.conn.execute("select id, public_key, name from probes where id = ?", (probe_id,)).fetchone()
    return ProbeEntry(*row) if row else None


def learn_key(db: Store, probe_id: str, public_key: str) -> None:
    """Keep the key of a probe allowed by id (inside the caller's transaction)."""
    db.conn.execute("update probes set public_key = ? where id = ? and public_key is null", (public_key, probe_id))


def probes(db: Store) -> list[dict[str, Any]]:
    # What each probe's last heartbeat said it holds in quarantine (records this collector refused).
    cursor = db.conn.execute(
        "select p.*, (select r.quarantined from rounds r where r.probe_id = p.id and r.finished_at is not null "
        "order by r.finished_at desc limit 1) as quarantined from probes p order by p.added_at, p.id"
    )
    names = [column[0] for column in cursor.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cursor]
