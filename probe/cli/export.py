"""``probe export``: measurements (or, with ``--format stop``, a collector's shutdown events) in one of the export
formats, to stdout, a file or a directory."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from probe.cli.common import config_option, db_option, parse_time, registry_option
from probe.cli.results import read_store
from probe.config import load_config
from probe.errors import ProbeError
from probe.export import FORMATS, Selection, check, export, export_directory, writes_directory
from probe.storage.private import write_private_text


@click.command(name="export")
@config_option
@db_option
@registry_option(
    "--format",
    "fmt",
    registry=FORMATS,
    describe=lambda f: f"{f.name}: {f.description}",
    default="ooni-jsonl",
    show_default=True,
)
@click.option("--run", "run_id", help="Only this run (default: all).")
@click.option("--since", help="stop: events from this date or ISO 8601 time, UTC, as probe outages --by district.")
@click.option("--until", help="stop: events up to this date (included) or time, UTC; default: now.")
@click.option("--area", help="stop: only this ISO 3166-2 area's events, and its country's (e.g. KZ-47).")
@click.option(
    "--out", "out_path", type=click.Path(path_type=Path), help="File (default: stdout); parquet: a new directory."
)
def export_command(
    config_path: Path | None,
    db_path: Path | None,
    fmt: str,
    run_id: str | None,
    since: str | None,
    until: str | None,
    area: str | None,
    out_path: Path | None,
) -> None:
    """Export measurements in one of the formats below (--format); stop: a collector's shutdown events."""
    config = load_config(config_path, sms_tables="enabled")
    selection = Selection(
        run_id, parse_time(since, "--since"), parse_time(until, "--until"), area, config.collector.regional
    )
    unit = check(fmt, selection).unit
    db = read_store(config, db_path)
    try:
        if writes_directory(fmt):
            if out_path is None:
                raise ProbeError(f"--format {fmt} writes a directory (one file a day): give --out DIR")
            count = export_directory(db, out_path, fmt=fmt, selection=selection)
            click.echo(f"{count} {unit} written to {out_path}", err=True)
            return
        if out_path is None:
            export(db, sys.stdout, fmt=fmt, selection=selection)
            return
        try:
            with write_private_text(out_path) as out:
                count = export(db, out, fmt=fmt, selection=selection)
        except OSError as exc:
            raise ProbeError(f"cannot write {out_path}: {exc.strerror or exc}") from None
    finally:
        db.close()
    click.echo(f"{count} {unit} written to {out_path}", err=True)
