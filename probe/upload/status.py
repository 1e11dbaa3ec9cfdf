"""``probe upload --status``: where the queue stands for a collector, without sending anything."""

from __future__ import annotations

from dataclasses import dataclass, field

from probe.limits import CUT_ANNOTATION, MAX_ITEMS
from probe.storage import Database
from probe.upload.quarantine import Quarantined, quarantined
from probe.upload.queue import LOCAL_ROWS, acked_seq, changed_rounds, changed_runs, queued
from probe.upload.rejudged import rejudged_waiting


@dataclass
class QueueStatus:
    collector: str
    acknowledged: int
    queued: int
    heartbeats: int
    verdicts: int = 0
    """Records to send again for their changed verdicts."""
    quarantine: list[Quarantined] = field(default_factory=list)
    cut: int = 0

    def describe(self) -> str:
        lines = [
            f"collector {self.collector}",
            f"  acknowledged: records up to {self.acknowledged} (quarantined ones excepted)",
            f"  queued: {self.queued} measurements, {self.heartbeats} runs and rounds, "
            f"{self.verdicts} changed verdicts of measurements it has",
            f"  quarantined: {len(self.quarantine)}"
            + (" (refused for good; after a fix: probe upload --retry-quarantined)" if self.quarantine else ""),
        ]
        lines += [f"    {item.describe()}" for item in self.quarantine]
        if self.cut:
            lines.append(f"  cut at save to the shared limits: {self.cut} measurements (annotation {CUT_ANNOTATION})")
        return "\n".join(lines)


def queue_status(db: Database, collector: str) -> QueueStatus:
    changed = len(changed_rounds(db, collector, MAX_ITEMS)) + len(changed_runs(db, collector, MAX_ITEMS))
    cut = db.db.conn.execute(
        f"select count(*) from measurements where {LOCAL_ROWS} and annotations like ?",
        (f'%"{CUT_ANNOTATION}"%',),
    ).fetchone()[0]
    return QueueStatus(
        collector,
        acked_seq(db, collector),
        queued(db, collector),
        changed,
        rejudged_waiting(db, collector),
        quarantined(db, collector),
        int(cut),
    )
