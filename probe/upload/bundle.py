"""Bundles: the probe's signed batches in a file, for when nothing gets out (a USB hand-over).

One batch a line (JSON Lines), the same batches the uploader sends, so a collector imports a
bundle through the same checks and with the same exactly-once guarantee (``probe collector
import``), and ``probe verify`` checks one anywhere. A bundle holds a contiguous part of the
chain: from the first measurement started at or after ``--since`` to the head; then the runs
of those measurements and the rounds since. The file is written whole or not at all, readable
by its owner only: it holds everything the measurements hold.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from probe.errors import ProbeError
from probe.identity import Identity
from probe.storage import Database
from probe.upload.protocol import encode_batch
from probe.upload.queue import bundle_batches

MAX_LINE_BYTES = 64 << 20
"""A longer line is not a batch: it is reported, not read into memory."""


@dataclass
class BundleReport:
    path: Path
    batches: int = 0
    measurements: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    runs: int = 0
    rounds: int = 0

    def describe(self) -> str:
        chain = f"records {self.first_seq}-{self.last_seq}" if self.first_seq is not None else "no records"
        return (
            f"{self.path}: {self.batches} batches, {self.measurements} measurements ({chain}), "
            f"{self.runs} runs, {self.rounds} rounds"
        )


def write_bundle(
    db: Database, identity: Identity, out: Path, *, since: str | None, batch_size: int, max_bytes: int
) -> BundleReport:
    report = BundleReport(out)
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as stream:
            for batch in bundle_batches(db, identity, since=since, batch_size=batch_size, max_bytes=max_bytes):
                stream.write(encode_batch(batch) + b"\n")
                report.batches += 1
                report.runs += len(batch["runs"])
                report.rounds += len(batch["rounds"])
                if batch["measurements"]:
                    report.measurements += len(batch["measurements"])
                    if report.first_seq is None:
                        report.first_seq = batch["measurements"][0]["chain_seq"]
                    report.last_seq = batch["measurements"][-1]["chain_seq"]
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, out)
    except OSError as exc:
        raise ProbeError(f"cannot write bundle {out}: {exc.strerror or exc}") from None
    finally:
        temporary.unlink(missing_ok=True)
    return report


def read_bundle(path: Path) -> Iterator[tuple[int, bytes | None]]:
    """``(line number, line)`` for each non-empty line; the line is None when it is over ``MAX_LINE_BYTES``."""
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise ProbeError(f"cannot read bundle {path}: {exc.strerror or exc}") from None
    with stream:
        number = 0
        while True:
            line = stream.readline(MAX_LINE_BYTES + 1)
            if not line:
                return
            number += 1
            if len(line) > MAX_LINE_BYTES:
                while line and not line.endswith(b"\n"):  # skip the rest of the long line
                    line = stream.readline(MAX_LINE_BYTES)
                yield number, None
                continue
            if line.strip():
                yield number, line
