"""``probe collector``: serve, import bundles, register or allow probes, list them."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from probe.cli.common import DATABASE, F, config_option, log_line
from probe.cli.output import table
from probe.collector import registry, serving
from probe.collector.importer import import_bundle
from probe.collector.service import Limits
from probe.collector.workers import STOP_TIMEOUT
from probe.config import load_config
from probe.errors import ProbeError
from probe.identity import load_or_create
from probe.storage.store import is_postgres, open_store

DEFAULT_DB = Path("collector.db")
DEFAULT_PORT = 8471
MAX_WORKERS = 64


def collector_db_option(func: F) -> F:
    return click.option(
        "--db",
        "db_path",
        type=DATABASE,
        default=DEFAULT_DB,
        show_default=True,
        help="The collector's database: a SQLite file, or a postgresql:// URI (libpq).",
    )(func)


@click.group()
def collector() -> None:
    """A collector: receives signed batches from probes into one database."""


@collector.command()
@config_option
@collector_db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option("--max-batch-bytes", default=Limits.max_body_bytes, show_default=True, type=click.IntRange(1024))
@click.option(
    "--read-timeout",
    default=Limits.read_timeout,
    show_default=True,
    type=click.FloatRange(0.5, 3600),
    help="Seconds a client may take to send a whole request, head and body.",
)
@click.option(
    "--min-rate",
    default=Limits.min_rate,
    show_default=True,
    type=click.FloatRange(0),
    help="Bytes a second a request must keep up with after --rate-grace; a slower one is cut with 408 and frees "
    "its probe's upload slot (0: no minimum).",
)
@click.option(
    "--rate-grace",
    default=Limits.rate_grace,
    show_default=True,
    type=click.FloatRange(0.1, 3600),
    help="Seconds a request has before --min-rate applies.",
)
@click.option(
    "--alerts/--no-alerts",
    "send_alerts",
    default=True,
    show_default=True,
    help="Send [collector.alerts] from this process (--no-alerts: `probe collector alerts` sends them).",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, MAX_WORKERS),
    help="Processes checking and storing batches, each on its own core and connection (PostgreSQL only: "
    "SQLite has one writer).",
)
@click.option(
    "--stop-timeout",
    default=STOP_TIMEOUT,
    show_default=True,
    type=click.FloatRange(0.5, 3600),
    help="With --workers: seconds the workers have to finish their batches after SIGTERM, then they are killed.",
)
def serve(
    config_path: Path | None,
    db_path: Path | str,
    host: str,
    port: int,
    max_batch_bytes: int,
    read_timeout: float,
    min_rate: float,
    rate_grace: float,
    send_alerts: bool,
    workers: int,
    stop_timeout: float,
) -> None:
    """Accept batches on POST /v1/batches until SIGTERM or Ctrl-C (put TLS in front for the internet);
    with [collector.alerts] webhooks, alert them when outage windows open or close."""
    limits = Limits(max_body_bytes=max_batch_bytes, read_timeout=read_timeout, min_rate=min_rate, rate_grace=rate_grace)
    serving.serve(
        load_config(config_path),
        db_path,
        host,
        port,
        limits,
        log_line,
        alerts=send_alerts,
        workers=workers,
        stop_timeout=stop_timeout,
    )


@collector.command()
@config_option
@collector_db_option
def alerts(config_path: Path | None, db_path: Path | str) -> None:
    """Send [collector.alerts] in a process of its own, until SIGTERM or Ctrl-C (instead of inside `serve`:
    then its analysis never takes CPU from ingest)."""
    serving.send_alerts(load_config(config_path), db_path, log_line)


@collector.command()
@config_option
@collector_db_option
def key(config_path: Path | None, db_path: Path | str) -> None:
    """Print the public key that signs this collector's alerts (made on first use): give it to receivers."""
    path, _ = serving.alert_paths(load_config(config_path), db_path)
    identity = load_or_create(path)
    click.echo(f"key:        {path}\nid:         {identity.probe_id}\npublic key: {identity.public_key_b64}")


@collector.command(name="import")
@collector_db_option
@click.argument("bundle", type=click.Path(path_type=Path, dir_okay=False, exists=True))
def import_command(db_path: Path | str, bundle: Path) -> None:
    """Import a bundle written by `probe bundle`; what is already there is not stored twice."""
    db = open_store(db_path)
    try:
        report = import_bundle(db, bundle)
    finally:
        db.close()
    click.echo(report.describe())
    if report.refused:
        sys.exit(1)


@collector.command()
@collector_db_option
@click.argument("public_key")
@click.option("--name", help="A name for the probe (a place, a volunteer's alias).")
def register(db_path: Path | str, public_key: str, name: str | None) -> None:
    """Accept the probe with this public key (what `probe identity` prints)."""
    db = open_store(db_path)
    try:
        click.echo(f"registered probe {registry.register(db, public_key, name)}")
    finally:
        db.close()


@collector.command()
@collector_db_option
@click.argument("probe_id")
@click.option("--name", help="A name for the probe.")
def allow(db_path: Path | str, probe_id: str, name: str | None) -> None:
    """Accept the probe with this id; its key comes with its first batch and must match the id."""
    db = open_store(db_path)
    try:
        click.echo(f"allowed probe {registry.allow(db, probe_id, name)}")
    finally:
        db.close()


@collector.command(name="probes")
@collector_db_option
def probes_command(db_path: Path | str) -> None:
    """List the probes this collector accepts, and what each has sent."""
    db = open_store(db_path)
    try:
        rows = [
            (
                row["id"],
                row["name"],
                row["added_how"],
                row["last_seen"],
                "" if row["upload_every"] is None else f"{row['upload_every']:g} s",
                row["batches"],
                row["measurements"],
                row["quarantined"] or 0,
            )
            for row in registry.probes(db)
            if not row["is_self"]
        ]
    finally:
        db.close()
    header = ("id", "name", "added", "last_seen", "uploads_every", "batches", "measurements", "quarantined")
    click.echo(table(header, rows))


@collector.command()
@click.option(
    "--from",
    "source",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    required=True,
    help="The collector's SQLite database (only read).",
)
@click.option("--to", "target", required=True, help="The PostgreSQL database: a postgresql:// URI (libpq).")
def migrate(source: Path, target: str) -> None:
    """Move a collector from SQLite to PostgreSQL; both are verified after, and must agree."""
    if not is_postgres(target):
        raise ProbeError(f"--to is a postgresql:// URI, got {target!r}")
    from probe.collector.migrate import move

    report = move(source, target)
    click.echo(report.describe())
    if not report.ok:
        sys.exit(1)
