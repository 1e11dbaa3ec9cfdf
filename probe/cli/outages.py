"""``probe outages``: outage windows of a probe's or a collector's database (``probe.analysis``); with
``--by district`` or ``--by area``, a collector's regional windows (``probe.analysis.regional``).

probe outages [--db PATH] [--target T] [--network ASN] [--by probe|network|region|district|area] [--area CODE]
              [--bin SECONDS] [--since] [--until] [--format table|json|csv]
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from probe.analysis import Hysteresis, OutageQuery, Window, find_outages
from probe.analysis.extent import FIELDS as EXTENT_FIELDS
from probe.analysis.hysteresis import DEFAULT_CLOSE_AFTER, DEFAULT_OPEN_AFTER
from probe.analysis.regional import Rules
from probe.analysis.regional.query import (
    MAX_BIN,
    REGIONAL_SCOPES,
    RegionalQuery,
    configured,
    find_regional,
    save_found,
)
from probe.analysis.times import between, now_iso
from probe.analysis.windows import FIELDS, SCOPES
from probe.cli.common import config_option, db_option, parse_time, store_target
from probe.cli.outages_regional import REGIONAL_FORMATTERS
from probe.cli.output import table
from probe.config import load_config
from probe.storage.outage_windows import save_windows
from probe.storage.store import open_store

F = TypeVar("F", bound=Callable[..., Any])


def period_options(func: F) -> F:
    func = click.option("--until", help="Up to this date (included) or time, UTC; default: the end of the data.")(func)
    return click.option("--since", help="From this date or ISO 8601 time, UTC; default: the start of the data.")(func)


def window_options(func: F) -> F:
    """Grouping and hysteresis, shared by ``probe outages`` and ``probe report``."""
    return _window_options(
        func, SCOPES, "Merge windows across a network's probes (ASN), a region's (country), or not (probe)."
    )


def _window_options(func: F, scopes: Sequence[str], by_help: str) -> F:
    for option in reversed(
        (
            click.option(
                "--by",
                type=click.Choice(scopes),
                default="network",
                show_default=True,
                help=by_help,
            ),
            click.option(
                "--open-after",
                type=click.IntRange(1, 1000),
                default=DEFAULT_OPEN_AFTER,
                show_default=True,
                help="Bad rounds in a row that open a window (one more for SMS).",
            ),
            click.option(
                "--close-after",
                type=click.IntRange(1, 1000),
                default=DEFAULT_CLOSE_AFTER,
                show_default=True,
                help="Good rounds in a row that close it.",
            ),
        )
    ):
        func = option(func)
    return func


def outage_query(
    *,
    since: str | None,
    until: str | None,
    target: str | None,
    network: str | None,
    by: str,
    open_after: int,
    close_after: int,
    rules: Rules | None = None,
) -> OutageQuery:
    return OutageQuery(
        since=parse_time(since, "--since"),
        until=parse_time(until, "--until"),
        target=target,
        network=network,
        by=by,
        hysteresis=Hysteresis(open_after, close_after),
        rules=rules,
    )


def _qualified(windows: Sequence[Window]) -> bool:
    """Whether the windows come from a collector whose probes declared places: they carry their extent."""
    return any(window.extent is not None for window in windows)


def windows_table(windows: Sequence[Window]) -> str:
    if not windows:
        return "no outage windows"
    rows = [
        (
            window.target,
            window.kind,
            "/".join(part for part in (window.blocking, window.blocking_detail) if part),
            between(window.start_min, window.start_max),
            between(window.end_min, window.end_max),
            f"{window.failing}/{window.measurements}",
            f"{window.probes}/{window.probes_total}",
            window.network if window.scope != "probe" else f"{window.network} {window.probe[:8]}".strip(),
            f"{window.confidence:.2f} {window.confidence_label}",
            f"{window.severity:g}",
            *((window.extent.words() if window.extent else "",) if _qualified(windows) else ()),
        )
        for window in windows
    ]
    headers = ("target", "kind", "how", "start between", "end between", "failing", "probes", "network")
    return table((*headers, "confidence", "severity", *(("extent",) if _qualified(windows) else ())), rows)


def windows_csv(windows: Sequence[Window]) -> str:
    """One row a window (a collector's with declared places: its extent, the regional windows "; "-separated, and
    its probes, space-separated)."""
    out = io.StringIO()
    fields = (*FIELDS, *EXTENT_FIELDS) if _qualified(windows) else FIELDS
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for window in windows:
        row = window.to_dict()
        if "extent" in row:
            row["extent_windows"] = "; ".join(row["extent_windows"])
            row["probe_ids"] = " ".join(row["probe_ids"])
        writer.writerow(row)
    return out.getvalue()


def windows_json(windows: Sequence[Window]) -> str:
    return json.dumps([window.to_dict() for window in windows], indent=2, ensure_ascii=False)


FORMATTERS: dict[str, Callable[[Sequence[Window]], str]] = {
    "table": windows_table,
    "json": windows_json,
    "csv": windows_csv,
}


def outage_window_options(func: F) -> F:
    """``window_options`` with the regional groupings: a collector's districts and areas."""
    return _window_options(
        func,
        (*SCOPES, *REGIONAL_SCOPES),
        "Merge windows across a network's probes (ASN), a region's (country), or not (probe); or a collector's "
        "regional windows by district or area: regional, mobile-only and national shutdowns, devices off.",
    )


