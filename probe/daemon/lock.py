"""One daemon per database: an exclusive ``flock`` on ``<db>.daemon.lock``.

The kernel releases the lock when the process ends however it ends (kill -9 included), so a
stale lock file never blocks a restart. The file holds the owner's pid, for the error message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from probe.errors import ProbeError
from probe.storage.private import open_private, private_dir


class AlreadyRunning(ProbeError):
    """Another daemon holds the lock of this database."""


def lock_path_for(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".daemon.lock")


class DaemonLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> DaemonLock:
        private_dir(self.path.parent)
        fd = open_private(self.path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise AlreadyRunning(f"another daemon (pid {owner}) is running on this database ({self.path})") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> DaemonLock:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
