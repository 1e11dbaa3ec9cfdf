"""``probe results`` and ``probe show``: read what a database holds (opened read-only when it cannot be written)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from probe.cli.common import config_option, db_option, store_target
from probe.cli.output import outcome_text, table, verdict_text
from probe.config import Config, load_config
from probe.errors import ProbeError
from probe.storage.columns import VERDICT_COLUMNS, VERDICT_STAGE_COLUMNS
from probe.storage.db import row_to_measurement
from probe.storage.store import open_store

if TYPE_CHECKING:
    from probe.storage.store import AnyDatabase

LISTED = ("id", "started_at", "experiment", "input", "failure", "failed_step", "verdict", "blocking_detail")
"""The columns ``probe results`` shows: a long list is read without its test keys."""


def read_store(config: Config, db_path: Path | str | None) -> AnyDatabase:
    """A database for a command that only reads it: one that cannot be written here is opened read-only."""
    return open_store(store_target(config, db_path), read_only_ok=True)


@click.command()
@config_option
@db_option
@click.option("--run", "run_id", help="Only this run (default: all).")
def results(config_path: Path | None, db_path: Path | None, run_id: str | None) -> None:
    """List measurements with the step that failed and how."""
    db = read_store(load_config(config_path, sms_tables="enabled"), db_path)
    rows = [
        (
            r["id"],
            r["started_at"][:19] + "Z",
            r["experiment"],
            r["input"],
            outcome_text(r["failure"], r["failed_step"]),
            verdict_text(r["verdict"], r["blocking_detail"]),
        )
        for r in db.measurement_rows(run_id, LISTED)
    ]
    click.echo(table(("id", "started_at", "experiment", "input", "outcome", "verdict"), rows))


@click.command()
@config_option
@db_option
@click.argument("measurement_id")
def show(config_path: Path | None, db_path: Path | None, measurement_id: str) -> None:
    """Print one measurement (OONI format plus the probe's own fields) as JSON."""
    db = read_store(load_config(config_path, sms_tables="enabled"), db_path)
    row = db.get_row(measurement_id)
    if row is None:
        raise ProbeError(f"no measurement with id {measurement_id!r}")
    data = row_to_measurement(row).model_dump(mode="json")
    for column in (*VERDICT_COLUMNS, *VERDICT_STAGE_COLUMNS):
        data[column] = row.get(column)
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))
