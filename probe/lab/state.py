"""Where a running lab is written down, so that later commands (and later runs) can find it.

Each lab has a directory ``<root>/<lab id>/`` (default root ``/run/zhanaozen-probe-lab``,
a tmpfs: nothing outlives a reboot, and neither do namespaces) holding ``state.json``, its
CA, its policy, its servers' logs and readiness files. ``<root>/current`` names the lab
that ``probe lab up`` started, the one ``down``, ``scenario`` and ``exec`` act on.

A lab made by a test run records its owner's pid (and the owner's start time, so that a
reused pid is not mistaken for it): once the owner is gone the lab is stale, and the next
lab started under the same root removes it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from probe.lab.topology import Namespaces
from probe.processes import start_time

STATE_ROOT = Path("/run/zhanaozen-probe-lab")
STATE_FILE = "state.json"
CURRENT_FILE = "current"


@dataclass
class LabState:
    lab_id: str
    directory: Path
    owner_pid: int | None = None
    owner_start: str | None = None
    pids: dict[str, int] = field(default_factory=dict)
    scenario: str = "clean"
    sites: list[str] = field(default_factory=list)
    config: str | None = None
    """The probe config written for the CLI's lab, if any."""

    @property
    def namespaces(self) -> Namespaces:
        return Namespaces.for_lab(self.lab_id)

    def save(self) -> None:
        data = asdict(self)
        data["directory"] = str(self.directory)
        tmp = self.directory / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.replace(tmp, self.directory / STATE_FILE)

    @classmethod
    def load(cls, directory: Path) -> LabState | None:
        try:
            data = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
            return cls(
                lab_id=str(data["lab_id"]),
                directory=Path(data["directory"]),
                owner_pid=data.get("owner_pid"),
                owner_start=data.get("owner_start"),
                pids={str(k): int(v) for k, v in data.get("pids", {}).items()},
                scenario=str(data.get("scenario", "clean")),
                sites=[str(s) for s in data.get("sites", [])],
                config=data.get("config"),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def stale(self) -> bool:
        """Made by a process that is gone (a test run killed before it could clean up)."""
        if self.owner_pid is None:
            return False
        return start_time(self.owner_pid) != self.owner_start


def all_labs(root: Path) -> list[LabState]:
    if not root.is_dir():
        return []
    found = (LabState.load(path) for path in sorted(root.iterdir()) if path.is_dir())
    return [state for state in found if state is not None]


def current_lab(root: Path) -> LabState | None:
    try:
        lab_id = (root / CURRENT_FILE).read_text(encoding="ascii").strip()
    except OSError:
        return None
    if not lab_id.isalnum():
        return None
    return LabState.load(root / lab_id)


def set_current(root: Path, lab_id: str | None) -> None:
    path = root / CURRENT_FILE
    if lab_id is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text(lab_id + "\n", encoding="ascii")
