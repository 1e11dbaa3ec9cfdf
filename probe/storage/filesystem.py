"""Whether a database sits on a filesystem where SQLite's locks and WAL can be trusted.

SQLite's WAL keeps its index in shared memory (``-shm``, mapped by every connection) and relies on POSIX
locks: over a network filesystem (NFS, SMB, sshfs) processes on other machines share neither, and locks
may be missing or broken, so two writers can corrupt the file. The probe says so when it opens a database
there (``probe.storage.db``); it does not refuse, since a volunteer's only disk may be such a share and a
single process there does work. Read from ``/proc/self/mountinfo``: the database file itself is never opened.
"""

from __future__ import annotations

import os
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")
NETWORK_FILESYSTEMS = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "9p", "afs", "ceph", "glusterfs", "lustre", "davfs", "gfs2"}
)
"""Filesystem types whose locking SQLite warns about; ``fuse.sshfs`` and other ``fuse.*`` remote mounts too."""
REMOTE_FUSE = frozenset({"fuse.sshfs", "fuse.rclone", "fuse.s3fs", "fuse.gcsfuse", "fuse.davfs2"})


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash in paths as octal escapes (\040 ...).
    return field.encode("ascii", "backslashreplace").decode("unicode_escape")


def mount_type(path: Path, mountinfo: str) -> str | None:
    """The filesystem type of the mount holding ``path`` (absolute, resolved), from mountinfo's text."""
    best: tuple[int, str] | None = None
    target = str(path)
    for line in mountinfo.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        mount_point = _unescape(fields[4])
        fs_type = line.split(" - ", 1)[1].split()[0]
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and (best is None or len(mount_point) >= best[0]):
            best = (len(mount_point), fs_type)
    return best[1] if best else None


def network_filesystem(path: Path, mountinfo: str | None = None) -> str | None:
    """The type of the network filesystem ``path``'s directory is on, or None (local, or not known)."""
    if mountinfo is None:
        try:
            mountinfo = MOUNTINFO.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    directory = Path(os.path.realpath(path)).parent
    fs_type = mount_type(directory, mountinfo)
    if fs_type is None:
        return None
    if fs_type in NETWORK_FILESYSTEMS or fs_type in REMOTE_FUSE:
        return fs_type
    return None
