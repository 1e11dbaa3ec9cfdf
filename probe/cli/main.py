"""``probe``: run experiments, list and show results, export them.

Every command opens what it needs and makes one library call; the probe's own errors
(``ProbeError``) become one line on stderr and exit status 2, never a traceback.

A command's module is imported only when that command runs (``COMMANDS``), so that ``probe --help`` or
``probe results`` does not load the collector, PostgreSQL, the lab or packet capture: on a Raspberry Pi
importing everything took most of a second. ``tests/test_cli.py`` holds each summary below to its command's
docstring, and ``tests/test_lazy_imports.py`` holds what importing this module may load.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import Any

import click

from probe import __version__
from probe.errors import ProbeError


@dataclass(frozen=True)
class LazyCommand:
    """Where a command is defined (``module:attribute``) and its one-line summary for ``probe --help``."""

    target: str
    summary: str

    def load(self) -> click.Command:
        module, _, attribute = self.target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command), self.target
        return command


COMMANDS: dict[str, LazyCommand] = {
    "bundle": LazyCommand(
        "probe.cli.upload:bundle",
        "Write signed batches to a file, for a collector to import (`probe collector import`) when nothing gets out.",
    ),
    "collector": LazyCommand(
        "probe.cli.collector:collector", "A collector: receives signed batches from probes into one database."
    ),
    "consent": LazyCommand(
        "probe.cli.consent:consent_command",
        "Show what the probe measures, stores and sends, and the risks; --accept records your consent.",
    ),
    "daemon": LazyCommand(
        "probe.cli.daemon:daemon",
        "Run the experiment groups of [schedule] until SIGTERM or Ctrl-C, uploading if [upload] says so.",
    ),
    "export": LazyCommand(
        "probe.cli.export:export_command",
        "Export measurements in one of the formats below (--format); stop: a collector's shutdown events.",
    ),
    "helper": LazyCommand(
        "probe.cli.helper:helper", "The test helper: the control vantage point for web measurements."
    ),
    "identity": LazyCommand(
        "probe.cli.daemon:identity",
        "Print the probe's id and public key (made on first use), for a collector's operator to register.",
    ),
    "init": LazyCommand(
        "probe.cli.paths:init_command",
        "Write a commented config to your config file (never overwriting one) and say where data will go.",
    ),
    "lab": LazyCommand(
        "probe.cli.lab:lab",
        "A censored network on this machine (needs root): namespaces, servers, censorship scenarios.",
    ),
    "lists": LazyCommand("probe.cli.lists:lists", "Test lists kept current (Citizen Lab's CSV lists)."),
    "outages": LazyCommand(
        "probe.cli.outages:outages",
        "List outage windows: what was cut (a target, or the whole network), how, and when, with bounds.",
    ),
    "paths": LazyCommand(
        "probe.cli.paths:paths_command",
        "Which config and data directory are in use and why, and where the shipped files are.",
    ),
    "report": LazyCommand(
        "probe.cli.report:report",
        "Write an HTML report: timelines, outage windows, the method in plain words, probes, verification.",
    ),
    "results": LazyCommand("probe.cli.results:results", "List measurements with the step that failed and how."),
    "run": LazyCommand("probe.cli.run:run", "Measure a test list (or --url inputs) and store every measurement."),
    "show": LazyCommand(
        "probe.cli.results:show", "Print one measurement (OONI format plus the probe's own fields) as JSON."
    ),
    "trace": LazyCommand(
        "probe.cli.trace:trace_command",
        "TTL-limited test and control requests: name the censoring hop (CenTrace's method).",
    ),
    "upload": LazyCommand(
        "probe.cli.upload:upload",
        "Send every measurement the collector has not acknowledged, now (the daemon does this by itself).",
    ),
    "verdict": LazyCommand("probe.cli.verdict:verdict", "Judge measurements: verdict, blocking method and reason."),
    "verify": LazyCommand(
        "probe.cli.verify:verify",
        (
            "Check a database, a bundle, or a collector's PostgreSQL database (a postgresql:// URI): "
            'report the first altered, missing or reordered record, or "verified".'
        ),
    ),
}


class LazyGroup(click.Group):
    """A group whose commands are imported by name when they are looked up, not when the group is."""

    def __init__(self, *args: Any, lazy: dict[str, LazyCommand], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(self.lazy[cmd_name].load(), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the summaries, without importing a single command."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            # A command not loaded yet is shortened as click shortens a loaded one's help.
            command = self.commands.get(name) or click.Command(name, help=self.lazy[name].summary)
            rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, lazy=COMMANDS)
@click.version_option(__version__, prog_name="probe")
def cli() -> None:
    """A network censorship measurement probe: DNS, TCP, TLS and HTTP reachability, stored in SQLite."""


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
