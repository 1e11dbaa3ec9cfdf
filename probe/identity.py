"""The probe's identity: an Ed25519 key made on first use; the probe's id is the key's fingerprint.

The private key lives beside the database (``probe.db`` -> ``probe.key``), readable by its
owner only, and never leaves the machine. The id is the first 32 hex digits of the SHA-256 of
the raw public key, so a collector operator can allow a probe by its id alone and check the
key it later presents. Losing the key file makes a new probe id; the database's chain goes on.

The key file is PKCS #8 PEM (RFC 8410), as cryptography and OpenSSL write it. Making, reading and signing with
the key go through ``probe.ed25519`` (the OpenSSL ``ssl`` links), so that a daemon never loads cryptography;
a key file in another form that cryptography can read still works, read by cryptography. Verifying signatures
(collectors) loads cryptography.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from probe import ed25519
from probe.errors import ProbeError
from probe.storage.private import open_private, private_dir

KEY_SUFFIX = ".key"
PROBE_ID_HEX_DIGITS = 32
PUBLIC_KEY_BYTES = ed25519.PUBLIC_KEY_BYTES
PKCS8_ED25519_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
"""What precedes the 32-byte key in the DER of an unencrypted PKCS #8 Ed25519 key without its public key
(RFC 8410, section 7): a SEQUENCE of version 0, the algorithm id 1.3.101.112, and the key as an OCTET STRING."""
PEM_BEGIN, PEM_END = "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----"
PEM_LINE = 64


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
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = Ed25519PublicKey.from_public_bytes(decode_public_key(public_key_b64))
        key.verify(base64.b64decode(signature_b64, validate=True), data)
    except (IdentityError, InvalidSignature, binascii.Error, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Identity:
    seed: bytes = field(repr=False)
    """The raw 32-byte Ed25519 private key."""
    public_key: bytes = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "public_key", ed25519.public_key(self.seed))

    @classmethod
    def generate(cls) -> Identity:
        """A new key (32 bytes from the system's random source, RFC 8032, 5.1.5)."""
        return cls(secrets.token_bytes(ed25519.SEED_BYTES))

    @property
    def public_key_b64(self) -> str:
        return encode(self.public_key)

    @property
    def probe_id(self) -> str:
        return fingerprint(self.public_key)

    def sign(self, data: bytes) -> str:
        """The base64 Ed25519 signature of ``data``."""
        return encode(ed25519.sign(self.seed, data))

    def pem(self) -> bytes:
        """The key as its file holds it: PKCS #8 PEM."""
        body = base64.b64encode(PKCS8_ED25519_PREFIX + self.seed).decode("ascii")
        lines = [PEM_BEGIN, *(body[i : i + PEM_LINE] for i in range(0, len(body), PEM_LINE)), PEM_END, ""]
        return "\n".join(lines).encode("ascii")


def load_or_create(path: Path) -> Identity:
    """The identity whose key is at ``path``; a new key is made there (mode 0600) if there is none."""
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        return _create(path)
    except OSError as exc:
        raise IdentityError(f"cannot read the probe's key {path}: {exc.strerror or exc}") from None
    seed = _pkcs8_ed25519_seed(pem)
    return Identity(seed if seed is not None else _other_key_file(path, pem))


def _pkcs8_ed25519_seed(pem: bytes) -> bytes | None:
    """The key of a PEM file in the form ``Identity.pem`` writes (and cryptography and OpenSSL), or None."""
    lines = pem.decode("ascii", errors="replace").strip().splitlines()
    if len(lines) < 3 or lines[0].strip() != PEM_BEGIN or lines[-1].strip() != PEM_END:
        return None
    try:
        der = base64.b64decode("".join(line.strip() for line in lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(der) != len(PKCS8_ED25519_PREFIX) + ed25519.SEED_BYTES or not der.startswith(PKCS8_ED25519_PREFIX):
        return None
    return der[len(PKCS8_ED25519_PREFIX) :]


def _other_key_file(path: Path, pem: bytes) -> bytes:
    """The Ed25519 key of a PEM file in another form, read by cryptography; ``IdentityError`` if it holds none."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise IdentityError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise IdentityError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key.private_bytes_raw()


def _create(path: Path) -> Identity:
    identity = Identity.generate()
    pem = identity.pem()
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
    return identity