@click.command(name="outages")
@config_option
@db_option
@click.option(
    "--target",
    help="An input (URL, host:port, SMS recipient), a host name (all its inputs), or `network` "
    "for whole-network windows only.",
)
@click.option("--network", help="Only this network's probes (ASN, e.g. AS9198).")
@click.option("--area", help="With --by district or area: only this ISO 3166-2 area's windows (e.g. KZ-47).")
@click.option(
    "--bin",
    "bin_seconds",
    type=click.FloatRange(0, MAX_BIN, min_open=True),
    metavar="SECONDS",
    help="With --by district or area: the time bin; default: the probes' usual round interval, at most "
    "[collector.regional] bin_seconds (600).",
)
@period_options
@outage_window_options
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATTERS)), default="table", show_default=True)
@click.option(
    "--save",
    is_flag=True,
    help="Also keep the windows in the database's outage_windows table (regional ones: in place of those saved "
    "before for the same scope, area and period).",
)
def outages(
    config_path: Path | None,
    db_path: Path | str | None,
    target: str | None,
    network: str | None,
    since: str | None,
    until: str | None,
    area: str | None,
    bin_seconds: float | None,
    by: str,
    open_after: int,
    close_after: int,
    fmt: str,
    save: bool,
) -> None:
    """List outage windows: what was cut (a target, or the whole network), how, and when, with bounds.

    With --by district or area, a collector's regional windows: district, area, mobile-only and national
    shutdowns told from a probe's own machine off or link down, from the places the probes declared."""
    if by in REGIONAL_SCOPES:
        _regional(
            config_path,
            db_path,
            RegionalQuery(
                by,
                area,
                parse_time(since, "--since"),
                parse_time(until, "--until"),
                configured(load_config(config_path).collector.regional, open_after=open_after, close_after=close_after),
                bin_seconds,
            ),
            fmt,
            save,
            target is not None or network is not None,
        )
        return
    if area is not None or bin_seconds is not None:
        raise click.UsageError(f"{'--area' if area is not None else '--bin'} goes with --by district or --by area")
    config = load_config(config_path, sms_tables="enabled")
    query = outage_query(
        since=since,
        until=until,
        target=target,
        network=network,
        by=by,
        open_after=open_after,
        close_after=close_after,
        rules=configured(config.collector.regional, open_after=open_after, close_after=close_after),
    )
    db = open_store(store_target(config, db_path), read_only_ok=not save)
    try:
        found = find_outages(db.conn, query)
        if save:
            saved = save_windows(db.conn, (window.to_dict() for window in found), now_iso())
            click.echo(f"{saved} windows saved in outage_windows", err=True)
    finally:
        db.close()
    click.echo(FORMATTERS[fmt](found).rstrip("\n"))


def _regional(
    config_path: Path | None, db_path: Path | str | None, query: RegionalQuery, fmt: str, save: bool, other: bool
) -> None:
    if other:
        raise click.UsageError("--by district or area takes no --target or --network")
    db = open_store(store_target(load_config(config_path, sms_tables="enabled"), db_path), read_only_ok=not save)
    try:
        found = find_regional(db.conn, query)
        if save:
            saved = save_found(db.conn, query, found, now_iso())
            click.echo(f"{saved} regional windows saved in outage_windows", err=True)
    finally:
        db.close()
    click.echo(REGIONAL_FORMATTERS[fmt](found).rstrip("\n"))
