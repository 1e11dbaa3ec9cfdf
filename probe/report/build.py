"""What a report shows, gathered from the database: windows, timeline, probes, verification."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from probe import __version__
from probe.analysis import Hysteresis, OutageQuery, Window, find_outages, times
from probe.analysis.regional import Rules
from probe.analysis.sources import normalize_network
from probe.analysis.timeline import Timeline, timeline
from probe.errors import ProbeError
from probe.integrity.verify import Verification, verify_connection, verify_database
from probe.report.regional import Regional, gather_regional
from probe.storage.connection import Connection


@dataclass(frozen=True)
class ReportQuery:
    since: str | None = None
    until: str | None = None
    network: str | None = None
    by: str = "network"
    hysteresis: Hysteresis = field(default_factory=Hysteresis)
    verify: bool = True
    title: str | None = None
    regional: Rules | None = None
    """The rules a collector's regional windows are found with (``[collector.regional]``, as ``probe outages`` and
    the alerts find them); None: the shipped ones."""


@dataclass(frozen=True)
class ProbeRow:
    probe: str
    name: str
    network: str
    region: str
    runs: int
    measurements: int
    first: str
    last: str


@dataclass(frozen=True)
class ChainRow:
    probe: str
    records: int
    first_seq: int | None
    last_seq: int | None
    head_hash: str | None
    last_signed: int | None
    signed_hash: str | None
    signed_at: str | None
    problem: str | None


@dataclass
class ReportData:
    since: str
    until: str
    generated_at: str
    version: str
    source: str
    hysteresis: Hysteresis
    windows: list[Window]
    timeline: Timeline
    probes: list[ProbeRow]
    verification: Verification | None = None
    chains: list[ChainRow] = field(default_factory=list)
    title: str | None = None
    regional: Regional | None = None
    """A collector's regional windows and its probes' places; None when no probe declared a place."""


def period(conn: Connection, since: str | None, until: str | None) -> tuple[str, str]:
    """The asked period, its open ends filled in from the data (the measurements, or a collector's rounds when it
    holds only those: probes that upload their rounds' heartbeats)."""
    if since is None or until is None:
        first, last = conn.execute("select min(started_at), max(started_at) from measurements").fetchone()
        if first is None:
            first, last = conn.execute("select min(started_at), max(started_at) from rounds").fetchone()
        if first is None:
            raise ProbeError("no measurements to report on")
        since = since or first
        until = until or times.shifted(last, 1)
    if since >= until:
        raise ProbeError(f"the report's period is empty: {since} is not before {until}")
    return since, until


def probe_rows(conn: Connection, since: str, until: str, network: str | None) -> list[ProbeRow]:
    names = {
        str(probe_id): ("this probe" if is_self else str(name or ""))
        for probe_id, name, is_self in conn.execute("select id, name, is_self from probes")
    }
    own = [probe_id for probe_id, name in names.items() if name == "this probe"]
    sql = (
        "select coalesce(probe_id, ''), coalesce(probe_asn, ''), coalesce(probe_cc, ''), count(*), "
        "coalesce(sum(measurements), 0), min(started_at), max(started_at) from runs "
        "where started_at >= ? and started_at < ?"
    )
    params: list[str] = [since, until]
    if network is not None:
        sql += " and probe_asn = ?"
        params.append(normalize_network(network))
    rows = []
    for probe, asn, cc, runs, measured, first, last in conn.execute(sql + " group by 1, 2, 3 order by 2, 1", params):
        shown = probe or (own[0] if own else "")
        name = names.get(shown, "") if probe else "this probe"
        rows.append(ProbeRow(shown, name, asn, cc, int(runs), int(measured), str(first), str(last)))
    return rows


def chain_rows(conn: Connection, verification: Verification) -> list[ChainRow]:
    rows = []
    for chain in verification.chains:
        head = None
        # One chain per probe and epoch: a collector's, for a probe's database made again; a probe's own, for
        # the chain it archived when a collector showed it had lost records (its current chain's epoch is '').
        if chain.last_seq is not None:
            found = conn.execute(
                "select chain_hash from measurements where coalesce(probe_id, '') in ('', ?) and chain_seq = ?"
                " and coalesce(chain_epoch, '') = ? order by probe_id is null limit 1",
                (chain.probe_id, chain.last_seq, chain.epoch),
            ).fetchone()
            head = found[0] if found else None
        signed = None
        if chain.last_signed is not None:
            signed = conn.execute(
                "select hash, signed_at from chain_heads where probe_id = ? and seq = ? and epoch = ?",
                (chain.probe_id, chain.last_signed, chain.epoch),
            ).fetchone()
        rows.append(
            ChainRow(
                chain.probe_id,
                chain.records,
                chain.first_seq,
                chain.last_seq,
                head,
                chain.last_signed,
                signed[0] if signed else None,
                signed[1] if signed else None,
                str(chain.problem) if chain.problem else None,
            )
        )
    return rows


def gather(conn: Connection, query: ReportQuery, db_path: Path | str | None = None) -> ReportData:
    """``db_path``: the SQLite file (verified read-only), or the label of a PostgreSQL
    database (verified on ``conn``)."""
    since, until = period(conn, query.since, query.until)
    outages = OutageQuery(
        since=since,
        until=until,
        network=query.network,
        by=query.by,
        hysteresis=query.hysteresis,
        rules=query.regional,
    )
    # first: the windows per network say how far each reached
    regional = gather_regional(conn, since, until, query.regional)
    data = ReportData(
        since=since,
        until=until,
        generated_at=times.now_iso(),
        version=__version__,
        source=db_path.name if isinstance(db_path, Path) else db_path or "database",
        hysteresis=query.hysteresis,
        windows=find_outages(conn, outages, regional.windows if regional else None),
        timeline=timeline(conn, since, until, network=query.network),
        probes=probe_rows(conn, since, until, query.network),
        title=query.title,
        regional=regional,
    )
    if query.verify and isinstance(db_path, str):
        data.verification = verify_connection(conn, db_path, sqlite=False)
        data.chains = chain_rows(conn, data.verification)
    elif query.verify and isinstance(db_path, Path):
        data.verification = verify_database(db_path)
        data.chains = chain_rows(conn, data.verification)
    return data
