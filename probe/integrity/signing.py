"""What the probe's key signs, as bytes: a chain head, and an upload batch.

Each statement starts with its own context line, so a signature over one kind can never be
passed off as the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from probe.identity import Identity, verify
from probe.storage.chain import canonical_json

HEAD_CONTEXT = b"zhanaozen-probe chain head v1\n"
BATCH_CONTEXT = b"zhanaozen-probe batch v1\n"


def head_statement(probe_id: str, seq: int, hash_: str, signed_at: str) -> bytes:
    """ "Probe ``probe_id``'s chain, up to and including record ``seq``, hashes to ``hash_``"."""
    return HEAD_CONTEXT + canonical_json({"probe_id": probe_id, "seq": seq, "hash": hash_, "signed_at": signed_at})


def sign_head(identity: Identity, seq: int, hash_: str, signed_at: str) -> str:
    return identity.sign(head_statement(identity.probe_id, seq, hash_, signed_at))


def head_signature_ok(public_key_b64: str, probe_id: str, seq: int, hash_: str, signed_at: str, signature: str) -> bool:
    return verify(public_key_b64, signature, head_statement(probe_id, seq, hash_, signed_at))


def batch_statement(batch: Mapping[str, Any]) -> bytes:
    """The bytes a batch's ``signature`` covers: every other key of the batch, canonically."""
    return BATCH_CONTEXT + canonical_json({key: value for key, value in batch.items() if key != "signature"})
