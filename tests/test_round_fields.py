"""A round's fields are named once, as the ``rounds`` columns: the heartbeat writes, and the upload protocol
sends, each of them; the records probes already send are taken as before."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from probe.daemon import heartbeat
from probe.storage import open_database
from probe.storage.tables import ROUND_COUNTS, ROUND_FIELDS, ROUNDS
from probe.upload.protocol import RoundRecord

SENT_BY_VERSION_3 = {
    "id": "r1",
    "group_name": "web",
    "experiment": "web",
    "run_id": "run1",
    "started_at": "2026-12-01T00:00:00.000000Z",
    "finished_at": "2026-12-01T00:05:00.000000Z",
    "status": "finished",
    "targets": 3,
    "measured": 3,
    "failed": 1,
    "reached": 2,
    "probe_errors": 0,
    "quarantined": 0,
    "error": None,
}
NOT_SENT_BEFORE_4 = {"every": None, "rebooted": None, "resumed": None}
SENT_BY_VERSION_4 = {**SENT_BY_VERSION_3, "every": 3600.0, "rebooted": 0, "resumed": 1}


def test_the_upload_protocol_sends_every_round_column_but_the_probe_id_and_the_boot_id() -> None:
    assert tuple(RoundRecord.model_fields) == ROUND_FIELDS
    assert set(ROUND_FIELDS) == {column.name for column in ROUNDS.columns} - {"probe_id", "boot_id"}
    assert ROUNDS.column("boot_id").postgres is None  # a probe's own: no collector has a place for it


def test_a_round_record_is_taken_as_probes_send_it_and_refused_without_what_a_heartbeat_always_has() -> None:
    assert RoundRecord.model_validate(SENT_BY_VERSION_3).model_dump() == {**SENT_BY_VERSION_3, **NOT_SENT_BEFORE_4}
    assert RoundRecord.model_validate(SENT_BY_VERSION_4).model_dump() == SENT_BY_VERSION_4
    short = {name: SENT_BY_VERSION_3[name] for name in ("id", "group_name", "experiment", "started_at", "status")}
    assert RoundRecord.model_validate(short).model_dump() == {
        **dict.fromkeys(ROUND_FIELDS),
        **dict.fromkeys((*ROUND_COUNTS, "quarantined"), 0),
        **short,
    }
    wrongs = ({"status": None}, {"measured": -1}, {"unknown": 1}, {"boot_id": "b"}, {"rebooted": 2}, {"every": 0})
    for wrong in wrongs:
        with pytest.raises(ValidationError):
            RoundRecord.model_validate({**SENT_BY_VERSION_3, **wrong})


def test_a_heartbeat_writes_every_count_a_round_has() -> None:
    db = open_database(":memory:")
    heartbeat.start_round(db, round_id="r1", group="web", experiment="web", started_at="2026-12-01T00:00:00Z")
    assert [heartbeat.rounds(db)[0][name] for name in ROUND_COUNTS] == [0] * len(ROUND_COUNTS)
    counts = {name: number for number, name in enumerate(ROUND_COUNTS, start=1)}
    heartbeat.finish_round(db, "r1", finished_at="2026-12-01T00:05:00Z", status=heartbeat.FINISHED, **counts)
    row = heartbeat.rounds(db)[0]
    assert {name: row[name] for name in ROUND_COUNTS} == counts
    assert row["quarantined"] == 0
    with pytest.raises(ValueError, match="a round counts only"):
        heartbeat.finish_round(db, "r1", finished_at="2026-12-01T00:05:00Z", status=heartbeat.FINISHED, lost=1)
    db.close()
