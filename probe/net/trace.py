"""A measurement's clock and counters, shared by the primitives that make up one measurement."""

from __future__ import annotations

import itertools
import threading
import time

from probe.model import NetworkEvent


class Trace:
    """Times relative to the measurement's start, transaction ids, and network events.

    Thread-safe: a web measurement may connect to several addresses at once.
    """

    def __init__(self) -> None:
        self.started = time.monotonic()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.network_events: list[NetworkEvent] = []

    def elapsed(self) -> float:
        """Seconds since the measurement started."""
        return round(time.monotonic() - self.started, 6)

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def event(self, operation: str, **fields: object) -> None:
        """Record one network event (df-008) at the current time."""
        event = NetworkEvent.model_validate({"operation": operation, "t": self.elapsed(), **fields})
        with self._lock:
            self.network_events.append(event)
