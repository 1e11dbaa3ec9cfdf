"""``probe daemon`` (unattended rounds) and ``probe identity`` (the probe's id and public key)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import click

from probe.cli.common import accept_option, config_option, database_path, db_option, log_line
from probe.cli.consent import consent_gate
from probe.config import load_config
from probe.daemon.service import Daemon
from probe.identity import key_path_for, load_or_create
from probe.integrity.heads import register_self
from probe.storage import open_database


@click.command()
@config_option
@db_option
@accept_option
@click.option("--rounds", type=click.IntRange(min=1), help="Stop after this many rounds (default: run until stopped).")
def daemon(config_path: Path | None, db_path: Path | None, accept: bool, rounds: int | None) -> None:
    """Run the experiment groups of [schedule] until SIGTERM or Ctrl-C, uploading if [upload] says so."""
    config = load_config(config_path)
    path = database_path(config, db_path)
    db = open_database(path)
    try:
        consent_gate(db, config, accept=accept, strict=True)
    finally:
        db.close()
    stop = threading.Event()

    def on_signal(number: int, frame: FrameType | None) -> None:
        log_line(f"{signal.Signals(number).name}: finishing the round in flight, then stopping")
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    Daemon(config, path, stop=stop, log=log_line, max_rounds=rounds).run()


@click.command()
@config_option
@db_option
def identity(config_path: Path | None, db_path: Path | None) -> None:
    """Print the probe's id and public key (made on first use), for a collector's operator to register."""
    config = load_config(config_path)
    path = database_path(config, db_path)
    me = load_or_create(key_path_for(path))
    db = open_database(path)
    try:
        register_self(db, me)
    finally:
        db.close()
    click.echo(f"probe id:   {me.probe_id}")
    click.echo(f"public key: {me.public_key_b64}")
    click.echo(f"key file:   {key_path_for(path)} (keep it; never share it)")
