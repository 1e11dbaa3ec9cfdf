"""Private files: what the probe writes is readable by its owner only, whatever the umask.

Which sites a volunteer tests is dangerous to know. On a shared computer the default umask (022)
would make the database, its ``-wal`` and ``-shm``, the key, exports, reports and bundles readable
by every user. So directories the probe creates are 0700 and files 0600, set explicitly after
creation (a umask can only take bits away, and an odd one could take the owner's too). SQLite
gives ``-wal`` and ``-shm`` the database file's own mode, so a database created 0600 keeps them so.

An existing directory is never loosened nor tightened behind the user's back (``--out /tmp/x``
must not lock other users out of ``/tmp``); an existing data file of the probe's with bits for
others (from an older version) is tightened when the probe opens it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TextIO, cast

DIR_MODE = 0o700
FILE_MODE = 0o600
DATABASE_SIDE_FILES = ("-wal", "-shm", "-journal")
"""Files SQLite keeps beside a database."""


def private_dir(path: Path) -> None:
    """Create ``path`` and its missing parents as 0700 directories; existing ones are left as they are."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # made by another process meanwhile
        os.chmod(directory, DIR_MODE)


def tighten(path: Path) -> None:
    """Take group and other bits off ``path`` if it exists and is this user's (a file from an older version)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid() and info.st_mode & 0o077:
        os.chmod(path, stat.S_IMODE(info.st_mode) & ~0o077)


def create_private(path: Path) -> None:
    """Make sure ``path`` exists as a 0600 file (an empty one is made if missing); an existing one is tightened."""
    if not create_new_private(path):
        tighten(path)


def create_new_private(path: Path) -> bool:
    """Create ``path`` as an empty 0600 file if it is missing; whether it was made. An existing file is not touched.

    For a database: the descriptor closed here is of a file that did not exist, so no lock SQLite holds in
    this process can be on it (closing any descriptor of a file drops every POSIX lock the process holds
    on that file; see ``tighten_database``)."""
    if os.path.lexists(path):
        return False  # not even a failing open of a database a connection may hold
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return True


def tighten_database(path: Path) -> None:
    """The database file and the files SQLite keeps beside it, 0600 (those that exist).

    By path only (``stat`` and ``chmod``), never through a descriptor: SQLite's locks are POSIX locks,
    which belong to the process, and closing *any* descriptor of the file drops every lock the process's
    connections hold on it; another process would then take itself for the last connection, checkpoint
    and delete the ``-wal`` under a live writer, and a crash would lose every commit since. The caller
    checks that ``path`` is a database (through SQLite) before tightening it."""
    tighten(path)
    for suffix in DATABASE_SIDE_FILES:
        tighten(path.with_name(path.name + suffix))


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_TRUNC) -> int:
    """``os.open`` a file for writing as 0600: a new file is made so, an existing one is set so."""
    fd = os.open(path, flags | os.O_NOFOLLOW, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except OSError:
        os.close(fd)
        raise
    return fd


def write_private_text(path: Path) -> TextIO:
    """A text stream writing ``path`` (truncated) as a 0600 file."""
    return cast(TextIO, os.fdopen(open_private(path), "w", encoding="utf-8"))
