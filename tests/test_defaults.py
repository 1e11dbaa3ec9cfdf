"""The shipped defaults: package data with one source of truth, configs/ (the readable copy)."""

from __future__ import annotations

import os
import tomllib
from fnmatch import fnmatch
from pathlib import Path

from probe.defaults import DATASETTE_METADATA, DEFAULT_CONFIG, FINGERPRINTS, SYSTEMD_UNITS, TEST_LIST, shipped
from probe.paths import SYSTEM_DATA_DIR  # imported before conftest points it elsewhere

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
PACKAGE = ROOT / "probe" / "defaults"


def configs_files() -> list[str]:
    return sorted(str(path.relative_to(CONFIGS)) for path in CONFIGS.rglob("*") if path.is_file())


def test_every_file_in_configs_is_package_data_with_the_same_bytes() -> None:
    files = configs_files()
    assert {DEFAULT_CONFIG, TEST_LIST, FINGERPRINTS, DATASETTE_METADATA} <= set(files)
    for name in files:
        assert shipped(name).read_bytes() == (CONFIGS / name).read_bytes(), name


def test_package_data_is_symlinks_into_configs_never_a_second_copy() -> None:
    entries = sorted(path.name for path in PACKAGE.iterdir() if path.name not in ("__init__.py", "__pycache__"))
    assert entries == sorted(path.name for path in CONFIGS.iterdir())
    for name in entries:
        assert os.readlink(PACKAGE / name) == f"../../configs/{name}", name


def matches(name: str, pattern: str) -> bool:
    """setuptools' glob: ``*`` stays within one directory."""
    parts, wanted = name.split("/"), pattern.split("/")
    return len(parts) == len(wanted) and all(fnmatch(part, want) for part, want in zip(parts, wanted, strict=True))


def test_package_data_globs_in_pyproject_cover_every_configs_entry() -> None:
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"][
        "probe.defaults"
    ]
    for name in configs_files():
        assert any(matches(name, pattern) for pattern in globs), f"{name} is not in the wheel"
    assert shipped(SYSTEMD_UNITS).is_dir()


def test_systemd_units_run_the_installed_probe_with_etc_and_var_lib_not_a_checkout() -> None:
    units = sorted((CONFIGS / "systemd").glob("*.service"))
    assert {"zhanaozen-probe.service", "zhanaozen-probe-run.service"} <= {unit.name for unit in units}
    for unit in units:
        lines = unit.read_text(encoding="utf-8").splitlines()
        [exec_start] = [line for line in lines if line.startswith("ExecStart=")]
        assert exec_start.startswith("ExecStart=/usr/local/bin/probe "), unit.name
        assert not any("/opt" in line or line.startswith("WorkingDirectory=") for line in lines), unit.name
        if unit.name.startswith("zhanaozen-probe"):
            # systemd's StateDirectory= is /var/lib/<name>: the data directory the system config implies.
            assert f"StateDirectory={SYSTEM_DATA_DIR.name}" in lines, unit.name
            assert f"ReadWritePaths={SYSTEM_DATA_DIR}" in lines, unit.name
