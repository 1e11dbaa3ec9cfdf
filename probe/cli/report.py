"""``probe report``: one self-contained HTML page about a period (``probe.report``).

probe report [--db PATH] [--since] [--until] [--network ASN] --out FILE.html
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from probe.analysis import Hysteresis
from probe.analysis.regional.query import configured
from probe.cli.common import config_option, db_option, parse_time, store_target
from probe.cli.outages import period_options, window_options
from probe.config import load_config
from probe.errors import ProbeError
from probe.report.build import ReportQuery
from probe.report.page import build_report
from probe.storage.private import write_private_text
from probe.storage.store import open_store


@click.command(name="report")
@config_option
@db_option
@period_options
@click.option("--network", help="Only this network's probes (ASN, e.g. AS9198).")
@window_options
@click.option("--title", help="The page's title (default: Internet blocking and outages).")
@click.option("--no-verify", is_flag=True, help="Leave out the hash-chain check (slow on a large collector).")
@click.option(
    "--out",
    "out_path",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The HTML file to write.",
)
def report(
    config_path: Path | None,
    db_path: Path | str | None,
    since: str | None,
    until: str | None,
    network: str | None,
    by: str,
    open_after: int,
    close_after: int,
    title: str | None,
    no_verify: bool,
    out_path: Path,
) -> None:
    """Write an HTML report: timelines, outage windows, the method in plain words, probes, verification.

    On a collector whose probes declared their places, also a map of the country's subdivisions shaded by the
    regional windows (over the period, and over time), a timeline per area and district, and their table."""
    config = load_config(config_path, sms_tables="enabled")
    query = ReportQuery(
        since=parse_time(since, "--since"),
        until=parse_time(until, "--until"),
        network=network,
        by=by,
        hysteresis=Hysteresis(open_after, close_after),
        verify=not no_verify,
        title=title,
        regional=configured(config.collector.regional),
    )
    path = store_target(config, db_path)
    db = open_store(path, read_only_ok=True)
    try:
        page = build_report(db.conn, query, db.path or db.label)
    finally:
        db.close()
    temporary = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    try:
        with write_private_text(temporary) as out:
            out.write(page)
        temporary.replace(out_path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise ProbeError(f"cannot write {out_path}: {exc.strerror or exc}") from None
    click.echo(f"report written to {out_path} ({len(page.encode()) // 1024} KiB)", err=True)
