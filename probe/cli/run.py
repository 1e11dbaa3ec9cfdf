"""``probe run``: measure a test list (or inputs given on the command line) and store every measurement."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from probe.cli.common import accept_option, config_option, database_path, db_option, registry_option
from probe.cli.consent import consent_gate
from probe.cli.output import Progress, summary_table
from probe.config import load_config
from probe.daemon.memory import limit_arenas
from probe.experiments import EXPERIMENTS, get_experiment
from probe.manual_run import choose_targets, measure_by_hand
from probe.report.run_summary import render as render_verdicts
from probe.storage import open_database


@click.command()
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
    limit_arenas()  # as the daemon does: a run's workers need not each keep an arena of freed bodies
    config = load_config(config_path)
    chosen = get_experiment(experiment)
    targets = choose_targets(config, chosen, list_path, inputs)
    db = open_database(database_path(config, db_path))
    progress = Progress(sys.stderr)
    try:
        consent_gate(db, config, accept=accept, strict=True)
        outcome = measure_by_hand(chosen, targets, config, db, on_measurement=progress)
    finally:
        progress.end()
        db.close()
    for line in outcome.warnings():
        click.echo(f"warning: {line}", err=True)
    click.echo(summary_table(outcome.summary))
    if outcome.verdicts.groups:
        click.echo(render_verdicts(outcome.verdicts))
    network = outcome.summary.network
    if network is not None and not outcome.verdicts.local_fault:  # not connected: no network to name
        click.echo(network.line())
    if code := outcome.exit_code():
        sys.exit(code)
