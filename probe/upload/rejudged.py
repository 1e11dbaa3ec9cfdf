"""Verdicts judged again after a collector acknowledged their records: the records sent to it again.

A measurement's verdict is outside the hash chain: the probe can judge it again (``probe verdict`` with new
fingerprints or rules, a round whose network went dark meanwhile). ``Database.set_verdict`` then notes the
record in ``verdict_changes`` with a new generation. For a collector that acknowledged the record (its chain
acknowledgement is at or past it) with an older generation, or none, the record is sent again as it is
stored now: a batch of consecutive records with a signed head at its last, as ``next_records`` makes them,
which the collector takes as duplicates whose verdicts replace its own (``probe.collector.ingest``).

Once the collector answered that it stored the batch, each record's generation is acknowledged
(``upload_acks``, kind ``verdict``): sent once per change, never again for it. A record judged again
before its first upload carries its generation in its first batch, which acknowledges it: not sent twice.
A re-send the collector refuses for good is quarantined as that verdict (kind ``verdict``, state its
generation): the queue moves past it, a later change is tried again, ``--retry-quarantined`` retries it.
A record quarantined as a record is not sent for its verdict: it goes with its own retry.
"""

from __future__ import annotations

from probe.limits import ENVELOPE_BYTES
from probe.storage import Database
from probe.storage.own_chain import own_chain
from probe.upload.queue import (
    MEASUREMENT,
    RECORD_FIELDS,
    RECORDS_SELECT,
    VERDICT,
    Pending,
    acked_seq,
    records_within,
)

_WAITING = (
    "from verdict_changes w left join upload_acks a on a.collector = ? and a.kind = '"
    + VERDICT
    + "' and a.key = cast(w.chain_seq as text) "
    "where w.chain_seq <= ? and (a.state is null or cast(a.state as integer) < w.generation) "
    "and not exists (select 1 from upload_quarantine q where q.collector = ? and q.key = cast(w.chain_seq as text) "
    f"and (q.kind = '{MEASUREMENT}' or (q.kind = '{VERDICT}' and q.state = cast(w.generation as text))))"
)
"""Changed verdicts of records ``collector`` acknowledged, not with this generation, and not in quarantine."""


def _params(db: Database, collector: str) -> tuple[str, int, str]:
    return collector, acked_seq(db, collector), collector


def next_rejudged(
    db: Database, collector: str, *, batch_size: int, max_bytes: int, after_seq: int = 0
) -> Pending | None:
    """The next batch of records to send ``collector`` again for their changed verdicts: the first one waiting
    after ``after_seq`` and those waiting right after it in the chain (consecutive: a batch's records link to
    each other), within ``batch_size`` and ``max_bytes``; None when none waits. A pass gives the record before
    its last batch as ``after_seq``, so it does not look through all it has done again at every batch."""
    local = own_chain("m")
    rows = list(
        db.db.conn.execute(
            f"{RECORDS_SELECT} where {local} and m.chain_seq in (select w.chain_seq {_WAITING} "
            "and w.chain_seq > ? order by w.chain_seq limit ?) order by m.chain_seq",
            (*_params(db, collector), after_seq, batch_size),
        )
    )
    seq = RECORD_FIELDS.index("chain_seq")
    run = rows[:1]
    for row in rows[1:]:
        if int(row[seq]) != int(run[-1][seq]) + 1:
            break
        run.append(row)
    pending = records_within(run, max_bytes=max_bytes - ENVELOPE_BYTES)
    if not pending.measurements:
        return None
    pending.resend = True
    return pending


def rejudged_waiting(db: Database, collector: str) -> int:
    """How many records wait to be sent to ``collector`` again for their changed verdicts."""
    row = db.db.conn.execute(f"select count(*) {_WAITING}", _params(db, collector)).fetchone()
    return int(row[0])
