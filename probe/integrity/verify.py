"""Checking chains: a probe's or a collector's database, or a bundle file (``probe.upload.bundle``).

For each probe's chain, records are walked in chain order and each one's hash recomputed from
its content and its link. The first problem is reported, with the record it concerns:

    missing    a gap in the sequence numbers (records deleted); a signed head whose record is not
               held (the newest records erased, or every one); a run, or a probe at a collector,
               that counted more measurements than are held; an empty bundle
    reordered  a record whose hash fits another position (records swapped or renumbered)
    altered    a record whose content, or link, no longer matches its hash; or a chain that
               no longer matches a signed head (rewritten, hashes and all, after it was signed)
    unchained  a measurement outside any chain (added behind the probe's back)
    signature  a signed head or a bundle line whose signature does not verify

A database's own chain must start at record 1; a probe's chain at a collector, or in a bundle,
may start later (the records before were not sent, or not bundled), and is checked from there.
Every signed head names a record that was there when it was signed, and heads travel with their
records (a batch's head is its last record), so a head without its record, anywhere, means records
were erased: a chain is checked for every probe and epoch that has records or heads.
Known limit: a database's owner holding the key can rewrite and re-sign the whole chain; only a
copy of its signed heads kept elsewhere (a collector, a bundle) shows that.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probe.errors import ProbeError
from probe.identity import IdentityError, decode_public_key, fingerprint
from probe.integrity.signing import head_signature_ok, withheld_signature_ok
from probe.storage.chain import GENESIS, record_hash, record_hash_matches
from probe.storage.columns import CHAIN_RECORD_COLUMNS
from probe.storage.readonly import connect_read_only

MOVED_WINDOW = 64
"""How far from its position a record whose hash does not fit is looked for, to call it moved."""


@dataclass(frozen=True)
class Problem:
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind.upper()}: {self.message}"


@dataclass
class ChainReport:
    probe_id: str
    epoch: str = ""
    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    heads: int = 0
    last_signed: int | None = None
    withheld: list[int] = field(default_factory=list)
    problem: Problem | None = None

    def describe(self) -> str:
        name = f"probe {self.probe_id}" if self.probe_id else "this database's probe"
        if self.epoch:
            name += f" (chain {self.epoch[:16]})"
        if self.problem is not None:
            return f"{name}: {self.problem}"
        if not self.records and not self.withheld:
            return f"{name}: no records"
        text = f"{name}: {self.records} records (seq {self.first_seq}-{self.last_seq})"
        if self.withheld:
            shown = ", ".join(str(seq) for seq in self.withheld[:10]) + (", ..." if len(self.withheld) > 10 else "")
            text += f", {len(self.withheld)} withheld by the probe (quarantined there: record {shown})"
        if self.first_seq != 1:
            text += f"; records before {self.first_seq} are not held here"
        if self.last_signed is None:
            return text + ", no signed head"
        text += f", {self.heads} signed head{'s' * (self.heads != 1)}, the last at seq {self.last_signed}"
        if self.last_seq is not None and self.last_seq > self.last_signed:
            text += f"; {self.last_seq - self.last_signed} records after it not signed yet"
        return text


@dataclass
class Verification:
    source: str
    chains: list[ChainReport] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(chain.problem is None for chain in self.chains)

    @property
    def records(self) -> int:
        return sum(chain.records for chain in self.chains)

    def describe(self) -> str:
        # The first altered, missing or moved record says most: chains with a problem come first.
        failing = [chain for chain in self.chains if chain.problem is not None]
        lines = [chain.describe() for chain in failing] + [str(problem) for problem in self.problems]
        lines += [chain.describe() for chain in self.chains if chain.problem is None]
        if self.ok:
            chains = len(self.chains)
            lines.insert(0, f"verified: {self.source}: {self.records} records in {chains} chain{'s' * (chains != 1)}")
        else:
            lines.insert(0, f"NOT verified: {self.source}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str
    signed_at: str
    signature: str
    where: str = ""


def _label(row: Mapping[str, Any], where: str) -> str:
    suffix = f", {where}" if where else ""
    return f"record {row['chain_seq']} (id {row['id']}{suffix})"


class ChainWalk:
    """One chain, fed in chain order; keeps the first problem."""

    def __init__(self, report: ChainReport, *, from_genesis: bool, wanted: set[int]) -> None:
        self.report = report
        self.from_genesis = from_genesis
        self.wanted = wanted
        self.hashes: dict[int, str] = {}
        self._previous: tuple[int, str] | None = None

    def feed(self, row: Mapping[str, Any], where: str = "") -> bool:
        """Check one record; False once a problem is found."""
        report = self.report
        seq, prev, hash_ = int(row["chain_seq"]), str(row["chain_prev"]), str(row["chain_hash"])
        if self._previous is None:
            report.first_seq = seq
            expected_seq = 1 if self.from_genesis or seq == 1 else seq
            expected_prev = GENESIS if expected_seq == 1 else None
        else:
            expected_seq, expected_prev = self._previous[0] + 1, self._previous[1]
        if seq < expected_seq:
            return self._fail("reordered", f"{_label(row, where)} comes after record {expected_seq - 1}")
        if seq > expected_seq:
            gap = f"record {expected_seq}" if seq == expected_seq + 1 else f"records {expected_seq}-{seq - 1}"
            return self._fail("missing", f"{gap} missing before {_label(row, where)}")
        try:
            matches = record_hash_matches(seq, prev, row, hash_)
        except (KeyError, ValueError, TypeError):
            return self._fail("altered", f"{_label(row, where)} is not a complete measurement")
        if not matches:
            moved = next(
                (
                    other
                    for other in range(max(1, seq - MOVED_WINDOW), seq + MOVED_WINDOW + 1)
                    if other != seq and record_hash(other, prev, row) == hash_
                ),
                None,
            )
            if moved is not None:
                return self._fail("reordered", f"{_label(row, where)} was record {moved}: records were moved")
            return self._fail("altered", f"{_label(row, where)}: its content does not match its hash")
        if expected_prev is not None and prev != expected_prev:
            return self._fail("altered", f"{_label(row, where)}: its link to record {seq - 1} does not match")
        self._previous = (seq, hash_)
        report.records += 1
        report.last_seq = seq
        if seq in self.wanted:
            self.hashes[seq] = hash_
        return True

    def feed_withheld(self, seq: int, prev: str, hash_: str) -> bool:
        """A record the probe named as withheld, by its place, link and hash: the chain links through it."""
        if self._previous is None:
            self.report.first_seq = seq
            if seq == 1 and prev != GENESIS:
                return self._fail("altered", "withheld record 1 does not start the chain")
        elif seq != self._previous[0] + 1:
            return True  # not next: the gap before it is reported by the record that follows
        elif prev != self._previous[1]:
            return self._fail("altered", f"withheld record {seq}: its link to record {seq - 1} does not match")
        self._previous = (seq, hash_)
        self.report.withheld.append(seq)
        self.report.last_seq = seq
        if seq in self.wanted:
            self.hashes[seq] = hash_
        return True

    def _fail(self, kind: str, message: str) -> bool:
        self.report.problem = Problem(kind, message)
        return False

    def check_heads(self, heads: Iterable[Head], public_key: str | None) -> None:
        report = self.report
        if report.problem is not None:
            return
        ordered = sorted(heads, key=lambda one: one.seq)
        for head in ordered:
            where = f" ({head.where})" if head.where else ""
            if public_key is None:
                report.problem = Problem("signature", f"no public key for probe {report.probe_id}: heads unchecked")
                return
            if not head_signature_ok(public_key, report.probe_id, head.seq, head.hash, head.signed_at, head.signature):
                report.problem = Problem("signature", f"the head signed at seq {head.seq}{where} has a bad signature")
                return
        for head in ordered:
            held = self.hashes.get(head.seq)
            if held is None:
                # Past the last record held, the newest head says how much was erased.
                newest = ordered[-1] if head.seq > (report.last_seq or 0) else head
                report.problem = Problem("missing", _erased(report, newest))
                return
            if held != head.hash:
                where = f" ({head.where})" if head.where else ""
                report.problem = Problem(
                    "altered",
                    f"the chain up to record {head.seq} is not what was signed on {head.signed_at}{where}: "
                    "it was rewritten after signing",
                )
                return
            report.heads += 1
            report.last_signed = head.seq


def _erased(report: ChainReport, head: Head) -> str:
    """What is missing when a signed head's record is not held."""
    where = f" ({head.where})" if head.where else ""
    signed = f"a head signed on {head.signed_at}{where} covers"
    first, last = report.first_seq, report.last_seq
    if first is None or last is None:
        upto = "record 1" if head.seq == 1 else f"records 1-{head.seq}"
        return f"no record is held, but {signed} {upto}: the records were erased"
    if head.seq > last:
        span = f"record {head.seq}" if head.seq == last + 1 else f"records {last + 1}-{head.seq}"
        return f"{span} missing after record {last}: {signed} record {head.seq} (the newest records were erased)"
    if head.seq < first:
        span = f"record {head.seq}" if head.seq == first - 1 else f"records {head.seq}-{first - 1}"
        return f"{span} missing before record {first}: {signed} record {head.seq}"
    return f"record {head.seq}, signed on {head.signed_at}{where}, is missing"


