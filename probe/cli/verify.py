"""``probe verify DB|BUNDLE``: check hash chains and signatures; exit 1 on the first problem of a chain."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from probe.integrity.verify import verify_path


@click.command()
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
def verify(path: Path) -> None:
    """Check a database or bundle: report the first altered, missing or reordered record, or "verified"."""
    verification = verify_path(path)
    click.echo(verification.describe())
    if not verification.ok:
        sys.exit(1)
