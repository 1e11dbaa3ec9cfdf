"""Memory given back between a daemon's rounds: on glibc it is done, on a C library without it nothing fails."""

from __future__ import annotations

import ctypes
import platform

import pytest

from probe.daemon import memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt and malloc_trim")
def test_on_glibc_the_arenas_are_limited_and_freed_pages_given_back() -> None:
    assert memory.limit_arenas() is True
    chunks = [bytes(100_000) for _ in range(200)]  # 20 MB in the heap: each under glibc's mmap threshold
    del chunks
    assert memory.return_freed_memory() is True


def test_a_c_library_without_them_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoSuchFunctions:
        def __init__(self, name: object) -> None:
            pass

        def __getattr__(self, name: str) -> object:
            raise AttributeError(name)

    monkeypatch.setattr(ctypes, "CDLL", NoSuchFunctions)
    assert memory.limit_arenas() is False
    assert memory.return_freed_memory() is False


def test_a_c_library_that_cannot_be_opened_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(name: object) -> object:
        raise OSError("no C library here")

    monkeypatch.setattr(ctypes, "CDLL", unavailable)
    assert memory.limit_arenas() is False
    assert memory.return_freed_memory() is False