def key_matches(public_key: str | None, probe_id: str) -> bool:
    if public_key is None:
        return False
    try:
        return fingerprint(decode_public_key(public_key)) == probe_id
    except IdentityError:
        return False


# --- databases ------------------------------------------------------------------------------


def verify_database(path: Path) -> Verification:
    """Check every chain in a probe's or a collector's database, read-only."""
    try:
        conn = connect_read_only(path)
        columns = {row[1] for row in conn.execute("pragma table_info(measurements)")}
    except sqlite3.Error as exc:
        raise ProbeError(f"cannot read database {path}: {exc}") from None
    if "chain_seq" not in columns:
        raise ProbeError(f"{path} has no hash chain yet: open it once with this probe (probe results) to add one")
    try:
        return _verify_connection(conn, str(path))
    except sqlite3.Error as exc:
        raise ProbeError(f"cannot read database {path}: {exc}") from None
    finally:
        conn.close()


def _epoch_columns(conn: sqlite3.Connection) -> tuple[str, str]:
    """How to read a chain's epoch from measurements and from chain_heads ('' before migration 6)."""
    measurements = {row[1] for row in conn.execute("pragma table_info(measurements)")}
    heads = {row[1] for row in conn.execute("pragma table_info(chain_heads)")}
    return (
        "coalesce(chain_epoch, '')" if "chain_epoch" in measurements else "''",
        "epoch" if "epoch" in heads else "''",
    )


