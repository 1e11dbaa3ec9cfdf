"""The CLI reference (``docs/cli.md``) is the commands' own help: every command has its section, and the page is
what cog makes from the help now (``.venv/bin/cog -r docs/cli.md`` after changing a command)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from probe.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "cli.md"


def command_paths(command: click.Command, path: tuple[str, ...] = ("probe",)) -> list[str]:
    """Every visible command and group under ``command``, as typed: ``probe collector serve``."""
    found = [] if command.hidden else [" ".join(path)]
    if isinstance(command, click.Group):
        ctx = click.Context(command, info_name=path[-1])
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None:
                found += command_paths(sub, (*path, name))
    return found


def documented(text: str) -> set[str]:
    return set(re.findall(r"^#{2,4} (probe(?: [a-z-]+)*)$", text, re.M))


def stale(page: Path) -> bool:
    """Whether cog would change ``page``: its generated part no longer matches the commands' help. In a process of
    its own, so that the help is rendered as a user's shell sees it (the tests' fixtures move the system config)."""
    done = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", str(page)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert "No module named cogapp" not in done.stderr, "cog is missing: pip install -e '.[dev]'"
    return done.returncode != 0


def test_every_command_has_its_section_in_the_reference() -> None:
    assert sorted(set(command_paths(cli)) - documented(PAGE.read_text(encoding="utf-8"))) == []


def test_the_reference_is_the_commands_help_as_it_is_now() -> None:
    assert not stale(PAGE), "docs/cli.md is stale: run .venv/bin/cog -r docs/cli.md"


def test_a_changed_help_makes_the_reference_stale(tmp_path: Path) -> None:
    copy = tmp_path / "cli.md"
    text = PAGE.read_text(encoding="utf-8")
    copy.write_text(text.replace("  --help ", "  --hlep ", 1), encoding="utf-8")
    assert stale(copy)


def test_a_new_command_is_undocumented(monkeypatch: pytest.MonkeyPatch) -> None:
    @click.command("frobnicate")
    def frobnicate() -> None:
        """A command nobody documented."""

    monkeypatch.setitem(cli.commands, "frobnicate", frobnicate)
    assert "probe frobnicate" in command_paths(cli)
    assert "probe frobnicate" not in documented(PAGE.read_text(encoding="utf-8"))
