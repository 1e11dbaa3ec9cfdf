"""Memory given back between a daemon's rounds: on glibc it is done, on a C library without it nothing fails; SQLite's
page cache is emptied."""

from __future__ import annotations

import _sqlite3
import ctypes
import platform
from pathlib import Path

import pytest

from probe.daemon import memory
from probe.storage import open_database


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


def sqlite_memory_used() -> int:
    """Bytes SQLite holds in this process now (``sqlite3_status64``, through the library ``sqlite3`` links)."""
    lib = ctypes.CDLL(_sqlite3.__file__)
    current, highest = ctypes.c_int64(), ctypes.c_int64()
    assert lib.sqlite3_status64(0, ctypes.byref(current), ctypes.byref(highest), 0) == 0  # SQLITE_STATUS_MEMORY_USED
    return current.value


def test_a_database_gives_back_its_page_cache_between_rounds(tmp_path: Path) -> None:
    db = open_database(tmp_path / "probe.db")
    try:
        db.conn.execute("create table bodies (body blob)")
        with db.conn:
            db.conn.executemany("insert into bodies values (?)", [(bytes(200_000),) for _ in range(20)])
        db.conn.execute("select sum(length(body)) from bodies").fetchall()
        held = sqlite_memory_used()
        db.release_memory()
        assert sqlite_memory_used() < held - 1_000_000  # the 2 MB page cache, filled by the round's bodies
    finally:
        db.close()