def _verify_connection(conn: sqlite3.Connection, source: str) -> Verification:
    return verify_connection(conn, source)


def verify_connection(conn: Any, source: str, *, sqlite: bool = True) -> Verification:
    """Check every chain of an open database: a SQLite connection, or a PostgreSQL collector's
    (``sqlite=False``: the same SQL with ``?`` placeholders, its schema always with epochs, and
    no ``rowid`` to order unchained rows by)."""
    result = Verification(source)
    if sqlite:
        record_epoch, head_epoch = _epoch_columns(conn)
    else:
        record_epoch, head_epoch = "coalesce(chain_epoch, '')", "epoch"
    order = "rowid" if sqlite else "id"
    unchained = conn.execute(f"select id from measurements where chain_seq is null order by {order}").fetchall()
    if unchained:
        result.problems.append(
            Problem("unchained", f"{len(unchained)} measurement(s) outside the chain, the first id {unchained[0][0]}")
        )
    keys = dict(conn.execute("select id, public_key from probes").fetchall())
    own_ids = [row[0] for row in conn.execute("select id from probes where added_how = 'self' order by is_self desc")]
    # One chain per probe and epoch (a probe whose database was made again starts a new epoch), for
    # records, withheld records and heads alike: heads whose records were all erased are a chain with nothing held.
    groups = set(conn.execute(f"select distinct coalesce(probe_id, ''), {record_epoch} from measurements").fetchall())
    if not sqlite or conn.execute("select 1 from sqlite_master where name = 'withheld_records'").fetchone():
        groups |= set(conn.execute("select distinct probe_id, epoch from withheld_records").fetchall())  # all withheld
    for probe_id, epoch in conn.execute(f"select distinct probe_id, {head_epoch} from chain_heads").fetchall():
        groups.add(("" if probe_id in own_ids else probe_id, epoch))
    for group, epoch in sorted(groups):
        probe_ids = [group] if group else own_ids
        heads = [
            (probe_id, Head(*row))
            for probe_id in probe_ids
            for row in conn.execute(
                f"select seq, hash, signed_at, signature from chain_heads where probe_id = ? and {head_epoch} = ?",
                (probe_id, epoch),
            )
        ]
        report = ChainReport(group or (own_ids[0] if own_ids else ""), epoch)
        walk = ChainWalk(report, from_genesis=not group, wanted={head.seq for _, head in heads})
        rows = conn.execute(
            f"select {', '.join(CHAIN_RECORD_COLUMNS)} from measurements where coalesce(probe_id, '') = ? "
            f"and {record_epoch} = ? and chain_seq is not null order by chain_seq",
            (group, epoch),
        )
        stand_ins = _withheld(conn, group, epoch, keys.get(group), report, sqlite=sqlite)
        for values in rows:
            row = dict(zip(CHAIN_RECORD_COLUMNS, values, strict=True))
            while stand_ins and stand_ins[0][0] < int(row["chain_seq"]) and walk.feed_withheld(*stand_ins.pop(0)):
                pass
            if report.problem is not None or not walk.feed(row):
                break
        while stand_ins and report.problem is None and walk.feed_withheld(*stand_ins.pop(0)):
            pass
        for probe_id in probe_ids:
            key = keys.get(probe_id)
            if key is not None and not key_matches(key, probe_id):
                report.problem = report.problem or Problem("signature", f"probe {probe_id}'s key is not its id's")
            report.probe_id = probe_id
            walk.check_heads([head for owner, head in heads if owner == probe_id], key)
        report.probe_id = group or (own_ids[0] if own_ids else "")
        result.chains.append(report)
    if sqlite:
        result.problems += _fewer_than_counted(conn)
    return result


