"""``probe``: run experiments, list and show results, export them.

Every command opens what it needs and makes one library call; the probe's own errors
(``ProbeError``) become one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from probe import __version__
from probe.cli.collector import collector
from probe.cli.common import (
    accept_option,
    config_option,
    database_path,
    db_option,
    registry_option,
    store_target,
)
from probe.cli.consent import consent_command, consent_gate
from probe.cli.daemon import daemon, identity
from probe.cli.helper import helper
from probe.cli.lab import lab
from probe.cli.lists import lists
from probe.cli.outages import outages
from probe.cli.output import Progress, outcome_text, summary_table, table, verdict_text
from probe.cli.paths import init_command, paths_command
from probe.cli.report import report
from probe.cli.trace import trace_command
from probe.cli.upload import bundle, upload
from probe.cli.verdict import verdict
from probe.cli.verify import verify
from probe.config import Config, load_config
from probe.errors import ProbeError
from probe.experiments import EXPERIMENTS, get_experiment
from probe.export import FORMATS, export, export_directory, writes_directory
from probe.listcache import add_cached_lists, cached_lists
from probe.report.run_summary import group_verdicts
from probe.report.run_summary import render as render_verdicts
from probe.runner import run_targets
from probe.storage import Database, open_database
from probe.storage.columns import VERDICT_COLUMNS, VERDICT_STAGE_COLUMNS
from probe.storage.db import row_to_measurement
from probe.storage.private import write_private_text
from probe.storage.store import open_store
from probe.testlist import StreamedTestList, Target, TestList, load_test_list, stream_test_list

if TYPE_CHECKING:
    from probe.storage.store import AnyDatabase


def _open(config: Config, db_path: Path | None) -> Database:
    return open_database(database_path(config, db_path))


def _read(config: Config, db_path: Path | str | None) -> AnyDatabase:
    """A database for a command that only reads it: one that cannot be written here is opened read-only."""
    return open_store(store_target(config, db_path), read_only_ok=True)


@click.group()
@click.version_option(__version__, prog_name="probe")
def cli() -> None:
    """A network censorship measurement probe: DNS, TCP, TLS and HTTP reachability, stored in SQLite."""


@cli.command()
@config_option
@db_option
@click.option("--list", "list_path", type=click.Path(path_type=Path, dir_okay=False), help="Test list.")
@click.option("--url", "inputs", multiple=True, help="An input to measure (repeatable); replaces the list.")
@registry_option(
    "-e",
    "--experiment",
    registry=EXPERIMENTS,
    describe=lambda e: f"{e.name}: {e.inputs}",
    default="web",
    show_default=True,
)
@accept_option
def run(
    config_path: Path | None,
    db_path: Path | None,
    list_path: Path | None,
    inputs: tuple[str, ...],
    experiment: str,
    accept: bool,
) -> None:
    """Measure a test list (or --url inputs) and store every measurement."""
    config = load_config(config_path)
    chosen = get_experiment(experiment)
    test_list: TestList | StreamedTestList
    if inputs and not list_path:
        test_list = TestList("command line", [Target(value) for value in inputs])
    elif list_path is not None:
        test_list = stream_test_list(list_path, chosen.check_input)  # read while it is measured
        test_list.targets.extend(Target(value) for value in inputs)
    else:
        path = config.probe.test_list
        if path is None:
            raise ProbeError("nothing to measure: give --list, --url, or set [probe] test_list in the config")
        test_list = load_test_list(path, chosen.check_input)
        if chosen.name == "web" and config.lists.use_cached:
            add_cached_lists(test_list, cached_lists(config))
        test_list.targets.extend(Target(value) for value in inputs)
    db = _open(config, db_path)
    progress = Progress(sys.stderr)
    try:
        consent_gate(db, config, accept=accept, strict=True)
        summary = run_targets(
            chosen,
            test_list if isinstance(test_list, StreamedTestList) else test_list.targets,
            config,
            db,
            test_list=test_list.source,
            problems=test_list.problems,
            on_measurement=progress,
        )
        states = [context.get("state") for context in db.network_contexts(summary.run_id)]
        verdicts = group_verdicts(
            db.measurement_rows(summary.run_id), helpers=config.control.url, network_states=states
        )
    finally:
        progress.end()
        db.close()
    for problem in test_list.problems:
        click.echo(f"warning: {test_list.source}: {problem} (skipped)", err=True)
    for line in summary.refused:
        click.echo(f"warning: {line} (not measured)", err=True)
    if summary.cut:
        click.echo(
            f"warning: {summary.cut} measurement(s) saved with a field cut to the limits a collector accepts "
            "(their annotations name it: limits.cut)",
            err=True,
        )
    click.echo(summary_table(summary))
    if verdicts.groups:
        click.echo(render_verdicts(verdicts))
    if summary.network is not None:
        click.echo(summary.network.line())
    if summary.refused and not summary.total:
        raise ProbeError(f"nothing measured: every input was refused ({len(summary.refused)}, named above)")
    if summary.probe_errors:
        sys.exit(1)


@cli.command()
@config_option
@db_option
@click.option("--run", "run_id", help="Only this run (default: all).")
def results(config_path: Path | None, db_path: Path | None, run_id: str | None) -> None:
    """List measurements with the step that failed and how."""
    db = _read(load_config(config_path), db_path)
    rows = [
        (
            r["id"],
            r["started_at"][:19] + "Z",
            r["experiment"],
            r["input"],
            outcome_text(r["failure"], r["failed_step"]),
            verdict_text(r["verdict"], r["blocking_detail"]),
        )
        for r in db.measurement_rows(run_id)
    ]
    click.echo(table(("id", "started_at", "experiment", "input", "outcome", "verdict"), rows))


@cli.command()
@config_option
@db_option
@click.argument("measurement_id")
def show(config_path: Path | None, db_path: Path | None, measurement_id: str) -> None:
    """Print one measurement (OONI format plus the probe's own fields) as JSON."""
    db = _read(load_config(config_path), db_path)
    row = db.get_row(measurement_id)
    if row is None:
        raise ProbeError(f"no measurement with id {measurement_id!r}")
    data = row_to_measurement(row).model_dump(mode="json")
    for column in (*VERDICT_COLUMNS, *VERDICT_STAGE_COLUMNS):
        data[column] = row.get(column)
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@cli.command(name="export")
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
@click.option(
    "--out", "out_path", type=click.Path(path_type=Path), help="File (default: stdout); parquet: a new directory."
)
def export_command(
    config_path: Path | None, db_path: Path | None, fmt: str, run_id: str | None, out_path: Path | None
) -> None:
    """Export measurements in one of the formats below (--format)."""
    db = _read(load_config(config_path), db_path)
    if writes_directory(fmt):
        if out_path is None:
            raise ProbeError(f"--format {fmt} writes a directory (one file a day): give --out DIR")
        count = export_directory(db, out_path, fmt=fmt, run_id=run_id)
        click.echo(f"{count} measurements written to {out_path}", err=True)
        return
    if out_path is None:
        export(db, sys.stdout, fmt=fmt, run_id=run_id)
        return
    try:
        with write_private_text(out_path) as out:
            count = export(db, out, fmt=fmt, run_id=run_id)
    except OSError as exc:
        raise ProbeError(f"cannot write {out_path}: {exc.strerror or exc}") from None
    click.echo(f"{count} measurements written to {out_path}", err=True)


cli.add_command(lab)
cli.add_command(daemon)
cli.add_command(identity)
cli.add_command(consent_command)
cli.add_command(upload)
cli.add_command(bundle)
cli.add_command(verify)
cli.add_command(collector)
cli.add_command(verdict)
cli.add_command(helper)
cli.add_command(lists)
cli.add_command(trace_command)
cli.add_command(outages)
cli.add_command(report)
cli.add_command(init_command)
cli.add_command(paths_command)


def main() -> None:
    try:
        cli(standalone_mode=False)
    except ProbeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("\ninterrupted: measurements so far are saved", err=True)
        sys.exit(130)
