"""Ed25519 through the OpenSSL that ``ssl`` links (``probe.ed25519``): the same keys and signatures as
cryptography's, the key file both read, and cryptography signing where that OpenSSL cannot."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from probe import ed25519
from probe.identity import Identity, IdentityError, load_or_create, verify

MESSAGES = [b"", b"zhanaozen-probe chain head v1\n{}", os.urandom(1000), bytes(1 << 20)]


def test_openssl_is_found_through_the_ssl_module() -> None:
    assert ed25519._openssl() is not None  # on this CI's Debian: the system's libcrypto 3


@pytest.mark.parametrize("message", MESSAGES, ids=["empty", "head", "random", "one-mebibyte"])
def test_keys_and_signatures_are_cryptographys_byte_for_byte(message: bytes) -> None:
    for _ in range(8):
        theirs = Ed25519PrivateKey.generate()
        seed = theirs.private_bytes_raw()
        assert ed25519.public_key(seed) == theirs.public_key().public_bytes_raw()
        assert ed25519.sign(seed, message) == theirs.sign(message)


def test_without_that_openssl_cryptography_makes_the_same_signatures(monkeypatch: pytest.MonkeyPatch) -> None:
    seed = os.urandom(ed25519.SEED_BYTES)
    made = ed25519.public_key(seed), ed25519.sign(seed, b"data")
    monkeypatch.setattr(ed25519, "_openssl", lambda: None)
    assert (ed25519.public_key(seed), ed25519.sign(seed, b"data")) == made


def test_a_key_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes, not 31"):
        ed25519.sign(bytes(31), b"x")


def test_a_signature_verifies_and_a_changed_message_does_not() -> None:
    identity = Identity.generate()
    signature = identity.sign(b"chain head")
    assert verify(identity.public_key_b64, signature, b"chain head")
    assert not verify(identity.public_key_b64, signature, b"chain head!")


def test_the_key_file_the_probe_writes_is_cryptographys_pkcs8_and_reads_back(tmp_path: Path) -> None:
    made = load_or_create(tmp_path / "probe.key")
    pem = (tmp_path / "probe.key").read_bytes()
    theirs = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(theirs, Ed25519PrivateKey)
    assert theirs.public_key().public_bytes_raw() == made.public_key
    unencrypted = serialization.NoEncryption()
    assert pem == theirs.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, unencrypted)
    assert load_or_create(tmp_path / "probe.key") == made


def test_a_key_file_cryptography_wrote_keeps_its_probe_id(tmp_path: Path) -> None:
    theirs = Ed25519PrivateKey.generate()
    pem = theirs.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "probe.key").write_bytes(pem.replace(b"\n", b"\r\n"))
    identity = load_or_create(tmp_path / "probe.key")
    assert identity.public_key == theirs.public_key().public_bytes_raw()
    assert base64.b64decode(identity.sign(b"x")) == theirs.sign(b"x")


def test_a_key_file_in_another_form_is_read_by_cryptography(tmp_path: Path) -> None:
    theirs = Ed25519PrivateKey.generate()
    pem = theirs.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "probe.key").write_bytes(b"the probe's key, kept 2026-12-06\n" + pem)
    assert load_or_create(tmp_path / "probe.key").public_key == theirs.public_key().public_bytes_raw()


def test_a_key_file_without_an_ed25519_key_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "garbage.key").write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(IdentityError, match="not an unencrypted PEM private key"):
        load_or_create(tmp_path / "garbage.key")
    other = ec.generate_private_key(ec.SECP256R1())
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "ec.key").write_bytes(pem)
    with pytest.raises(IdentityError, match="not an Ed25519 key"):
        load_or_create(tmp_path / "ec.key")
