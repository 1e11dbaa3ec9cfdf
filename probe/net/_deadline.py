"""A point in time after which a network operation counts as ``generic_timeout_error``.

Socket timeouts bound one blocking call; a hostile server dripping one byte per call would
stretch them forever. Giving every call only the time left until one deadline bounds the
whole operation. (CPython's TLS reads and handshakes already treat their timeout as a
deadline for the whole call, so this holds over TLS too.)
"""

from __future__ import annotations

import time

from probe.failures import TIMEOUT, MeasuredFailure


class Deadline:
    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self._end - time.monotonic())

    def timeout(self, cap: float | None = None) -> float:
        """The timeout for the next blocking call (at most ``cap``); a timeout failure if none is left."""
        left = self.remaining()
        if left <= 0:
            raise MeasuredFailure(TIMEOUT, "deadline exceeded")
        return left if cap is None else min(cap, left)
