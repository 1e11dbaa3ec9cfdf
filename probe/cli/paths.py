"""``probe init`` writes the user's config; ``probe paths`` says which config and data directory are in use, and why."""

from __future__ import annotations

import os
from pathlib import Path

import click

from probe import __version__, paths
from probe.cli.common import config_option, database_path, db_option
from probe.config import config_in_use
from probe.defaults import DATASETTE_METADATA, DEFAULT_CONFIG, NETWORK_PRESETS, SYSTEMD_UNITS, shipped, shipped_text
from probe.errors import ConfigError

# What `probe paths WHAT` prints alone, for scripts: `datasette "$(probe paths db)" -m "$(probe paths datasette)"`.
WHATS = ("config", "data", "db", "list", "fingerprints", "networks", "datasette", "systemd")


def _header(target: Path) -> str:
    return (
        f"# Written by `probe init` (zhanaozen-probe {__version__}) from the packaged default: every key is there,\n"
        "# with its default value or commented out. Change what you need; `probe paths` shows what is in use.\n"
        + (
            "# The system service reads this file; its data goes to /var/lib/zhanaozen-probe.\n"
            if target == paths.SYSTEM_CONFIG
            else ""
        )
        + "\n"
    )


def write_config(target: Path) -> bool:
    """Write the packaged default, commented, to ``target``; False (and nothing written) if a file is there."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: never overwrite a config, not even one that appears meanwhile. It may come to hold tokens
        # and passwords, so only its owner reads a user's; the system's is read by the service's user.
        mode = 0o644 if target == paths.SYSTEM_CONFIG else 0o600
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return False
    except OSError as exc:
        raise ConfigError(f"{target}: cannot write config: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(_header(target) + shipped_text(DEFAULT_CONFIG))
    return True


@click.command(name="init")
@click.option(
    "--system", is_flag=True, help=f"Write the system's config, {paths.SYSTEM_CONFIG} (for the systemd units; root)."
)
def init_command(system: bool) -> None:
    """Write a commented config to your config file (never overwriting one) and say where data will go."""
    target = paths.SYSTEM_CONFIG if system else paths.user_config_file()
    if write_config(target):
        click.echo(f"config written to {target}: edit it to change what the probe measures")
    else:
        click.echo(f"{target} exists: left as it is")
    in_use = config_in_use(target)
    click.echo(f"data will go to {in_use.data_dir.path} ({in_use.data_dir.why})")


@click.command(name="paths")
@config_option
@db_option
@click.argument("what", required=False, type=click.Choice(WHATS))
def paths_command(config_path: Path | None, db_path: Path | None, what: str | None) -> None:
    """Which config and data directory are in use and why, and where the shipped files are.

    With WHAT, print that path alone (fingerprints: one a line).
    """
    in_use = config_in_use(config_path)
    config = in_use.config
    values: dict[str, list[Path]] = {
        "config": [in_use.source.path],
        "data": [in_use.data_dir.path],
        "db": [database_path(config, db_path)],
        "list": [config.probe.test_list] if config.probe.test_list else [],
        "fingerprints": list(config.fingerprints.files),
        "networks": [shipped(NETWORK_PRESETS)],
        "datasette": [shipped(DATASETTE_METADATA)],
        "systemd": [shipped(SYSTEMD_UNITS)],
    }
    if what is not None:
        for path in values[what]:
            click.echo(str(path))
        return
    why = {
        "config": in_use.source.why,
        "data": in_use.data_dir.why,
        "db": "--db" if db_path else "in the data directory",
    }
    labels = {
        "config": "config",
        "data": "data directory",
        "db": "database",
        "list": "test list",
        "fingerprints": "fingerprints",
        "networks": "network presets",
        "datasette": "datasette metadata",
        "systemd": "systemd units",
    }
    for key in WHATS:
        shown = ", ".join(str(path) for path in values[key]) or "(none)"
        click.echo(f"{labels[key] + ':':<20}{shown}" + (f"\n{'':<20}({why[key]})" if key in why else ""))
