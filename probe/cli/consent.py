"""``probe consent``: the notice, whether it was accepted, and ``--accept``; the gate other commands use."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from probe import consent
from probe.cli.common import accept_option, config_option, database_path, db_option
from probe.config import Config, load_config
from probe.storage import Database, open_database


def interactive() -> bool:
    """Whether someone is at a terminal to be asked."""
    return sys.stdin.isatty()


def consent_gate(db: Database, config: Config, *, accept: bool, strict: bool) -> None:
    """Go on only with consent: ``--accept``, an earlier acceptance, or a yes at the terminal.

    Without a terminal and without consent, ``strict`` commands (the daemon, uploads) stop;
    others (``probe run`` from a script) go on with a one-line note.
    """
    current = consent.accepted(db)
    if current is not None and not consent.covers_place(current, config):
        current = None  # a place declared, or another one: what the notice says changed, so it is asked again
    if accept:
        if current is None or current.upload_url != consent.upload_target(config):
            consent.record(db, config, how="--accept")
        return
    if current is not None:
        return
    if interactive():
        click.echo(consent.notice(config), err=True)
        if click.confirm("Do you accept, and want the probe to measure?", default=False, err=True):
            consent.record(db, config, how="prompt")
            return
        raise consent.ConsentRequired("not accepted: nothing was measured")
    if strict:
        raise consent.ConsentRequired(
            "no consent is recorded for this database: read `probe consent`, then run `probe consent --accept` "
            "(or pass --accept)"
        )
    click.echo(
        "note: no consent is recorded for this database; `probe consent` says what the probe measures, "
        "stores and sends",
        err=True,
    )


@click.command(name="consent")
@config_option
@db_option
@accept_option
def consent_command(config_path: Path | None, db_path: Path | None, accept: bool) -> None:
    """Show what the probe measures, stores and sends, and the risks; --accept records your consent."""
    config = load_config(config_path)
    db = open_database(database_path(config, db_path))
    try:
        click.echo(consent.notice(config))
        acceptance = consent.record(db, config, how="--accept") if accept else consent.accepted(db)
        if acceptance is None:
            click.echo("Not accepted yet: run `probe consent --accept` to accept.")
            return
        target = acceptance.upload_url or "no collector (upload off)"
        click.echo(f"Accepted on {acceptance.accepted_at} ({acceptance.how}), notice version {acceptance.text_version}")
        click.echo(f"Uploads covered by it: {target}")
        click.echo(f"Place declared with it: {acceptance.place or 'none (the probe counts for its country only)'}")
    finally:
        db.close()
