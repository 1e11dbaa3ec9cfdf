"""How the CLI shows progress and tables: a live line on a terminal, plain lines otherwise."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

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


HEADER_PADDING = 2
"""What tabulate's simple format adds to a header's width (its ``MIN_PADDING``)."""


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Rows under their headers, left-aligned as given (numbers too: ids and ASNs are not quantities).

    tabulate's simple format. Cells of printable ASCII without surrounding spaces (ids, times, URLs, failures:
    what ``probe results`` lists, thousands of rows) are laid out here, as tabulate would, without its guess at each
    cell's type, which took most of the time of a long listing; any other text goes through tabulate itself."""
    cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
    plain = all(_plain(text) for text in headers) and all(
        len(row) == len(headers) and all(_plain(text) for text in row) for row in cells
    )
    if not plain:
        from tabulate import tabulate  # wide characters, line breaks, escapes: its rules, not ours

        text = tabulate(cells, headers=list(headers), tablefmt="simple", disable_numparse=True, stralign="left")
        return "\n".join(line.rstrip() for line in text.splitlines())
    widths = [len(header) + HEADER_PADDING for header in headers]
    for row in cells:
        widths = [max(width, len(text)) for width, text in zip(widths, row, strict=True)]
    lines = [headers, ["-" * width for width in widths], *cells]
    text = "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in lines
    )
    return "\n".join(text.splitlines())  # as tabulate's text is read above: a last row that is blank is dropped


def _plain(text: str) -> bool:
    return text.isascii() and text.isprintable() and text == text.strip()


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
