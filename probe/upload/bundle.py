"""Bundles: the probe's signed batches in a file, for when nothing gets out (a USB hand-over).

One batch a line (JSON Lines), the same batches the uploader sends, so a collector imports a
bundle through the same checks and with the same exactly-once guarantee (``probe collector
import``), and ``probe verify`` checks one anywhere. A bundle holds a contiguous part of the
chain: from the first measurement started at or after ``--since`` to the head; then the runs
of those measurements and the rounds since. The file is written whole or not at all, readable
by its owner only: it holds everything the measurements hold.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from probe.errors import ProbeError
from probe.identity import Identity, verify
from probe.integrity.signing import batch_statement
from probe.integrity.verify import ChainReport, ChainWalk, Head, Problem, Verification, key_matches, verify_database
from probe.storage import Database
from probe.upload.protocol import Batch, encode_batch
from probe.upload.queue import bundle_batches

SQLITE_MAGIC = b"SQLite format 3\x00"
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
        if not report.batches:
            # An empty bundle proves nothing and `probe verify` calls one altered: write none.
            since_text = f" since {since}" if since else ""
            raise ProbeError(f"nothing to bundle{since_text}: no measurement, run or round; {out} not written")
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


# --- checking a bundle --------------------------------------------------------------------------------


def verify_bundle(path: Path) -> Verification:
    """Check a bundle: each line's signature, each probe's chain across lines, and the heads."""
    result = Verification(str(path))
    records: dict[tuple[str, str], list[tuple[dict[str, Any], str]]] = {}
    heads: dict[tuple[str, str], list[Head]] = {}
    keys: dict[str, str] = {}
    lines = 0
    for number, line in read_bundle(path):
        lines += 1
        where = f"line {number}"
        if line is None:
            result.problems.append(Problem("altered", f"{where} is too long to be a batch"))
            continue
        try:
            raw = json.loads(line)
            batch = Batch.model_validate(raw)
        except (ValueError, RecursionError, ValidationError):
            result.problems.append(Problem("altered", f"{where} is not a valid batch"))
            continue
        if not key_matches(batch.public_key, batch.probe_id):
            result.problems.append(Problem("signature", f"{where}: the key is not the one probe {batch.probe_id} has"))
            continue
        if keys.setdefault(batch.probe_id, batch.public_key) != batch.public_key:
            result.problems.append(Problem("signature", f"{where}: another key for probe {batch.probe_id}"))
            continue
        try:
            signed = verify(batch.public_key, batch.signature, batch_statement(raw))
        except ValueError:
            signed = False
        if not signed:
            result.problems.append(
                Problem("signature", f"{where}: its signature does not verify (the line was altered)")
            )
        for record in batch.measurements:
            records.setdefault((batch.probe_id, batch.epoch or ""), []).append((record.model_dump(), where))
        if batch.head is not None:
            heads.setdefault((batch.probe_id, batch.epoch or ""), []).append(
                Head(**batch.head.model_dump(), where=where)
            )
    if not lines:
        result.problems.append(Problem("missing", "the bundle is empty: every batch it should carry is missing"))
    for chain in sorted(set(records) | set(heads)):
        probe_id = chain[0]
        report = ChainReport(*chain)
        probe_heads = heads.get(chain, [])
        walk = ChainWalk(report, from_genesis=False, wanted={head.seq for head in probe_heads})
        for row, where in sorted(records.get(chain, []), key=lambda item: int(item[0]["chain_seq"])):
            if not walk.feed(row, where):
                break
        walk.check_heads(probe_heads, keys.get(probe_id))
        result.chains.append(report)
    return result


def verify_path(path: Path) -> Verification:
    """A database or a bundle, told apart by the file's first bytes."""
    try:
        with path.open("rb") as stream:
            magic = stream.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise ProbeError(f"cannot read {path}: {exc.strerror or exc}") from None
    return verify_database(path) if magic == SQLITE_MAGIC else verify_bundle(path)
