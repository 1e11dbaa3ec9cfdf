"""The lab's servers, run inside its namespaces by ``python -m probe.lab.serve``.

Each server owns its sockets, serves from daemon threads, and stops when ``close`` is
called or its ``stop`` event is set; every loop wakes at least every ``POLL`` seconds.
"""

POLL = 0.2
IO_TIMEOUT = 10.0
"""Seconds a server waits on one client's read or write before dropping it."""
MAX_IN_FLIGHT = 64
"""Queries a resolver handles at once; more are dropped, as a busy resolver would."""
