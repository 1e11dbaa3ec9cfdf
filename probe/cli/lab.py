"""``probe lab``: bring the censorship lab up, switch scenarios, run commands inside it, take it down.

    sudo probe lab up                                   # prints the probe config to use
    sudo probe lab scenario dns_nxdomain twitter.com    # any time, also while a probe runs
    sudo probe lab exec -- probe run --accept --config CONFIG --url http://twitter.com/
    sudo probe lab down

The lab itself is ``probe.lab`` (imported only when a ``lab`` command runs, so that the
probe's own commands start as fast as before).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from probe.lab.state import STATE_ROOT

if TYPE_CHECKING:
    from probe.lab.lab import Role
    from probe.lab.state import LabState

ROOT_ENV = "PROBE_LAB_ROOT"


def _need_root() -> None:
    import os

    from probe.lab.errors import NotRootError

    if os.geteuid() != 0:
        raise NotRootError("lab: not running as root")


def _current(root: Path) -> LabState:
    from probe.lab.errors import LabNotUpError
    from probe.lab.state import current_lab
    from probe.lab.topology import exists

    state = current_lab(root)
    if state is None or not exists(state.namespaces.probe):
        raise LabNotUpError("lab: not up (start it with: probe lab up)")
    return state


@click.group()
@click.option(
    "--root",
    "lab_root",
    # Not checked for access here: it is root's, and `scenario --list` works without root.
    type=click.Path(path_type=Path, file_okay=False, readable=False),
    envvar=ROOT_ENV,
    default=STATE_ROOT,
    show_default=True,
    help="Where labs keep their state.",
)
@click.pass_context
def lab(ctx: click.Context, lab_root: Path) -> None:
    """A censored network on this machine (needs root): namespaces, servers, censorship scenarios."""
    ctx.obj = lab_root


@lab.command()
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("lab-measurements"),
    show_default=True,
    help="Where the lab's probe config stores measurements (kept after `down`).",
)
@click.pass_obj
def up(root: Path, data_dir: Path) -> None:
    """Build the lab and start its servers; it runs until `probe lab down`."""
    from probe.lab.errors import LabError
    from probe.lab.lab import Lab
    from probe.lab.state import current_lab, set_current
    from probe.lab.topology import exists

    _need_root()
    running = current_lab(root)
    if running is not None and exists(running.namespaces.probe):
        raise LabError(f"lab: already up ({running.lab_id}); take it down first: probe lab down")
    made = Lab(root=root, detached=True).up()
    state = made.up_state
    config = made.probe_config(state.directory, data_dir=data_dir.resolve())
    state.config = str(config)
    state.save()
    set_current(root, state.lab_id)
    ns = state.namespaces
    click.echo(f"lab {state.lab_id} is up (scenario: clean)")
    click.echo(f"  namespaces: {ns.probe} (volunteer), {ns.isp} (ISP, censor), {ns.net} (internet), {ns.helper}")
    click.echo(f"  probe config: {config}")
    click.echo(f"  lab CA: {made.ca_path}")
    click.echo(f"  measure: probe lab exec -- probe run --accept --config {config} --url http://twitter.com/")
    click.echo("  censor: probe lab scenario --list")


@lab.command()
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Every lab under the root, and any lab namespaces that nothing runs in (left by killed runs).",
)
@click.pass_obj
def down(root: Path, everything: bool) -> None:
    """Stop the lab's servers and remove its namespaces and files."""
    from probe.lab import topology
    from probe.lab.errors import LabError
    from probe.lab.lab import remove
    from probe.lab.state import all_labs, set_current

    _need_root()
    states = all_labs(root) if everything else [_current(root)]
    problems = [problem for state in states for problem in remove(state)]
    orphans = topology.orphans() if everything else []
    problems += [problem for namespaces in orphans for problem in topology.destroy(namespaces)]
    set_current(root, None)
    if problems:
        raise LabError(f"lab: could not remove everything: {problems[0]}")
    if everything:
        click.echo(f"removed {len(states)} lab(s) and {len(orphans)} orphaned lab(s)")
    else:
        click.echo(f"lab {states[0].lab_id} removed")


@lab.command()
@click.argument("name", required=False)
@click.argument("sites", nargs=-1)
@click.option("--list", "show", is_flag=True, help="List the scenarios.")
@click.pass_obj
def scenario(root: Path, name: str | None, sites: tuple[str, ...], show: bool) -> None:
    """Reset the censor and apply scenario NAME to SITES (its default sites if none)."""
    from probe.lab.lab import Lab
    from probe.lab.scenarios import SCENARIOS

    if show or name is None:
        for item in SCENARIOS.values():
            default = f" [{' '.join(item.default_sites)}]" if item.default_sites else ""
            click.echo(f"{item.name:16} {item.summary}{default}")
        return
    _need_root()
    chosen = Lab.attach(_current(root)).scenario(name, sites)
    on = f" on {', '.join(site.name for site in chosen)}" if chosen else ""
    click.echo(f"scenario {name}{on}")


@lab.command(name="exec", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option(
    "--in",
    "role",
    type=click.Choice(["probe", "isp", "net", "helper"]),
    default="probe",
    show_default=True,
    help="The namespace to run in.",
)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_obj
def exec_command(root: Path, role: str, command: tuple[str, ...]) -> None:
    """Run COMMAND inside the lab (the volunteer's namespace by default); exit with its status."""
    from probe.lab.lab import Lab

    _need_root()
    made = Lab.attach(_current(root))
    args = list(command)
    if args[0] == "probe" or shutil.which(args[0]) is None:
        # The probe of this installation, even when its virtualenv is not on PATH (sudo).
        beside = Path(sys.executable).parent / args[0]
        if beside.exists():
            args[0] = str(beside)
    result = made.exec(args, role=cast("Role", role))
    sys.exit(result.returncode)


@lab.command()
@click.pass_obj
def status(root: Path) -> None:
    """Show the lab: its scenario, namespaces and servers."""
    from probe.lab.state import all_labs, current_lab
    from probe.lab.topology import exists

    _need_root()
    current = current_lab(root)
    labs = all_labs(root)
    if not labs:
        click.echo("no lab is up")
        return
    for state in labs:
        mark = "*" if current is not None and current.lab_id == state.lab_id else " "
        kind = "probe lab up" if state.owner_pid is None else f"test run, pid {state.owner_pid}"
        up_now = "up" if exists(state.namespaces.probe) else "namespaces gone"
        sites = f" on {', '.join(state.sites)}" if state.sites else ""
        click.echo(f"{mark} {state.lab_id}  {up_now}  scenario {state.scenario}{sites}  ({kind})")
        if state.config:
            click.echo(f"    probe config: {state.config}")
