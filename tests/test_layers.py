"""The layering is real: imports follow the contract, and the development docs and package docstring describe it."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

import probe

ROOT = Path(__file__).resolve().parent.parent
LINT = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def _layer_members() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(contract for contract in contracts if contract["id"] == "layers")["layers"]
    return [name.strip("() ") for layer in layers for name in re.split(r"[|:]", layer)]


def test_imports_follow_the_layers_contract() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LINT, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_the_development_docs_name_every_layer_member() -> None:
    page = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    development = page[page.index("\n## Layout\n") :].split("\n## ", 2)[1]
    missing = [
        name
        for name in _layer_members()
        if name != "__main__" and f"`probe/{name}/`" not in development and f"`probe/{name}.py`" not in development
    ]
    assert missing == []


def test_package_docstring_names_every_layer_member() -> None:
    words = set(re.findall(r"[a-z_0-9]+", probe.__doc__ or ""))
    assert [name for name in _layer_members() if name != "__main__" and name not in words] == []


def test_migration_steps_are_imported_by_the_migrations_alone() -> None:
    """Migrations live apart from the queries the program runs: a step's module holds nothing else to import."""
    graph = grimp.build_graph("probe", cache_dir=None)
    runners = {"probe.storage.postgres.schema": {"probe.storage.postgres.database"}}
    steps = {
        module: {"probe.storage.migrations"} for module in graph.modules if module.startswith("probe.storage.schema_")
    }
    assert len(steps) > 5
    others = {
        step: sorted(graph.find_modules_that_directly_import(step) - allowed)
        for step, allowed in {**steps, **runners}.items()
    }
    assert {step: importers for step, importers in others.items() if importers} == {}
