"""Times as the database keeps them (ISO 8601 UTC text, ``...T10:00:00.000000Z``), and as seconds.

The analysis compares the text (it sorts as time does) and turns it into seconds only for
durations, bins and margins.
"""

from __future__ import annotations

from datetime import UTC, datetime

from probe.times import db_time, utc_now_iso


def seconds(text: str) -> float:
    """Seconds since the epoch of an ISO 8601 time (UTC when it names no zone)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def iso(epoch: float) -> str:
    """Seconds since the epoch as the database's time text."""
    return db_time(datetime.fromtimestamp(epoch, UTC))


def shifted(text: str, delta: float) -> str:
    """``text`` moved by ``delta`` seconds, as the database's time text."""
    return iso(seconds(text) + delta)


def midpoint(low: str | None, high: str) -> float:
    """The middle of a bound in seconds (``high`` alone when the low end is unknown)."""
    if low is None:
        return seconds(high)
    return (seconds(low) + seconds(high)) / 2


def short(text: str | None) -> str:
    """``2026-11-21 10:00:03Z``: a time to read, to the second."""
    if text is None:
        return ""
    return text[:10] + " " + text[11:19] + "Z"


def between(low: str | None, high: str | None) -> str:
    """A window's bound to read: ``low .. high``, ``by high`` when the data begins inside it, or ongoing."""
    if high is None:
        return "ongoing"
    if low is None:
        return f"by {short(high)}"
    return f"{short(low)} .. {short(high)}"


def now_iso() -> str:
    return utc_now_iso()
