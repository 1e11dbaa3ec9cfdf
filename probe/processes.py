"""Whether a process still runs, told apart from a later one that was given its pid.

Pids are reused, so a pid alone cannot say that the process which wrote it down is the one running now. Its start
time (clock ticks since boot, field 22 of ``/proc/PID/stat``) and the boot it belongs to (the kernel's boot id)
can: a later process under the same pid started later, and after a reboot every start time begins again.

    start_time / boot_id    what identifies a process, read from ``/proc`` (None and "" where there is none)
    this_process / alive    one text for that (``pid:start:boot``), to store, and whether it still runs
    exists / is_zombie      whether a pid names any process, and one that ended but was not reaped
    cpu_seconds / status_kb what a process has used so far: CPU time, and a memory figure (for the benchmarks)
"""

from __future__ import annotations

import os
from pathlib import Path

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
PROC = Path("/proc")
_STATE = 0
"""Field 3 of ``/proc/PID/stat`` (R, S, D, Z...), counted after the command name."""
_START_TIME = 19
"""Field 22 of ``/proc/PID/stat``, counted after the command name."""
_UTIME, _STIME = 11, 12
"""Fields 14 and 15 of ``/proc/PID/stat`` (user and system CPU, in clock ticks), counted after the command name."""


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (field 3 onward); None if the process is gone."""
    try:
        stat = (PROC / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces and parentheses: count from the last one.
    return stat.rpartition(")")[2].split()


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot, None if it is gone."""
    fields = _stat(pid)
    return fields[_START_TIME] if fields is not None and len(fields) > _START_TIME else None


def is_zombie(pid: int) -> bool:
    """Whether the process has ended but its parent has not reaped it (it still has a pid, and runs nothing)."""
    fields = _stat(pid)
    return fields is not None and fields[_STATE : _STATE + 1] == ["Z"]


def cpu_seconds(pid: int) -> float:
    """The CPU seconds (user and system) the process has used so far; 0 once it is gone."""
    fields = _stat(pid)
    if fields is None or len(fields) <= _STIME:
        return 0.0
    return (int(fields[_UTIME]) + int(fields[_STIME])) / os.sysconf("SC_CLK_TCK")


def status_kb(pid: int, field: str) -> int:
    """A figure in KiB from ``/proc/PID/status`` (``VmRSS:``, ``VmHWM:``); 0 once the process is gone."""
    try:
        status = (PROC / str(pid) / "status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith(field)), 0)


def exists(pid: int) -> bool:
    """Whether ``pid`` names a process, even one this process may not signal (a zombie too: see ``is_zombie``)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def boot_id(source: Path = BOOT_ID) -> str:
    """The kernel's id of this boot (read from ``source``); "" where there is none to read."""
    try:
        return source.read_text(encoding="ascii").strip()
    except OSError:
        return ""


def this_process() -> str:
    """The calling process as ``pid:start:boot``, for ``alive`` to check later, from any process."""
    pid = os.getpid()
    return f"{pid}:{start_time(pid) or ''}:{boot_id()}"


def alive(owner: str | None) -> bool:
    """Whether the process ``this_process`` named as ``owner`` still runs; an empty or unreadable one does not."""
    if not owner:
        return False
    try:
        pid_text, start, boot = owner.split(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if boot != boot_id():
        return False
    return start_time(pid) == start
