"""A fleet of probes uploading signed batches to a real collector in phases, live; not a test module.

Fifteen probes with their own keys, rounds every 10 minutes over 28 hours ending about now, uploading every 30
minutes (``upload_every``). Mangystau (KZ-47): Zhanaozen (2 fixed, 1 mobile), Beineu (2 fixed, 1 mobile) and Aktau
(2 fixed, 2 mobile); Almaty (KZ-75): 2 fixed, 2 mobile and a laptop. What happens, by phase (``Fleet.upload``):

    history    every probe's rounds up to ``cut`` (90 minutes before now), all up, in batches of 4 hours each
               made after its last round. The test cannot wait a day: ``arrived_on_time`` then says, in the
               collector's own table, that each of these batches was received when the probe made it.
    silence    Aktau's and Almaty's probes (not the laptop) upload their rounds since ``cut``, all up; Zhanaozen,
               Beineu and the laptop upload nothing: overdue against their schedules.
    late       Zhanaozen's batch made 30 minutes ago arrives: its network was down from ``cut`` on; Beineu's
               arrives: its network worked all along (its uploads were only late); the laptop's: it was off
               from ``cut`` and made rounds again 20 minutes ago, after a reboot.
    back       Zhanaozen's rounds of the last 20 minutes: its network works again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from test_collector_service import post

from probe.analysis.times import iso
from probe.collector import registry
from probe.collector.service import CollectorServer, running_collector
from probe.identity import Identity, load_or_create
from probe.storage.store import open_store
from probe.upload.protocol import encode_batch, sign_batch
from probe.upload.queue import make_batch

ROUND = 600.0
UPLOAD = 1800.0
ROUNDS = 28 * 6
CUT = ROUNDS - 9
"""The first round after the cut (90 minutes before now)."""
BACK = ROUNDS - 2
"""Zhanaozen's first round with its network back, and the laptop's first after its reboot (20 minutes before now)."""
HISTORY_BATCH = 24


@dataclass(frozen=True)
class Member:
    name: str
    area: str
    district: str
    network_type: str


MEMBERS = [
    *(Member(f"zhanaozen-{kind}", "KZ-47", "Zhanaozen", kind.rstrip("01")) for kind in ("fixed0", "fixed1", "mobile0")),
    *(Member(f"beineu-{kind}", "KZ-47", "Beineu", kind.rstrip("01")) for kind in ("fixed0", "fixed1", "mobile0")),
    *(
        Member(f"aktau-{kind}", "KZ-47", "Aktau", kind.rstrip("01"))
        for kind in ("fixed0", "fixed1", "mobile0", "mobile1")
    ),
    *(
        Member(f"almaty-{kind}", "KZ-75", "Almaty", kind.rstrip("01"))
        for kind in ("fixed0", "fixed1", "mobile0", "mobile1")
    ),
    Member("laptop", "KZ-75", "Almaty", "fixed"),
]
SILENT = ("zhanaozen", "beineu", "laptop")


@dataclass
class Fleet:
    root: Path
    start: float = 0.0
    """The first round's start; the last round starts about 10 minutes before the fleet was made."""
    identities: dict[str, Identity] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.start = float(int(time.time()) - 30) - ROUNDS * ROUND
        for member in MEMBERS:
            self.identities[member.name] = load_or_create(self.root / f"{member.name}.key")

    def at(self, k: int) -> float:
        return self.start + k * ROUND

    def names(self) -> dict[str, str]:
        """Probe id -> the member's name."""
        return {identity.probe_id: name for name, identity in self.identities.items()}

    def register(self, target: Path | str) -> None:
        db = open_store(target)
        try:
            for name, identity in self.identities.items():
                registry.register(db, identity.public_key_b64, name)
        finally:
            db.close()

    def batch(self, member: Member, rounds: range, *, down: bool = False, made: float | None = None) -> bytes:
        """A signed batch of ``member``'s rounds ``rounds``, made at ``made`` (default: now)."""
        identity = self.identities[member.name]
        run = str(uuid.uuid4())
        place = {"probe_cc": "KZ", "area": member.area, "district": member.district}
        runs = [{"id": run, "started_at": iso(self.at(rounds.start)), **place, "network_type": member.network_type}]
        items: list[dict[str, Any]] = []
        for k in rounds:
            reached = 0 if down else 3
            items.append(
                {"id": str(uuid.uuid4()), "group_name": "reach", "experiment": "tcp", "run_id": run}
                | {"started_at": iso(self.at(k)), "finished_at": iso(self.at(k) + 5), "status": "finished"}
                | {"targets": 3, "measured": 3, "reached": reached, "failed": 3 - reached, "every": ROUND}
                | {"rebooted": int(member.name == "laptop" and k == BACK), "resumed": 0}
            )
        batch = make_batch(identity, measurements=[], runs=runs, rounds=items, head=None, upload_every=UPLOAD)
        if made is not None:
            batch["created_at"] = iso(made)
            batch["signature"] = sign_batch(identity, batch)
        return encode_batch(batch)

    def upload(self, server: CollectorServer, phase: str) -> None:
        for body in self.phase(phase):
            status, answer = post(server, body)
            assert status == 200, answer

    def phase(self, phase: str) -> Iterable[bytes]:
        for member in MEMBERS:
            family = member.name.split("-")[0]
            if phase == "history":
                for first in range(0, CUT, HISTORY_BATCH):
                    last = min(first + HISTORY_BATCH, CUT)
                    yield self.batch(member, range(first, last), made=self.at(last - 1) + 60)
            elif phase == "silence" and family not in SILENT:
                yield self.batch(member, range(CUT, ROUNDS))
            elif phase == "late" and family == "zhanaozen":
                yield self.batch(member, range(CUT, BACK), down=True, made=self.at(BACK - 1) + 60)
            elif phase == "late" and family == "beineu":
                yield self.batch(member, range(CUT, ROUNDS))
            elif (phase, family) in (("late", "laptop"), ("back", "zhanaozen")):
                yield self.batch(member, range(BACK, ROUNDS))


def arrived_on_time(target: Path | str) -> None:
    """Every batch stored so far received when its probe made it (the fleet's history, compressed)."""
    db = open_store(target)
    try:
        with db.conn:
            db.conn.execute("update batch_arrivals set received_at = created_at")
    finally:
        db.close()


def gone_silent(root: Path) -> tuple[Path, Fleet]:
    """A SQLite collector in ``root`` that has received the fleet's history, on time, then the silence phase:
    Zhanaozen's, Beineu's and the laptop's uploads overdue (the collector stopped again)."""
    path = root / "collector.db"
    fleet = Fleet(root / "probes")
    fleet.register(path)
    with running_collector(path) as server:
        fleet.upload(server, "history")
        arrived_on_time(path)
        fleet.upload(server, "silence")
    return path, fleet
