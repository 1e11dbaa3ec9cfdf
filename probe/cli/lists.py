"""``probe lists update``: fetch Citizen Lab's global and country test lists into <data_dir>/lists/."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from probe.cli.common import config_option
from probe.config import load_config
from probe.listcache import update

DEFAULT_COUNTRY = "KZ"


@click.group()
def lists() -> None:
    """Test lists kept current (Citizen Lab's CSV lists)."""


@lists.command("update")
@config_option
@click.option("--cc", "country", help=f"Country list to fetch (default: [probe] probe_cc, or {DEFAULT_COUNTRY}).")
@click.option(
    "--allow-shrink",
    is_flag=True,
    help="Take a list that lost more than a third of its URLs since the last good copy (kept otherwise).",
)
def update_command(config_path: Path | None, country: str | None, allow_shrink: bool) -> None:
    """Fetch the global list and a country's; a failed, malformed, cut or suddenly shrunk download keeps the last
    good copy."""
    config = load_config(config_path)
    if country is None:
        known = config.probe.probe_cc
        country = known if len(known) == 2 and known != "ZZ" else DEFAULT_COUNTRY
    if len(country) != 2 or not country.isalpha():
        raise click.BadParameter("a two-letter country code, e.g. KZ", param_hint="--cc")
    results = update(config, country, allow_shrink=allow_shrink)
    for result in results:
        click.echo(str(result), err=not result.updated)
    if not all(result.updated for result in results):
        sys.exit(1)
