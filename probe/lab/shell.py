"""Running the system's network tools (ip, iptables, tc) with a time limit and one-line errors."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from probe.lab.errors import LabError

COMMAND_TIMEOUT = 20.0


def run(args: Sequence[str], *, stdin: str | None = None, timeout: float = COMMAND_TIMEOUT) -> str:
    """Run ``args``; its stdout, or ``LabError`` naming the command and its first line of stderr."""
    try:
        done = subprocess.run(list(args), input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise LabError(f"lab: {args[0]} not found (install it: see 'Censorship lab' in docs/user-guide.md)") from None
    except subprocess.TimeoutExpired:
        raise LabError(f"lab: {' '.join(args[:4])} took longer than {timeout:g} s") from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[0]
        raise LabError(f"lab: {' '.join(args[:6])}: {reason}")
    return done.stdout


def in_netns(namespace: str, args: Sequence[str]) -> list[str]:
    """``args`` as a command run inside ``namespace``."""
    return ["ip", "netns", "exec", namespace, *args]
