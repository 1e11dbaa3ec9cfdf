"""How the CLI shows progress and tables: a live line on a terminal, plain lines otherwise."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from tabulate import tabulate

if TYPE_CHECKING:
    from probe.model import Measurement
    from probe.runner import RunSummary


def outcome_text(failure: str | None, failed_step: str | None) -> str:
    """What happened, by step: ``ok``, ``tcp: connection_reset``, or the failure alone."""
    if not failure:
        return "ok"
    return f"{failed_step}: {failure}" if failed_step else failure


def verdict_text(verdict: str | None, detail: str | None) -> str:
    if not verdict:
        return ""
    return f"{verdict} ({detail})" if detail else verdict


class Progress:
    """Progress of a run; ``interactive`` when the stream is a terminal."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.interactive = stream.isatty()
        self._line_open = False

    def __call__(self, measurement: Measurement, done: int, total: int) -> None:
        count = f"{done}/{total}" if total else str(done)  # a streamed list's length is known at its end
        text = f"[{count}] {measurement.input}  {outcome_text(measurement.failure, measurement.failed_step)}"
        if self.interactive:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.stream.write("\r" + text[:width].ljust(width))
            self._line_open = done != total
            if not self._line_open:
                self.stream.write("\n")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def end(self) -> None:
        """End the progress line (a streamed list's total was not known while it was measured)."""
        if self._line_open:
            self.stream.write("\n")
            self.stream.flush()
            self._line_open = False


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Rows under their headers, left-aligned as given (numbers too: ids and ASNs are not quantities)."""
    cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
    text = tabulate(cells, headers=list(headers), tablefmt="simple", disable_numparse=True, stralign="left")
    return "\n".join(line.rstrip() for line in text.splitlines())


def summary_table(summary: RunSummary) -> str:
    rows = [
        (failure or "(reached)", count)
        for failure, count in sorted(summary.failures.items(), key=lambda item: (-item[1], item[0]))
    ]
    head = (
        f"run {summary.run_id}: {summary.status}, {summary.done} of {summary.total} measured, {summary.reached} reached"
    )
    body = table(("outcome", "measurements"), rows) if rows else "(nothing measured)"
    errors = "".join(f"\nprobe error: {line}" for line in summary.probe_errors)
    return f"{head}\n{body}{errors}"
