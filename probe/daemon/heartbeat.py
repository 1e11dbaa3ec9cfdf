"""Heartbeats: one ``rounds`` row per scheduled round, written when it starts and when it ends.

A round whose every target failed still has its row (status ``finished``, ``failed`` =
``measured``); a round that could not run at all has one too (status ``failed`` and the
error). Silence is then never mistaken for "no data": a gap in this table is a time the
probe was not running. A row left ``running`` by a crash, a kill or a power cut is closed as
``interrupted`` when the daemon starts again. A finished row also says how many records the
uploader holds in quarantine (refused by a collector for good), so a collector sees them.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from probe.errors import StorageError
from probe.model import DB_TIME_FORMAT, db_time
from probe.storage import Database
from probe.storage.busy import when_free
from probe.storage.tables import ROUND_COUNTS

RUNNING = "running"
FINISHED = "finished"
INTERRUPTED = "interrupted"
FAILED = "failed"
COMPLETED = (FINISHED, FAILED)
"""Statuses that count for the schedule: an interrupted round is run again, once, when next due."""

ABANDONED = "the daemon stopped during this round (crash, kill or power loss)"


def iso(epoch: float) -> str:
    """Wall-clock seconds as the database's ISO 8601 UTC text."""
    return db_time(datetime.fromtimestamp(epoch, UTC))


def epoch(text: str) -> float:
    return datetime.strptime(text, DB_TIME_FORMAT).replace(tzinfo=UTC).timestamp()


def _execute(db: Database, sql: str, params: tuple[Any, ...]) -> None:
    def write() -> None:
        with db.db.conn:
            db.db.conn.execute(sql, params)

    try:
        when_free(write, what="a heartbeat")
    except sqlite3.Error as exc:
        raise StorageError(f"cannot write heartbeat to {db.path or 'memory'}: {exc}") from None


def start_round(
    db: Database,
    *,
    round_id: str,
    group: str,
    experiment: str,
    started_at: str,
    every: float | None = None,
    boot: str = "",
    first_of_daemon: bool = False,
) -> None:
    """The round's row, every count 0 (``ROUND_COUNTS``), with its group's interval (``every``) and what it says
    of the time since this probe's round before (``since_previous``): ``boot`` is the kernel's boot id now
    ("" where there is none), ``first_of_daemon`` whether this is the first round of the daemon's process."""
    rebooted, resumed = since_previous(db, boot, first_of_daemon=first_of_daemon)
    _execute(
        db,
        f"insert into rounds (id, group_name, experiment, started_at, status, every, rebooted, resumed, boot_id, "
        f"{', '.join(ROUND_COUNTS)}) values (?, ?, ?, ?, ?, ?, ?, ?, ?{', 0' * len(ROUND_COUNTS)})",
        (round_id, group, experiment, started_at, RUNNING, every, rebooted, resumed, boot or None),
    )


def since_previous(db: Database, boot: str, *, first_of_daemon: bool) -> tuple[int | None, int]:
    """``rebooted`` and ``resumed`` for a round about to start: whether the machine booted again since this
    probe's latest round (its boot id differs; None when either boot id is unknown, as in a round an older
    version wrote), and whether the daemon was not running since then (the first round of a daemon's process
    after any round). Neither says anything of a probe's first round: both 0."""
    previous = db.db.conn.execute(
        "select boot_id from rounds where probe_id is null order by started_at desc, rowid desc limit 1"
    ).fetchone()
    if previous is None:
        return 0, 0
    rebooted = None if not boot or previous[0] is None else int(previous[0] != boot)
    return rebooted, int(first_of_daemon)


def link_run(db: Database, round_id: str, run_id: str) -> None:
    _execute(db, "update rounds set run_id = ? where id = ?", (run_id, round_id))


def finish_round(
    db: Database,
    round_id: str,
    *,
    finished_at: str,
    status: str,
    run_id: str | None = None,
    error: str | None = None,
    **counts: int,
) -> None:
    """Close the round's row with its ``counts`` (``ROUND_COUNTS``; one not given is 0)."""
    unknown = sorted(set(counts) - set(ROUND_COUNTS))
    if unknown:
        raise ValueError(f"a round counts only {', '.join(ROUND_COUNTS)}, not {', '.join(unknown)}")
    assignments = "".join(f"{name} = ?, " for name in ROUND_COUNTS)
    _execute(
        db,
        f"update rounds set finished_at = ?, status = ?, run_id = coalesce(?, run_id), {assignments}error = ?, "
        "quarantined = (select count(*) from upload_quarantine) where id = ?",
        (finished_at, status, run_id, *(counts.get(name, 0) for name in ROUND_COUNTS), error, round_id),
    )


def close_abandoned(db: Database) -> int:
    """Mark rounds left ``running`` as interrupted, with what they had saved; how many there were.

    Only the daemon holding the database's lock may call this: then no round is really running.
    """
    conn = db.db.conn
    abandoned = conn.execute("select id, run_id from rounds where status = ?", (RUNNING,)).fetchall()
    for round_id, run_id in abandoned:
        measured, failed = conn.execute(
            "select count(*), count(failure) from measurements where run_id = ?", (run_id,)
        ).fetchone()
        _execute(
            db,
            "update rounds set status = ?, measured = ?, failed = ?, reached = ?, error = ? where id = ?",
            (INTERRUPTED, measured, failed, measured - failed, ABANDONED, round_id),
        )
    return len(abandoned)


def last_completed_starts(db: Database) -> dict[str, float]:
    """Per group, when its last completed round started (wall-clock seconds)."""
    marks = ", ".join("?" for _ in COMPLETED)
    rows = db.db.conn.execute(
        f"select group_name, max(started_at) from rounds where status in ({marks}) and probe_id is null "
        "group by group_name",
        COMPLETED,
    ).fetchall()
    return {str(group): epoch(str(started)) for group, started in rows}


def rounds(db: Database) -> list[dict[str, Any]]:
    return list(db.db.query("select * from rounds order by started_at, id"))
