# ruff: noqa: F811  (pytest fixtures imported from other test modules are parameters here)
"""A collector killed and started again raises no shutdown from the silence it caused (issue 21): while it was down
every probe was silent, and its probes back off after; a district whose probes stay silent beyond that is still a
provisional regional shutdown, alerted.

Real parts: ``probe collector serve`` as a process (``support.fleet.Collector``) with its alerts to a webhook
receiver (``test_collector_alerts.receiver``) and its regional rules at a compressed schedule
(``[collector.regional]``: 20-second bins, a 16-second grace); sixteen probes in four districts, each a thread
making a round every 10 seconds and uploading its signed batch every 20 over HTTP, backing off after a failure as
a daemon does (``probe.upload.uploader``: ``Backoff``, ``send``).
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from support.fleet import Collector, wait_until
from test_collector_alerts import Receiver, receiver  # noqa: F401  (fixture)

from probe.analysis.times import iso
from probe.collector import registry
from probe.identity import Identity, load_or_create
from probe.storage.store import open_store
from probe.upload.protocol import encode_batch, upload_headers
from probe.upload.queue import make_batch
from probe.upload.uploader import Backoff, UploadError, send

ROUND = 10.0
UPLOAD = 20.0
BACKOFF = (2.0, 16.0)
"""The probes' backoff_min and backoff_max, as ``[collector.regional]`` says them (``resume_*``)."""
DISTRICTS = {"Zhanaozen": "KZ-47", "Beineu": "KZ-47", "Aktau": "KZ-47", "Almaty": "KZ-75"}
CUT = "Beineu"
"""The district whose probes stay silent from the collector's crash on (their network down)."""


@dataclass
class LiveProbe:
    """A probe making a round every ``ROUND`` seconds and uploading what it has not sent every ``UPLOAD``."""

    name: str
    district: str
    network_type: str
    identity: Identity
    url: str
    stop: threading.Event
    down: threading.Event = field(default_factory=threading.Event)
    uploads: list[float] = field(default_factory=list)
    """When each of its batches was acknowledged (this machine's clock)."""
    rounds: list[dict[str, Any]] = field(default_factory=list)

    def run(self) -> None:
        session = requests.Session()
        session.trust_env = False
        backoff = Backoff(*BACKOFF)
        run = str(uuid.uuid4())
        next_round = next_upload = time.time()
        try:
            while not self.stop.is_set():
                now = time.time()
                if now >= next_round:
                    self.rounds.append(self._round(run, now))
                    next_round = now + ROUND
                if now >= next_upload and not self.down.is_set():
                    next_upload = now + self._upload(session, run, backoff)
                self.stop.wait(max(0.05, min(next_round, next_upload) - time.time()))
        finally:
            session.close()

    def _round(self, run: str, start: float) -> dict[str, Any]:
        reached = 0 if self.down.is_set() else 3
        return {"id": str(uuid.uuid4()), "group_name": "reach", "experiment": "tcp", "run_id": run} | {
            "started_at": iso(start),
            "finished_at": iso(start + 1),
            "status": "finished",
            "targets": 3,
            "measured": 3,
            "reached": reached,
            "failed": 3 - reached,
            "every": ROUND,
            "rebooted": 0,
            "resumed": 0,
        }

    def _upload(self, session: requests.Session, run: str, backoff: Backoff) -> float:
        """One attempt; the seconds until the next."""
        rounds = list(self.rounds)
        place = {"probe_cc": "KZ", "area": DISTRICTS[self.district], "district": self.district}
        runs = [{"id": run, "started_at": rounds[0]["started_at"], **place, "network_type": self.network_type}]
        batch = make_batch(self.identity, measurements=[], runs=runs, rounds=rounds, head=None, upload_every=UPLOAD)
        body = encode_batch(batch)
        try:
            send(session, self.url, body, timeout=5, headers=upload_headers(self.identity, body))
        except UploadError:
            return backoff.failed()
        backoff.succeeded()
        del self.rounds[: len(rounds)]
        self.uploads.append(time.time())
        return UPLOAD


def probes(root: Path, url: str, stop: threading.Event) -> list[LiveProbe]:
    found = []
    for district in DISTRICTS:
        for kind in ("fixed0", "fixed1", "mobile0", "mobile1"):
            name = f"{district.lower()}-{kind}"
            identity = load_or_create(root / f"{name}.key")
            found.append(LiveProbe(name, district, kind.rstrip("01"), identity, url, stop))
    return found


def regional(receiver: Receiver) -> list[tuple[str, str, str, bool]]:
    return [
        (alert["transition"], alert["window"]["kind"], alert["window"]["district"], alert["window"]["provisional"])
        for alert in receiver.accepted()
        if alert["type"] == "regional_window"
    ]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_collector_killed_and_restarted_alerts_no_shutdown_and_a_district_still_silent_after_the_grace_is_alerted(
    tmp_path: Path, receiver: Receiver
) -> None:
    config = tmp_path / "collector.toml"
    config.write_text(
        f'[collector.alerts]\nwebhooks = ["{receiver.url}"]\ncheck_every = 0.5\nbackoff_min = 0.1\n'
        f"[collector.regional]\nbin_seconds = {2 * ROUND}\nresume_backoff_min = {BACKOFF[0]}\n"
        f"resume_grace = {BACKOFF[1]}\n",
        encoding="utf-8",
    )
    db = tmp_path / "collector.db"
    collector = Collector(db, tmp_path / "collector.log", config)
    stop = threading.Event()
    fleet = probes(tmp_path / "probes", collector.url, stop)
    store = open_store(db)
    try:
        for probe in fleet:
            registry.register(store, probe.identity.public_key_b64, probe.name)
    finally:
        store.close()
    threads = [threading.Thread(target=probe.run, name=probe.name, daemon=True) for probe in fleet]
    collector.start()
    try:
        for thread in threads:
            thread.start()
        wait_until(lambda: all(len(p.uploads) >= 2 for p in fleet), timeout=120, what="every probe uploading")
        collector.kill()  # a crash: no stop recorded, its heartbeat the last thing it wrote
        killed = time.time()
        for probe in fleet:
            if probe.district == CUT:
                probe.down.set()
        # Long enough that without its sessions every probe would be overdue, two bins silent: a national shutdown.
        time.sleep(3 * UPLOAD)
        collector.start()
        resumed = time.time()
        healthy = [p for p in fleet if p.district != CUT]
        wait_until(lambda: all(p.uploads[-1] > resumed for p in healthy), timeout=120, what="the uploads back")
        grace = resumed + BACKOFF[1] + 1.5 * UPLOAD  # when the silent district's probes become overdue
        wait_until(lambda: time.time() > grace, timeout=300, what="the grace to pass")
        assert regional(receiver) == [], "alerted from the collector's own outage"
        wait_until(lambda: regional(receiver), timeout=300, what="the silent district alerted")
        assert time.time() - killed > 3 * UPLOAD + BACKOFF[1] + 1.5 * UPLOAD
        assert regional(receiver) == [("opened", "regional_shutdown", CUT, True)]
        [alert] = [a for a in receiver.accepted() if a["type"] == "regional_window"]
        who = {p.identity.probe_id: p.district for p in fleet}
        assert {who[probe] for probe in alert["window"]["probes"]} == {CUT}
        assert alert["window"]["start_max"] >= iso(killed - UPLOAD)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        collector.stop()
    sessions = open_store(db)
    try:
        found = sessions.conn.execute("select stopped_at from collector_sessions order by started_at").fetchall()
    finally:
        sessions.close()
    assert [row[0] is None for row in found] == [True, False]  # the crash left no stop; the clean stop did
