# ruff: noqa: F811  (pytest fixtures imported from other test modules are parameters here)
"""Webhook alerts for a collector's regional windows (issue 21), live: a district's probes fall silent together, the
collector alerts a provisional regional shutdown, the late batches confirm it (or show another district's silence
was not a cut: dropped), and it closes; each transition sent once, across restarts, never for a laptop off.

Real parts on loopback: a collector serving (``running_collector``) with the alert worker ``probe collector serve``
runs beside it (``serving.alert_worker``, from the config), fifteen probes' signed batches uploaded over HTTP
(``support.regional_live``), and a webhook receiver (``test_collector_alerts.receiver``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from support.regional_live import BACK, CUT, Fleet, gone_silent
from support.unattended import wait_for
from test_collector_alerts import Receiver, receiver  # noqa: F401  (fixture)

from probe.analysis.times import iso, now_iso, seconds
from probe.collector.alert_worker import AlertWorker
from probe.collector.alerts import AlertState
from probe.collector.regional_alerts import look_regional
from probe.collector.service import CollectorServer, running_collector
from probe.collector.serving import alert_paths, alert_worker
from probe.config import Config
from probe.storage.store import open_store

ZHANAOZEN = {"zhanaozen-fixed0", "zhanaozen-fixed1", "zhanaozen-mobile0"}


def config(url: str, **alerts: Any) -> Config:
    settings = {"webhooks": [url], "check_every": 0.1, "backoff_min": 0.05, "backoff_max": 0.2, **alerts}
    return Config.model_validate({"collector": {"alerts": settings}})


@contextmanager
def serving(path: Path, settings: Config, log: list[str]) -> Iterator[tuple[CollectorServer, AlertWorker]]:
    """The collector as ``probe collector serve`` runs it: ingest, and its alert worker beside it."""
    worker = alert_worker(settings, path, log.append)
    assert worker is not None
    with running_collector(path) as server:
        worker.start()
        try:
            yield server, worker
        finally:
            worker.stop()


def settle(worker: AlertWorker) -> None:
    """Two more looks: the second began after everything uploaded before this call was committed."""
    for _ in range(2):
        worker.looked.clear()
        assert worker.looked.wait(60)


def regional(receiver: Receiver) -> list[tuple[str, str, str, bool]]:
    """The regional alerts received: (transition, kind, district, provisional)."""
    return [
        (alert["transition"], alert["window"]["kind"], alert["window"]["district"], alert["window"]["provisional"])
        for alert in receiver.accepted()
        if alert["type"] == "regional_window"
    ]


def test_a_district_cut_is_alerted_provisional_then_confirmed_then_closed_and_a_disproved_one_dropped_once_each(
    tmp_path: Path, receiver: Receiver
) -> None:
    path, fleet = gone_silent(tmp_path)  # before alerts began: else the history alone is a silent country
    settings = config(receiver.url)
    log: list[str] = []
    with serving(path, settings, log) as (server, worker):
        # Zhanaozen's and Beineu's probes overdue together: a provisional regional shutdown of each, at once.
        assert wait_for(lambda: len(regional(receiver)) == 2, timeout=60), regional(receiver)
        settle(worker)
        assert sorted(regional(receiver)) == [
            ("opened", "regional_shutdown", "Beineu", True),
            ("opened", "regional_shutdown", "Zhanaozen", True),
        ]
        fleet.upload(server, "late")
        assert wait_for(lambda: len(regional(receiver)) == 4, timeout=60), regional(receiver)
        settle(worker)
    assert sorted(regional(receiver)[2:]) == [
        ("confirmed", "regional_shutdown", "Zhanaozen", False),
        ("dropped", "regional_shutdown", "Beineu", True),
    ]
    with serving(path, settings, log) as (server, worker):  # restarted: nothing is sent again
        settle(worker)
        assert len(regional(receiver)) == 4
        fleet.upload(server, "back")
        assert wait_for(lambda: len(regional(receiver)) == 5, timeout=60), regional(receiver)
        settle(worker)
    with serving(path, settings, log) as (server, worker):
        settle(worker)
    alerts = [alert for alert in receiver.accepted() if alert["type"] == "regional_window"]
    assert [transition for transition, *_ in regional(receiver)][-1] == "closed" and len(alerts) == 5
    assert len({alert["alert_id"] for alert in alerts}) == 5
    who = fleet.names()
    opened, confirmed, closed = (
        next(a for a in alerts if a["transition"] == t and a["window"]["district"] == "Zhanaozen")
        for t in ("opened", "confirmed", "closed")
    )
    for alert in (opened, confirmed, closed):
        window = alert["window"]
        assert (window["scope"], window["country"], window["area"], window["place"]) == (
            "district",
            "KZ",
            "KZ-47",
            "KZ/KZ-47/Zhanaozen",
        )
        seen = {who[probe] for probe in window["probes"]}
        # Confirmed as soon as two of its probes' late batches show the network down: a look may come between them.
        assert seen == ZHANAOZEN if alert is not confirmed else len(seen) >= 2 and seen <= ZHANAOZEN
        assert window["probes_total"] == 3 and window["confidence"] > 0.99 and window["basis"]
        assert "Zhanaozen" in alert["summary"] and alert["summary"].startswith("regional_shutdown")
    assert opened["window"]["end_max"] is None and "silent" in opened["window"]["basis"]
    assert "provisional" in opened["summary"]
    assert not confirmed["window"]["provisional"] and confirmed["window"]["ongoing"]
    # The first good round's end: a round judged by its counts saw the network working before it ended.
    assert closed["window"]["end_min"] < closed["window"]["end_max"] <= iso(seconds(fleet_iso(fleet, -1)) + 5)
    assert closed["window"]["start_min"] < fleet_iso(fleet, 0) <= closed["window"]["start_max"]
    # The laptop off for an hour and a half, and back after a reboot: nothing, from either look.
    laptop = fleet.identities["laptop"].probe_id
    assert not [alert for alert in receiver.accepted() if laptop in str(alert)]
    assert sum("regional window" in line for line in log) == 5
    state = AlertState(alert_paths(settings, path)[1])
    assert [row["attempts"] for row in state.deliveries() if "Zhanaozen" in row["window_key"]] == [1, 1, 1]
    state.close()


def fleet_iso(fleet: Fleet, offset: int) -> str:
    """The start of a round relative to the cut (0: the cut's first round; -1: Zhanaozen's last one down)."""
    return iso(fleet.at(CUT + offset if offset >= 0 else BACK + offset + 1))


def test_regional_alerts_can_be_turned_off_and_a_look_makes_nothing_twice(tmp_path: Path, receiver: Receiver) -> None:
    path, _ = gone_silent(tmp_path)
    settings = config(receiver.url, regional=False)
    with serving(path, settings, []) as (_, worker):
        settle(worker)
    assert receiver.accepted() == []
    state = AlertState(tmp_path / "alerts.db")
    db = open_store(path, read_only_ok=True)
    try:
        settings = config("http://127.0.0.1:9/").collector.alerts
        first = look_regional(db.conn, state, settings, now=now_iso(), collector="c")
        assert sorted((t, w["district"]) for t, w in first) == [("opened", "Beineu"), ("opened", "Zhanaozen")]
        assert look_regional(db.conn, state, settings, now=now_iso(), collector="c") == []
    finally:
        db.close()
        state.close()
