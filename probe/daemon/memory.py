"""Memory a daemon gives back between rounds, on the C library that allows it (glibc); elsewhere nothing.

A round's measuring threads allocate and free bodies of up to ``[http] max_body_bytes`` each. glibc gives each
thread an arena of its own (up to eight a core) and keeps what is freed in them for later, so a daemon's resident
memory after its first rounds stayed 10 MB above what it holds: on a board with 350 MB to spare, for nothing.
Two arenas (``mallopt(M_ARENA_MAX)``, set before the first thread) and ``malloc_trim`` after each round give
those pages back; ``benchmarks/daemon_footprint.py`` measures it. Neither changes what Python allocates.
"""

from __future__ import annotations

import ctypes
from typing import Any

M_ARENA_MAX = -8
"""glibc's ``mallopt`` parameter for the number of arenas (malloc.h)."""
ARENAS = 2
"""Arenas a daemon's threads share: more only saves waits on a lock that the GIL mostly takes already."""


def _libc_function(name: str) -> Any | None:
    """``name`` from the C library this process runs on, or None (not glibc, or no such function)."""
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Let the C allocator keep at most ``arenas`` arenas (call before starting threads); whether it could."""
    mallopt = _libc_function("mallopt")
    return mallopt is not None and bool(mallopt(M_ARENA_MAX, arenas))


def return_freed_memory() -> bool:
    """Give the pages the C allocator holds free back to the system; whether any were."""
    malloc_trim = _libc_function("malloc_trim")
    return malloc_trim is not None and bool(malloc_trim(0))
