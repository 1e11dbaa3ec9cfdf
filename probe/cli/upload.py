"""``probe upload`` (send what the collector has not acknowledged; ``--status``, ``--retry-quarantined``) and
``probe bundle`` (write it to a file)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from probe import consent
from probe.cli.common import config_option, database_path, db_option, parse_since
from probe.config import load_config
from probe.errors import ProbeError
from probe.identity import key_path_for, load_or_create
from probe.integrity.heads import register_self
from probe.storage import open_database
from probe.upload.bundle import write_bundle
from probe.upload.status import queue_status
from probe.upload.uploader import collector_key, make_session, upload_pending
from probe.upload.uploader import retry_quarantined as retry_quarantined_items


@click.command()
@config_option
@db_option
@click.option("--status", "show_status", is_flag=True, help="Say where the queue stands; send nothing.")
@click.option("--retry-quarantined", is_flag=True, help="Send again what the collector refused for good (after a fix).")
def upload(config_path: Path | None, db_path: Path | None, show_status: bool, retry_quarantined: bool) -> None:
    """Send every measurement the collector has not acknowledged, now (the daemon does this by itself)."""
    config = load_config(config_path)
    settings = config.upload
    if not settings.enabled or settings.url is None:
        raise ProbeError("upload is off: set [upload] enabled = true and url in the config")
    path = database_path(config, db_path)
    db = open_database(path)
    try:
        if show_status:
            click.echo(queue_status(db, collector_key(settings.url)).describe())
            return
        if not consent.covers_upload(consent.accepted(db), config):
            raise consent.ConsentRequired(
                f"the recorded consent does not cover sending to {settings.public_url}: run `probe consent --accept`"
            )
        me = load_or_create(key_path_for(path))
        register_self(db, me)
        send = retry_quarantined_items if retry_quarantined else upload_pending
        with make_session(settings) as session:
            report = send(db, me, settings, session)
    finally:
        db.close()
    click.echo(report.describe())
    if report.error:
        sys.exit(1)


@click.command()
@config_option
@db_option
@click.option("--since", help="First day or time (UTC) to include, e.g. 2026-11-01 (default: everything).")
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path, dir_okay=False), help="Bundle file.")
def bundle(config_path: Path | None, db_path: Path | None, since: str | None, out_path: Path) -> None:
    """Write signed batches to a file, for a collector to import (`probe collector import`) when nothing gets out."""
    config = load_config(config_path)
    path = database_path(config, db_path)
    db = open_database(path)
    try:
        me = load_or_create(key_path_for(path))
        register_self(db, me)
        report = write_bundle(
            db,
            me,
            out_path,
            since=parse_since(since),
            batch_size=config.upload.batch_size,
            max_bytes=config.upload.max_batch_bytes,
        )
    finally:
        db.close()
    click.echo(report.describe())
