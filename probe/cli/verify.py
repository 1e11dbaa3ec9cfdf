"""``probe verify DB|BUNDLE|URI``: check hash chains and signatures; exit 1 on the first problem of a chain."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from probe.cli.common import DATABASE
from probe.errors import ProbeError
from probe.integrity.verify import Verification, verify_connection
from probe.upload.bundle import verify_path


def _verify_postgres(url: str) -> Verification:
    from probe.storage.postgres.database import open_postgres

    db = open_postgres(url)
    try:
        return verify_connection(db.conn, db.label, sqlite=False)
    finally:
        db.close()


@click.command()
@click.argument("path", type=DATABASE)
def verify(path: Path | str) -> None:
    """Check a database, a bundle, or a collector's PostgreSQL database (a postgresql:// URI):
    report the first altered, missing or reordered record, or "verified"."""
    if isinstance(path, str):
        verification = _verify_postgres(path)
    elif not path.is_file():
        raise ProbeError(f"no database or bundle at {path}")
    else:
        verification = verify_path(path)
    click.echo(verification.describe())
    if not verification.ok:
        sys.exit(1)
