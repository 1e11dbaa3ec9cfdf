# ruff: noqa: F811  (pytest fixtures imported from other test modules are parameters here)
"""A serving collector keeps its session in ``collector_sessions``: when it started listening, a heartbeat from a
thread with its own connection, and when it stopped; regional detection reads them as the times it listened.
Real parts: a loopback collector on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from support.pgcluster import pg_cluster, pg_url  # noqa: F401  (fixtures)
from support.unattended import wait_for

from probe.analysis import times
from probe.analysis.regional.sources import listening
from probe.collector.service import running_collector
from probe.collector.sessions import Session
from probe.storage.store import open_store

SELECT = "select started_at, alive_at, stopped_at from collector_sessions order by started_at"


def sessions(target: Path | str) -> list[tuple[str, str, str | None]]:
    db = open_store(target)
    try:
        return [(str(a), str(b), None if c is None else str(c)) for a, b, c in db.conn.execute(SELECT).fetchall()]
    finally:
        db.close()


def serve_twice_and_beat(target: Path | str) -> None:
    before = times.now_iso()
    with running_collector(target):
        [(started, alive, stopped)] = sessions(target)
        assert before <= started == alive and stopped is None  # listening, since its start
    with running_collector(target):
        pass
    first, second = sessions(target)
    assert first[2] is not None and first[0] <= first[1] == first[2] <= second[0]
    beating = Session(target, every=0.05)
    beating.start()
    try:
        assert wait_for(lambda: sessions(target)[-1][1] > sessions(target)[-1][0], timeout=30)
    finally:
        beating.stop()
    db = open_store(target)
    try:
        periods = sorted(listening(db.conn), key=lambda period: period.start)
        assert len(periods) == 3 and all(period.start <= period.end for period in periods)
        assert periods[0].end <= periods[1].start  # the time between them: a gap
        assert listening(db.conn, until=first[1]) == [periods[0]]
    finally:
        db.close()


def test_a_sqlite_collector_keeps_when_it_listened_and_its_heartbeat(tmp_path: Path) -> None:
    serve_twice_and_beat(tmp_path / "collector.db")


def test_a_postgres_collector_keeps_when_it_listened_and_its_heartbeat(pg_url: str) -> None:
    serve_twice_and_beat(pg_url)
