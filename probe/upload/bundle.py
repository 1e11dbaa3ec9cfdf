"""Bundles: the probe's signed batches in a file, for when nothing gets out (a USB hand-over).

One batch a line (JSON Lines), the same batches the uploader sends, so a collector imports a
bundle through the same checks and with the same exactly-once guarantee (``probe collector
import``), and ``probe verify`` checks one anywhere. A bundle holds a contiguous part of the
chain: from the first measurement started at or after ``--since`` to the head; then the runs
of those measurements and the rounds since. The file is written whole or not at all, readable
by its owner only: it holds everything the measurements hold.

Each line is signed on its own, so lines cut off the end would leave a bundle that still checks.
The last line is therefore the bundle's signed end: how many batch lines come before it and the
SHA-256 of their bytes. ``probe verify`` wants it; ``probe collector import`` skips it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from probe.errors import ProbeError
from probe.identity import Identity, verify
from probe.integrity.signing import bundle_end_statement
from probe.integrity.verify import ChainReport, ChainWalk, Head, Problem, Verification, key_matches, verify_database
from probe.model import utc_now_iso
from probe.storage import Database
from probe.storage.readonly import is_database
from probe.upload.protocol import Batch, encode_batch, signed_statement
from probe.upload.queue import bundle_batches

MAX_LINE_BYTES = 64 << 20
"""A longer line is not a batch: it is reported, not read into memory."""
END_KEY = "bundle_end"
"""The key that marks a bundle's signed last line."""


def _line_bytes(line: bytes) -> bytes:
    """A line as hashed for the bundle's end: without its line ending, then one newline."""
    return line.rstrip(b"\r\n") + b"\n"


def end_line(identity: Identity, lines: int, sha256: str) -> bytes:
    """The bundle's signed end: ``lines`` batch lines before it, hashing to ``sha256``."""
    created_at = utc_now_iso()
    end = {
        END_KEY: 1,
        "probe_id": identity.probe_id,
        "public_key": identity.public_key_b64,
        "created_at": created_at,
        "lines": lines,
        "sha256": sha256,
        "signature": identity.sign(bundle_end_statement(identity.probe_id, lines, sha256, created_at)),
    }
    return json.dumps(end, separators=(",", ":")).encode() + b"\n"


def is_end_line(line: bytes) -> bool:
    """Whether ``line`` is a bundle's signed end (not a batch)."""
    return line.lstrip().startswith(b'{"' + END_KEY.encode() + b'"')


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
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as stream:
            for batch in bundle_batches(db, identity, since=since, batch_size=batch_size, max_bytes=max_bytes):
                line = encode_batch(batch) + b"\n"
                stream.write(line)
                digest.update(_line_bytes(line))
                report.batches += 1
                report.runs += len(batch["runs"])
                report.rounds += len(batch["rounds"])
                if batch["measurements"]:
                    report.measurements += len(batch["measurements"])
                    if report.first_seq is None:
                        report.first_seq = batch["measurements"][0]["chain_seq"]
                    report.last_seq = batch["measurements"][-1]["chain_seq"]
            if report.batches:
                stream.write(end_line(identity, report.batches, digest.hexdigest()))
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
    lines = batch_lines = 0
    digest = hashlib.sha256()
    end: tuple[int, dict[str, Any]] | None = None
    for number, line in read_bundle(path):
        lines += 1
        where = f"line {number}"
        if end is not None:
            result.problems.append(Problem("altered", f"{where} comes after the bundle's signed end (line {end[0]})"))
        if line is None:
            batch_lines += 1
            result.problems.append(Problem("altered", f"{where} is too long to be a batch"))
            continue
        if is_end_line(line):
            try:
                end = (number, dict(json.loads(line)))
            except (ValueError, TypeError, RecursionError):
                result.problems.append(Problem("altered", f"{where} is not a valid bundle end"))
            continue
        batch_lines += 1
        digest.update(_line_bytes(line))
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
            signed = verify(batch.public_key, batch.signature, signed_statement(batch, raw))
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
    elif end is None:
        result.problems.append(Problem("missing", "the bundle has no signed end: lines may have been cut off its end"))
    else:
        result.problems += _end_problems(end, batch_lines, digest.hexdigest(), keys)
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
    """A database or a bundle, told apart by SQLite (never by reading the file: see ``is_database``)."""
    try:
        database = is_database(path)
    except OSError as exc:
        raise ProbeError(f"cannot read {path}: {exc.strerror or exc}") from None
    except sqlite3.Error as exc:
        raise ProbeError(f"cannot read {path}: {exc}") from None
    return verify_database(path) if database else verify_bundle(path)


def _end_problems(end: tuple[int, dict[str, Any]], lines: int, sha256: str, keys: dict[str, str]) -> list[Problem]:
    """What the bundle's signed end says against what the bundle holds."""
    number, fields = end
    where = f"the bundle's end (line {number})"
    probe_id, key = str(fields.get("probe_id", "")), str(fields.get("public_key", ""))
    try:
        statement = bundle_end_statement(probe_id, int(fields["lines"]), str(fields["sha256"]), fields["created_at"])
        signed = key_matches(key, probe_id) and verify(key, str(fields["signature"]), statement)
    except (KeyError, TypeError, ValueError):
        signed = False
    if not signed or keys.get(probe_id, key) != key:
        return [Problem("signature", f"{where} is not signed by the bundle's probe")]
    if int(fields["lines"]) != lines:
        return [Problem("missing", f"{where} counts {fields['lines']} batch lines and {lines} are here")]
    if fields["sha256"] != sha256:
        return [Problem("altered", f"{where}: the batch lines are not the ones it was signed over")]
    return []
