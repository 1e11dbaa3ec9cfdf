"""``probe run``: measure a test list (or inputs given on the command line) and store every measurement."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from probe.cli.common import accept_option, config_option, database_path, db_option, registry_option
from probe.cli.consent import consent_gate
from probe.cli.output import Progress, summary_table
from probe.config import Config, load_config
from probe.daemon.memory import limit_arenas
from probe.errors import ProbeError
from probe.experiments import EXPERIMENTS, get_experiment
from probe.listcache import add_cached_lists, cached_lists
from probe.report.run_summary import group_verdicts
from probe.report.run_summary import render as render_verdicts
from probe.runner import run_targets
from probe.storage import Database, open_database
from probe.testlist import StreamedTestList, Target, TestList, load_test_list, stream_test_list


def _open(config: Config, db_path: Path | None) -> Database:
    return open_database(database_path(config, db_path))


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
        states = [context.get("network_state") for context in db.network_contexts(summary.run_id)]
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
    if summary.network is not None and not verdicts.local_fault:  # not connected: no network to name
        click.echo(summary.network.line())
    if summary.refused and not summary.total:
        raise ProbeError(f"nothing measured: every input was refused ({len(summary.refused)}, named above)")
    if summary.probe_errors:
        sys.exit(1)
