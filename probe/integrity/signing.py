"""What the probe's key signs, as bytes: a chain head, and an upload batch.

Each statement starts with its own context line, so a signature over one kind can never be
passed off as the other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from probe.identity import Identity, verify
from probe.storage.chain import canonical_json
from probe.storage.columns import CHAINED_COLUMNS

_CHAINED = frozenset(CHAINED_COLUMNS)

HEAD_CONTEXT = b"zhanaozen-probe chain head v1\n"
BATCH_CONTEXT = b"zhanaozen-probe batch v1\n"
HASHED_BATCH_CONTEXT = b"zhanaozen-probe batch of hashed records v1\n"
WITHHELD_CONTEXT = b"zhanaozen-probe withheld record v1\n"
UPLOAD_CONTEXT = b"zhanaozen-probe upload body v1\n"
BUNDLE_END_CONTEXT = b"zhanaozen-probe bundle end v1\n"


def bundle_end_statement(probe_id: str, lines: int, sha256: str, created_at: str) -> bytes:
    """ "Probe ``probe_id``'s bundle holds ``lines`` batch lines before this one, whose bytes hash to ``sha256``"."""
    statement = {"probe_id": probe_id, "lines": lines, "sha256": sha256, "created_at": created_at}
    return BUNDLE_END_CONTEXT + canonical_json(statement)


def head_statement(probe_id: str, seq: int, hash_: str, signed_at: str) -> bytes:
    """ "Probe ``probe_id``'s chain, up to and including record ``seq``, hashes to ``hash_``"."""
    return HEAD_CONTEXT + canonical_json({"probe_id": probe_id, "seq": seq, "hash": hash_, "signed_at": signed_at})


def sign_head(identity: Identity, seq: int, hash_: str, signed_at: str) -> str:
    return identity.sign(head_statement(identity.probe_id, seq, hash_, signed_at))


def head_signature_ok(public_key_b64: str, probe_id: str, seq: int, hash_: str, signed_at: str, signature: str) -> bool:
    return verify(public_key_b64, signature, head_statement(probe_id, seq, hash_, signed_at))


def withheld_statement(probe_id: str, epoch: str, seq: int, prev: str, hash_: str, reason: str) -> bytes:
    """ "Probe ``probe_id`` withholds record ``seq`` of its chain ``epoch`` (linked to ``prev``, hashing
    to ``hash_``) because ``reason``": what stands for a quarantined record at a collector."""
    statement = {"probe_id": probe_id, "epoch": epoch, "seq": seq, "prev": prev, "hash": hash_, "reason": reason}
    return WITHHELD_CONTEXT + canonical_json(statement)


def withheld_signature_ok(public_key_b64: str, probe_id: str, record: Mapping[str, Any], epoch: str) -> bool:
    """Whether ``record`` (``seq``, ``prev``, ``hash``, ``reason``, ``signature``) is signed by the probe."""
    statement = withheld_statement(probe_id, epoch, record["seq"], record["prev"], record["hash"], record["reason"])
    return verify(public_key_b64, str(record["signature"]), statement)


def batch_statement(batch: Mapping[str, Any]) -> bytes:
    """The bytes the ``signature`` of a batch up to ``zhanaozen-batch/2`` covers: every other key of the
    batch, canonically."""
    return BATCH_CONTEXT + canonical_json({key: value for key, value in batch.items() if key != "signature"})


def hashed_batch_statement(batch: Mapping[str, Any]) -> bytes:
    """The bytes the ``signature`` of a ``zhanaozen-batch/3`` covers: every other key of the batch, canonically,
    with each measurement record standing as its place, its hash and its columns outside the chain.

    A record's chained content is covered through ``chain_hash``, which every reader recomputes from that
    content before trusting it (a collector refuses a record whose hash does not match): the signature then
    costs a few bytes a record instead of a second canonical encoding of its test keys. ``batch`` is the batch
    as its model (``probe.upload.protocol.Batch``) dumps it, every field present, so that the probe and the
    collector encode the same values."""
    view = {key: value for key, value in batch.items() if key != "signature"}
    view["measurements"] = [
        {name: value for name, value in record.items() if name not in _CHAINED} for record in batch["measurements"]
    ]
    return HASHED_BATCH_CONTEXT + canonical_json(view)


def upload_statement(body: bytes) -> bytes:
    """The bytes an upload's ``X-Probe-Signature`` covers: the SHA-256 of the request body as sent.

    A collector checks it before it parses the body, so unsigned bytes cost it no parsing (and
    hashing, unlike appending the body to a context line, makes no copy of a large body)."""
    return UPLOAD_CONTEXT + hashlib.sha256(body).digest()
