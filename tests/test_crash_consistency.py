"""Power cuts while other programs read: every record a collector acknowledged survives, on both sides.

Real processes throughout: ``probe collector serve`` on a SQLite database, probes' ``probe daemon``s measuring
and uploading to it, and another process opening, reading and closing the databases in a loop (as
``probe results``, Datasette or a backup would). kill -9 lands at seeded random moments, many times. What
must hold after each kill: what the collector stored is still in the probe's database (nothing it
acknowledged was lost), what the probe recorded as acknowledged is in the collector's (and visible to
another process at once), nothing is refused or quarantined, and ``probe verify`` is clean on both sides.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from support.fleet import Collector, Probe, probe_command, reading, rows, wait_until
from support.servers import tcp_refusing_port

KILLS = 8
"""Kills of each kind in one test (seeded moments)."""
FLEET = 10
"""Probes uploading to one collector at once."""


def assert_verified(db: Path) -> None:
    checked = probe_command("verify", str(db))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "verified" in checked.stdout


def refused_batches(log: Path) -> list[str]:
    return [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if "refused" in line]


def set_up_probes(tmp_path: Path, collector: Collector, port: int, count: int) -> list[Probe]:
    """``count`` volunteers' probes (key, config) measuring a refusing port on loopback, not yet registered."""
    probes = [Probe(tmp_path / f"probe{number}", collector.url, port) for number in range(count)]
    for probe in probes:
        probe.set_up()
    return probes


def drain(probe: Probe, collector: Collector) -> None:
    """The daemon stopped: what is left in the queue goes with ``probe upload``, and all of it is there."""
    sent = probe_command("upload", "--config", str(probe.config), "--db", str(probe.db))
    assert sent.returncode == 0, sent.stdout + sent.stderr
    mine = probe.measurement_ids()
    assert mine, "the probe measured nothing"
    assert collector.stored(probe.probe_id) == mine


def test_killing_a_measuring_and_uploading_daemon_loses_nothing_the_collector_acknowledged(tmp_path: Path) -> None:
    rng = random.Random(20111216)
    collector = Collector(tmp_path / "collector.db", tmp_path / "collector.log")
    with tcp_refusing_port() as refusing:
        collector.start()
        try:
            probe = Probe(tmp_path / "probe", collector.url, refusing.port)
            probe.set_up()
            collector.register(probe.public_key, "crash")
            with reading([probe.db, collector.db], tmp_path):
                for kill in range(KILLS):
                    before = len(collector.stored(probe.probe_id))
                    probe.start()
                    try:
                        # Past at least one acknowledged batch, then a random moment of the next ones.
                        wait_until(
                            lambda b=before: len(collector.stored(probe.probe_id)) > b,
                            timeout=60,
                            what="an upload",
                        )
                        time.sleep(rng.uniform(0.0, 1.5))
                    finally:
                        probe.kill()
                    stored = collector.stored(probe.probe_id)
                    mine = probe.measurement_ids()
                    assert stored <= mine, f"kill {kill}: {len(stored - mine)} acknowledged records lost by the probe"
                    assert probe.acked_ids() <= stored, f"kill {kill}: the probe records acks the collector lacks"
                drain(probe, collector)
        finally:
            collector.stop()
    assert probe.quarantined() == 0
    assert refused_batches(collector.log) == []
    assert len(probe.measurement_ids()) >= KILLS * 3
    assert_verified(probe.db)
    assert_verified(collector.db)


def test_killing_the_collector_while_probes_upload_loses_no_acknowledged_batch(tmp_path: Path) -> None:
    """A new SQLite collector, probes registered while it serves, several daemons uploading, kill -9 at random."""
    rng = random.Random(16122011)
    collector = Collector(tmp_path / "collector.db", tmp_path / "collector.log")
    with tcp_refusing_port() as refusing:
        collector.start()
        try:
            probes = set_up_probes(tmp_path, collector, refusing.port, FLEET)
            with reading([collector.db, *(probe.db for probe in probes)], tmp_path):
                for probe in probes:
                    probe.start()
                    collector.register(probe.public_key, probe.home.name)  # while it serves, as operators do
                try:
                    for kill in range(KILLS):
                        wait_until(lambda: all(probe.acked_seq() > 0 for probe in probes), timeout=60, what="acks")
                        time.sleep(rng.uniform(0.2, 2.0))
                        collector.kill()
                        for probe in probes:
                            acked, stored = probe.acked_ids(), collector.stored(probe.probe_id)
                            assert acked <= stored, f"kill {kill}: {len(acked - stored)} acknowledged records lost"
                        collector.start()
                finally:
                    for probe in probes:
                        probe.stop()
                for probe in probes:
                    drain(probe, collector)
        finally:
            collector.stop()
    assert all(probe.quarantined() == 0 for probe in probes)
    assert refused_batches(collector.log) == []
    for probe in probes:
        assert_verified(probe.db)
    assert_verified(collector.db)


def test_what_a_collector_acknowledged_is_seen_at_once_by_other_processes(tmp_path: Path) -> None:
    """``probe results`` and ``probe verify`` from other processes see every batch as soon as it was answered 200."""
    collector = Collector(tmp_path / "collector.db", tmp_path / "collector.log")
    with tcp_refusing_port() as refusing:
        collector.start()
        try:
            probes = set_up_probes(tmp_path, collector, refusing.port, FLEET)
            for probe in probes:
                collector.register(probe.public_key, probe.home.name)
                probe.start()
            try:
                for _ in range(5):
                    wait_until(lambda: all(probe.acked_seq() > 0 for probe in probes), timeout=60, what="acks")
                    acked = {probe.probe_id: probe.acked_ids() for probe in probes}
                    for probe in probes:
                        # Read by another process only after the ack was recorded: it must be there already.
                        assert acked[probe.probe_id] <= collector.stored(probe.probe_id)
                    listed = probe_command("results", "--db", str(collector.db))
                    assert listed.returncode == 0, listed.stderr
                    assert all(mid in listed.stdout for ids in acked.values() for mid in ids)
                    windows = probe_command("outages", "--db", str(collector.db), "--by", "probe", "--format", "json")
                    assert windows.returncode == 0, windows.stderr
                    assert_verified(collector.db)
                    time.sleep(0.5)
            finally:
                for probe in probes:
                    probe.stop()
        finally:
            collector.stop()
    counted = rows(collector.db, "select count(*) from measurements")[0][0]
    assert isinstance(counted, int) and counted >= FLEET


pytestmark = pytest.mark.timeout(600)
