"""The hash chain: each record's hash covers its sequence number, the previous hash and its content.

Chain order is insertion order (``chain_seq``, 1, 2, 3, ...); record 1 links to ``GENESIS``.
The content is the measurement's immutable columns exactly as stored (``test_keys`` and
``annotations`` as their JSON text), so the hash can be recomputed from any copy of the row:
the probe's database, a bundle, or the collector's database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from probe.storage.columns import CHAINED_COLUMNS

CHAIN_VERSION = 1
GENESIS = "0" * 64
"""The ``chain_prev`` of record 1."""


def canonical_json(value: Any) -> bytes:
    """One byte string per value: sorted keys, no spaces, UTF-8; what is hashed and signed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def chain_content(row: Mapping[str, Any]) -> dict[str, Any]:
    """The chained part of a measurement row (``KeyError`` if a chained column is missing)."""
    return {name: row[name] for name in CHAINED_COLUMNS}


def record_hash(seq: int, prev: str, row: Mapping[str, Any]) -> str:
    """The hash of record ``seq`` whose predecessor's hash is ``prev``, as 64 hex digits."""
    body = {"v": CHAIN_VERSION, "seq": seq, "prev": prev, "content": chain_content(row)}
    return hashlib.sha256(canonical_json(body)).hexdigest()
