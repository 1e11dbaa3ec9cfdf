"""The thresholds of regional detection, in one place (``Rules``), with why each is what it is."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rules:
    bin_seconds: float = 600.0
    """Width of a time bin: the usual round interval, so a bin holds about one round of each probe."""
    carry_intervals: float = 1.5
    """A round speaks for its bin and for up to this many of its own intervals after its start (jitter)."""
    min_probes: int = 3
    """Fewer probes in a group than this: no regional label (said as ``too_few_probes``)."""
    min_witnesses: int = 2
    """Probes that must record the network down (not merely be silent) before a group is down: at night,
    with laptops off, two always-on probes of a five-probe district can witness a cut."""
    min_per_type: int = 2
    """A mobile-only cut needs this many mobile probes down and this many fixed ones up."""
    down_share: float = 0.75
    """A group is down when at least this share of its observed probes is down..."""
    up_share: float = 0.75
    """...and up when at least this share of them works."""
    chance: float = 0.001
    """...and only when that many failing together by chance is less likely than this."""
    open_after: int = 2
    """Down bins in a row (bins without a verdict skipped) that open a window."""
    close_after: int = 2
    """Up bins in a row that close it."""
    overdue_uploads: float = 1.0
    """A probe is overdue when nothing arrived for this many upload intervals after its last upload (or after
    the collector's outage: ``resume_grace``), and its own grace after that (``overdue_lateness``,
    ``overdue_rounds``)."""
    resume_grace: float = 3600.0
    """After the collector was not listening (``listening``: a crash, an upgrade), the longest a probe may still
    wait before it uploads again: the probes' ``[upload] backoff_max`` as shipped. A probe whose upload failed
    while the collector was down backs off (``probe.upload.uploader.Backoff``): its wait after the n-th failure in a
    row is drawn from [b/2, b] with b = backoff_min x 2^(n-1), capped at backoff_max. Its waits before the last
    failure were each at least half their b, so they add up to at least (b_n - backoff_min) / 2, all inside the
    outage: b_n is at most 2 x the outage plus backoff_min. So the probe tries again by the resume plus the
    smaller of ``resume_grace`` and 2 x the outage + ``resume_backoff_min`` (plus one attempt's timeout, which
    the ``overdue_uploads`` after it cover), and its silence counts only from then."""
    resume_backoff_min: float = 30.0
    """The probes' first wait after a failed upload (``[upload] backoff_min`` as shipped): see ``resume_grace``."""
    listening_slack: float = 180.0
    """A collector counts as listening until this long after its latest heartbeat (``probe collector serve`` writes
    one every minute): later, with no newer session, it is down, and no probe's silence since counts."""
    overdue_lateness: float = 0.5
    """The grace: a probe is overdue when its next upload is later than ``overdue_uploads`` after its last one, by
    more than this share (the median) of its own batches were late arriving once made (a probe behind a slow link
    gets the slack its history shows; rarer stalls are counted as chance, ``timeline.ProbeTimeline.late_share``)..."""
    overdue_rounds: float = 1.0
    """...and by more than this many of its round intervals (an upload may wait for the round in progress)."""
    together: float = 3600.0
    """Silent probes count as failing together only when they stopped uploading within this long of each other
    (beyond their upload intervals): a cut reaches its probes within minutes, an hour for a slow roll-out, while
    uploads that stall or devices that die independently go silent at unrelated times."""
    sms_min_probes: int = 2
    """Probes whose SMS fail while their network works before an area is ``sms_affected``."""
    sms_fail_share: float = 0.75
    """Share of the SMS sent in an area's bin (network up) that must fail."""
    expected_silent: float = 0.5
    """A probe usually silent at this hour at least this often (a laptop off every night) is expected to be
    silent then: its silence is no witness of anything."""
    max_silence: float = 7 * 86400.0
    """A probe silent for longer than this (seconds since its last upload) has left: its silence counts no more."""
    block_share: float = 0.5
    """Share of a country's working probes that must see a target blocked for a ``targeted_block``."""

    def __post_init__(self) -> None:
        if self.bin_seconds <= 0 or self.open_after < 1 or self.close_after < 1 or self.min_probes < 1:
            raise ValueError("regional rules need a positive bin, and at least one bin and one probe to decide")
