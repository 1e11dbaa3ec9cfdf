"""``probe verdict``: judge measurements, stored ones or OONI's, and say why.

    probe verdict --ooni measurement.json [--fingerprints FILE ...]   # side by side with OONI's blocking
    probe verdict [--run ID]                                          # judge stored measurements again

The engine is ``probe.verdict``; this module only reads, calls it and prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from probe.cli.common import config_option, db_option, store_target
from probe.cli.output import table
from probe.config import load_config
from probe.fingerprints import Fingerprints, load_fingerprints
from probe.storage.db import row_to_measurement
from probe.storage.store import open_store
from probe.verdict.engine import judge_measurement
from probe.verdict.network import NetworkContext
from probe.verdict.ooni import OONIComparison, compare_ooni, read_ooni


def _fingerprints(config_path: Path | None, files: tuple[Path, ...]) -> Fingerprints:
    paths = list(files) or load_config(config_path).fingerprints.files
    found = load_fingerprints(paths)
    for problem in found.problems:
        click.echo(f"warning: {problem}", err=True)
    return found


def _agreement(item: OONIComparison) -> str:
    if item.verdict is None:
        return "skipped"
    return "agrees" if item.agrees else "differs"


@click.command()
@config_option
@db_option
@click.option(
    "--ooni",
    "ooni_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="OONI measurements (.json, or .jsonl one a line) to judge instead of the database (repeatable).",
)
@click.option(
    "--fingerprints",
    "fingerprint_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Fingerprint CSV files (repeatable; default: [fingerprints] files).",
)
@click.option("--run", "run_id", help="Only this run's measurements (default: all).")
@click.option("--store/--no-store", default=True, show_default=True, help="Write the new verdicts to the database.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line instead of a table.")
def verdict(
    config_path: Path | None,
    db_path: Path | str | None,
    ooni_files: tuple[Path, ...],
    fingerprint_files: tuple[Path, ...],
    run_id: str | None,
    store: bool,
    as_json: bool,
) -> None:
    """Judge measurements: verdict, blocking method and reason."""
    fingerprints = _fingerprints(config_path, fingerprint_files)
    if ooni_files:
        _judge_ooni(ooni_files, fingerprints, as_json)
        return
    db = open_store(store_target(load_config(config_path), db_path))
    rows = []
    try:
        for row in db.measurement_rows(run_id):
            measurement = row_to_measurement(row)
            network = NetworkContext(row.get("network_state"))
            found = judge_measurement(measurement, fingerprints, network)
            if found is None:
                continue
            if store:
                db.set_verdict(measurement.id, found.as_row())
            if as_json:
                click.echo(json.dumps({"id": measurement.id, "input": measurement.input, **found.as_row()}))
            rows.append(
                (measurement.id, measurement.input, found.verdict, found.blocking, found.blocking_detail, found.reason)
            )
    finally:
        db.close()
    if not as_json:
        click.echo(table(("id", "input", "verdict", "blocking", "detail", "reason"), rows))


def _judge_ooni(files: tuple[Path, ...], fingerprints: Fingerprints, as_json: bool) -> None:
    results = [compare_ooni(where, m, fingerprints) for path in files for where, m in read_ooni(path)]
    if as_json:
        for item in results:
            click.echo(json.dumps(item.to_dict(), ensure_ascii=False))
        return
    rows = []
    for item in results:
        found = item.verdict
        rows.append(
            (
                Path(item.source).name,
                json.dumps(item.ooni_blocking),
                found.verdict if found else "-",
                found.blocking if found else "",
                found.blocking_detail if found else "",
                _agreement(item),
            )
        )
    click.echo(table(("measurement", "ooni", "verdict", "blocking", "detail", "vs ooni"), rows))
    for item in results:
        lines = []
        if item.verdict is not None:
            lines.append(f"  reason: {item.verdict.reason}")
        if item.why:
            lines.append(f"  why not OONI's: {item.why}" if item.verdict is not None else f"  {item.why}")
        if lines:
            click.echo(f"\n{Path(item.source).name} ({item.input}):")
            click.echo("\n".join(lines))
