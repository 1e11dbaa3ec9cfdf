"""The probe's identity: an Ed25519 key made on first use; the probe's id is the key's fingerprint.

The private key lives beside the database (``probe.db`` -> ``probe.key``), readable by its
owner only, and never leaves the machine. The id is the first 32 hex digits of the SHA-256 of
the raw public key, so a collector operator can allow a probe by its id alone and check the
key it later presents. Losing the key file makes a new probe id; the database's chain goes on.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from probe.errors import ProbeError
from probe.storage.private import open_private, private_dir

KEY_SUFFIX = ".key"
PROBE_ID_HEX_DIGITS = 32
PUBLIC_KEY_BYTES = 32


class IdentityError(ProbeError):
    """The probe's key cannot be read, made or used."""


def key_path_for(db_path: Path) -> Path:
    """Where the key of the probe writing ``db_path`` lives: beside it, ``<stem>.key``."""
    return db_path.with_suffix(KEY_SUFFIX)


def fingerprint(public_key: bytes) -> str:
    """The probe id of a raw 32-byte Ed25519 public key."""
    return hashlib.sha256(public_key).hexdigest()[:PROBE_ID_HEX_DIGITS]


def decode_public_key(text: str) -> bytes:
    """A base64 public key as its 32 raw bytes; ``IdentityError`` when it is not one."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise IdentityError("not a base64 Ed25519 public key") from None
    if len(raw) != PUBLIC_KEY_BYTES:
        raise IdentityError(f"an Ed25519 public key has {PUBLIC_KEY_BYTES} bytes, this one {len(raw)}")
    return raw


def encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def verify(public_key_b64: str, signature_b64: str, data: bytes) -> bool:
    """Whether ``signature_b64`` is the key's signature of ``data``; False for any malformed input."""
    try:
        key = Ed25519PublicKey.from_public_bytes(decode_public_key(public_key_b64))
        key.verify(base64.b64decode(signature_b64, validate=True), data)
    except (IdentityError, InvalidSignature, binascii.Error, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Identity:
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def public_key_b64(self) -> str:
        return encode(self.public_key)

    @property
    def probe_id(self) -> str:
        return fingerprint(self.public_key)

    def sign(self, data: bytes) -> str:
        """The base64 Ed25519 signature of ``data``."""
        return encode(self.private_key.sign(data))


def load_or_create(path: Path) -> Identity:
    """The identity whose key is at ``path``; a new key is made there (mode 0600) if there is none."""
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        return _create(path)
    except OSError as exc:
        raise IdentityError(f"cannot read the probe's key {path}: {exc.strerror or exc}") from None
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise IdentityError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise IdentityError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return Identity(key)


def _create(path: Path) -> Identity:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        private_dir(path.parent)
        fd = open_private(temporary)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        # A hard link appears whole or not at all, and fails if another process made the key first.
        os.link(temporary, path)
    except FileExistsError:
        return load_or_create(path)
    except OSError as exc:
        raise IdentityError(f"cannot create the probe's key {path}: {exc.strerror or exc}") from None
    finally:
        temporary.unlink(missing_ok=True)
    return Identity(key)