def _fewer_than_counted(conn: sqlite3.Connection) -> list[Problem]:
    """Measurements erased with their heads: this probe's finished runs, and a collector's probes,
    counted more measurements than are held (the counts are not signed: a hint, not a proof)."""
    problems = []
    runs = conn.execute(
        "select r.id, r.measurements, (select count(*) from measurements m where m.run_id = r.id) from runs r "
        "where r.probe_id is null and r.status in ('finished', 'interrupted') and r.measurements > 0"
    ).fetchall()
    short = [(run_id, counted, held) for run_id, counted, held in runs if held < counted]
    if short:
        run_id, counted, held = short[0]
        more = f" (and {len(short) - 1} more runs)" if len(short) > 1 else ""
        problems.append(Problem("missing", f"run {run_id} saved {counted} measurements and {held} are held here{more}"))
    delivered = conn.execute(
        "select p.id, p.measurements, (select count(*) from measurements m where m.probe_id = p.id) from probes p "
        "where p.is_self = 0 and p.measurements > 0"
    ).fetchall()
    problems += [
        Problem("missing", f"probe {probe_id} delivered {counted} measurements and {held} are held here")
        for probe_id, counted, held in delivered
        if held < counted
    ]
    return problems


def _withheld(
    conn: Any, probe_id: str, epoch: str, public_key: str | None, report: ChainReport, *, sqlite: bool = True
) -> list[tuple[int, str, str]]:
    """A collector's stand-ins for records the probe withheld, in chain order; each signature checked.
    (A PostgreSQL collector's schema always has the table.)"""
    if not probe_id:
        return []
    if sqlite and not conn.execute("select 1 from sqlite_master where name = 'withheld_records'").fetchone():
        return []
    stand_ins = []
    for seq, prev, hash_, reason, signature in conn.execute(
        "select seq, prev, hash, reason, signature from withheld_records where probe_id = ? and epoch = ? order by seq",
        (probe_id, epoch),
    ):
        record = {"seq": seq, "prev": prev, "hash": hash_, "reason": reason, "signature": signature}
        if public_key is None or not withheld_signature_ok(public_key, probe_id, record, epoch):
            report.problem = Problem("signature", f"withheld record {seq} is not signed by probe {probe_id}")
            return []
        stand_ins.append((int(seq), str(prev), str(hash_)))
    return stand_ins
