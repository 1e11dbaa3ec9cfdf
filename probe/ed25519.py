"""Ed25519 signatures made by the OpenSSL that Python's ``ssl`` module already links, else by cryptography.

A daemon signs its chain's head once a round. cryptography's native extension (a 15 MB file) kept 8.5 MB of
a daemon's resident memory for that, a seventh of it, while the libcrypto that ``ssl`` maps for every TLS
measurement has signed Ed25519 since OpenSSL 1.1.1: ``sign`` calls it through ``ctypes``. Where that library or
one of its functions cannot be found (LibreSSL, an OpenSSL built into the interpreter), cryptography signs
instead. Either gives the same bytes: an Ed25519 signature is a function of the key and the message (RFC 8032),
and the tests compare the two. Verifying stays with cryptography (``probe.identity.verify``): collectors do it.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from probe.errors import ProbeError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SEED_BYTES = 32
"""An Ed25519 private key: 32 random bytes (RFC 8032, 5.1.5)."""
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
NID_ED25519 = 1087
"""OpenSSL's number for Ed25519 keys (``EVP_PKEY_ED25519``, obj_mac.h), the same in 1.1.1 and 3.x."""


class SigningError(ProbeError):
    """OpenSSL refused a step of a signature (not expected with a 32-byte key)."""


@dataclass(frozen=True)
class _LibCrypto:
    new_raw_private_key: Any
    get_raw_public_key: Any
    md_ctx_new: Any
    md_ctx_free: Any
    digest_sign_init: Any
    digest_sign: Any
    pkey_free: Any


def _functions(lib: ctypes.CDLL) -> _LibCrypto:
    """The EVP functions an Ed25519 signature takes, typed (``AttributeError`` if one is missing)."""
    p, size, size_p = ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)
    table = {
        "EVP_PKEY_new_raw_private_key": ([ctypes.c_int, p, ctypes.c_char_p, size], p),
        "EVP_PKEY_get_raw_public_key": ([p, ctypes.c_char_p, size_p], ctypes.c_int),
        "EVP_MD_CTX_new": ([], p),
        "EVP_MD_CTX_free": ([p], None),
        "EVP_DigestSignInit": ([p, p, p, p, p], ctypes.c_int),
        "EVP_DigestSign": ([p, ctypes.c_char_p, size_p, ctypes.c_char_p, size], ctypes.c_int),
        "EVP_PKEY_free": ([p], None),
    }
    found = []
    for name, (argtypes, restype) in table.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = argtypes, restype
        found.append(function)
    return _LibCrypto(*found)


@functools.cache
def _libcrypto() -> _LibCrypto | None:
    """The libcrypto of Python's ``ssl`` module (its functions are found through ``_ssl``'s own dependencies), or
    None when it has not all of them."""
    try:
        import _ssl

        lib = ctypes.CDLL(getattr(_ssl, "__file__", None))  # None: built into the interpreter, search the process
        return _functions(lib)
    except (ImportError, OSError, AttributeError):
        return None


_LOCK = threading.Lock()
"""``_libcrypto``'s first call from two threads at once would type the same functions twice: harmless, but once."""


def _openssl() -> _LibCrypto | None:
    with _LOCK:
        return _libcrypto()


def _check_seed(seed: bytes) -> None:
    if len(seed) != SEED_BYTES:
        raise ValueError(f"an Ed25519 private key has {SEED_BYTES} bytes, not {len(seed)}")


def _with_key(lib: _LibCrypto, seed: bytes) -> int:
    key = lib.new_raw_private_key(NID_ED25519, None, seed, len(seed))
    if not key:
        raise SigningError("OpenSSL refused the Ed25519 private key")
    return int(key)


def public_key(seed: bytes) -> bytes:
    """The raw 32-byte public key of the private key ``seed``."""
    _check_seed(seed)
    lib = _openssl()
    if lib is None:
        return _cryptography_key(seed).public_key().public_bytes_raw()
    key = _with_key(lib, seed)
    try:
        out, length = ctypes.create_string_buffer(PUBLIC_KEY_BYTES), ctypes.c_size_t(PUBLIC_KEY_BYTES)
        if lib.get_raw_public_key(key, out, ctypes.byref(length)) != 1 or length.value != PUBLIC_KEY_BYTES:
            raise SigningError("OpenSSL gave no Ed25519 public key")
        return out.raw
    finally:
        lib.pkey_free(key)


def sign(seed: bytes, data: bytes) -> bytes:
    """The 64-byte Ed25519 signature of ``data`` by the private key ``seed``."""
    _check_seed(seed)
    lib = _openssl()
    if lib is None:
        return _cryptography_key(seed).sign(data)
    key = _with_key(lib, seed)
    context = lib.md_ctx_new()
    try:
        if not context or lib.digest_sign_init(context, None, None, None, key) != 1:
            raise SigningError("OpenSSL could not start an Ed25519 signature")
        out, length = ctypes.create_string_buffer(SIGNATURE_BYTES), ctypes.c_size_t(SIGNATURE_BYTES)
        if lib.digest_sign(context, out, ctypes.byref(length), data, len(data)) != 1 or length.value != SIGNATURE_BYTES:
            raise SigningError("OpenSSL could not make an Ed25519 signature")
        return out.raw
    finally:
        lib.md_ctx_free(context)
        lib.pkey_free(key)


def _cryptography_key(seed: bytes) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(seed)
