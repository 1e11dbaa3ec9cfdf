"""Several collector processes on one listening socket: ``probe collector serve --workers N`` (PostgreSQL).

One process checks batches on one core at a time (Python's interpreter lock): the parse, every
record's hash, every record loaded as a measurement, the signatures. PostgreSQL takes several
writers, so N worker processes share one listening socket (made before they are forked: the kernel
hands each connection to one of them), each with its own writer thread and database connection.
Exactly-once does not rest on the workers agreeing: the chain ledger's unique keys decide
(``store_postgres``), and a batch's checks hold its probe's claim (an advisory lock), so two workers
given batches of one probe check them one after the other (the second finds the first's records
duplicates) while other probes' batches go on; a batch that still lost a race to another worker
is rolled back whole and answered 503. SQLite has one writer: it keeps one process.

The supervising process holds no database connection and starts no thread (so that forking is safe):
it forks the workers and, when alerts are configured, one alert process, so that outage windows are
looked for and alerted once, not once per worker. It starts again a child that died (after
``RESTART_DELAY`` seconds, doubling while they keep dying young), and on SIGTERM or SIGINT passes
SIGTERM on and waits at most ``stop_timeout`` seconds before it kills what is left. A worker killed
mid-batch leaves nothing of the batch: its transaction dies with its connection.

Limits (``Limits``: clients, queue, per-probe batches, buffered bytes) are each worker's.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from probe.collector.service import CollectorServer, Limits

RESTART_DELAY = 1.0
"""Seconds before a child that died is started again (doubled, up to ``MAX_RESTART_DELAY``, while children
keep dying within ``YOUNG`` seconds: a database that is down is not hammered)."""
MAX_RESTART_DELAY = 30.0
YOUNG = 10.0
STOP_TIMEOUT = 30.0
"""Seconds the workers have to finish the batches in hand after SIGTERM; then they are killed (and their
transactions rolled back)."""
_POLL = 0.1

Child = Callable[[], int]
"""What a child process runs, in the child, after the fork; its exit status."""


def worker(
    listener: socket.socket, host: str, db_path: Path | str, limits: Limits, log: Callable[[str], None]
) -> Child:
    """A collector worker serving the shared ``listener`` until SIGTERM."""

    def run() -> int:
        server = CollectorServer(host, listener.getsockname()[1], db_path, limits, log, listener)
        signal.signal(signal.SIGTERM, lambda number, frame: server.shutdown())
        try:
            server.serve_forever()
        finally:
            server.close()
        return 0

    return run


@dataclass
class _Slot:
    name: str
    run: Child
    pid: int | None = None
    started: float = 0.0
    due: float = 0.0
    delay: float = RESTART_DELAY


class Supervisor:
    """Forks ``children`` (name → what it runs), keeps them running, stops them on SIGTERM or SIGINT."""

    def __init__(
        self, children: dict[str, Child], log: Callable[[str], None], *, stop_timeout: float = STOP_TIMEOUT
    ) -> None:
        self.slots = [_Slot(name, run) for name, run in children.items()]
        self.log = log
        self.stop_timeout = stop_timeout
        self.stopping = False

    def run(self) -> None:
        """Until SIGTERM or SIGINT; then every child stopped (killed after ``stop_timeout``)."""

        def on_signal(number: int, frame: FrameType | None) -> None:
            self.stopping = True

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        while not self.stopping:
            now = time.monotonic()
            for slot in self.slots:
                if slot.pid is None and slot.due <= now:
                    slot.pid, slot.started = self._fork(slot), now
            self._reap(restart=True)
            time.sleep(_POLL)
        self._stop()

    def _fork(self, slot: _Slot) -> int:
        pid = os.fork()
        if pid != 0:
            return pid
        status = 1
        try:
            # The supervisor's handlers only set its flag: a worker stops on SIGTERM (passed on by the
            # supervisor) and leaves Ctrl-C, which a terminal sends to the whole group, to it.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            status = slot.run()
        except BaseException as exc:  # one line, never a traceback; the supervisor starts another
            self.log(f"collector: {slot.name} stopped: {type(exc).__name__}: {exc}")
        finally:
            os._exit(status)

    def _reap(self, *, restart: bool) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            slot = next((slot for slot in self.slots if slot.pid == pid), None)
            if slot is None:
                continue
            slot.pid = None
            if not restart:
                continue
            now = time.monotonic()
            slot.delay = min(slot.delay * 2, MAX_RESTART_DELAY) if now - slot.started < YOUNG else RESTART_DELAY
            slot.due = now + slot.delay
            self.log(f"collector: {slot.name} ended ({_describe(status)}); starting it again in {slot.delay:g} s")

    def _stop(self) -> None:
        for slot in self.slots:
            if slot.pid is not None:
                _signal(slot.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while any(slot.pid is not None for slot in self.slots) and time.monotonic() < deadline:
            self._reap(restart=False)
            time.sleep(_POLL / 2)
        for slot in self.slots:
            if slot.pid is not None:
                self.log(f"collector: {slot.name} did not stop within {self.stop_timeout:g} s; killed")
                _signal(slot.pid, signal.SIGKILL)
                os.waitpid(slot.pid, 0)
                slot.pid = None


def _signal(pid: int, number: int) -> None:
    with suppress(ProcessLookupError):  # gone already: reaped next
        os.kill(pid, number)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
