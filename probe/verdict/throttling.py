"""Was the page delivered far slower than the control received it?

A throttled site is neither blocked outright nor accessible: its bytes arrive, too slowly to use.
Two forms are recognised, both judged on the final HTTP round trip:

- slow but complete: the page arrived, at a rate ``THROTTLE_FACTOR`` times below the control's;
- slow and cut off: the response started (a status line and some body) and was still arriving
  when the deadline passed (``generic_timeout_error``), at such a rate, while the control got
  the whole, larger page.

The rate is body bytes over the round trip's duration (connect to end of body), on both sides.
Known false positives: a volunteer's link that is slow for everything (a congested mobile cell)
looks like throttling of every site; the round's network context (``degraded``) guards against it,
and small or short transfers, whose duration is mostly
latency, are never judged (``COMPLETE_MIN_SECONDS``, ``COMPLETE_MIN_BYTES``).
"""

from __future__ import annotations

from dataclasses import dataclass

from probe import failures
from probe.verdict.observation import ControlHTTP, HTTPHop

THROTTLE_FACTOR = 10.0
"""How many times slower than the control a transfer must be to count as throttled."""
THROTTLE_MIN_SECONDS = 1.0
"""Transfers cut off sooner than this are never judged."""
THROTTLE_MIN_BYTES = 1024
"""Bytes a cut-off transfer must have brought before its rate means anything."""
COMPLETE_MIN_SECONDS = 3.0
COMPLETE_MIN_BYTES = 32 * 1024
"""A complete transfer is judged only when it is this long and this large: on a high-latency link,
TCP's slow start alone makes mid-sized pages slow (a 64 KiB page needs about 4 round trips)."""


@dataclass
class Throttling:
    probe_rate: float
    control_rate: float
    complete: bool

    def describe(self) -> str:
        how = "complete" if self.complete else "cut off by the timeout"
        return (
            f"{self.probe_rate / 1024:.1f} KiB/s here against {self.control_rate / 1024:.1f} KiB/s at the control "
            f"({how})"
        )


def throttling(final: HTTPHop | None, control: ControlHTTP | None) -> Throttling | None:
    if final is None or control is None or not control.ok:
        return None
    if final.code is None or not final.body_length or final.seconds is None:
        return None
    if control.body_length is None or control.seconds is None or control.seconds <= 0:
        return None
    complete = final.failure is None
    if complete and (final.seconds < COMPLETE_MIN_SECONDS or final.body_length < COMPLETE_MIN_BYTES):
        return None
    if not complete and (
        final.failure != failures.TIMEOUT
        or final.seconds < THROTTLE_MIN_SECONDS
        or final.body_length < THROTTLE_MIN_BYTES
        or control.body_length <= final.body_length
    ):
        return None
    probe_rate = final.body_length / final.seconds
    control_rate = control.body_length / control.seconds
    if probe_rate * THROTTLE_FACTOR >= control_rate:
        return None
    return Throttling(probe_rate, control_rate, complete)
