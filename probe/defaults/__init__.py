"""What the probe ships: default config, KZ-2011 list, fingerprints, network presets, Datasette metadata, systemd units.

They are package data, read through ``importlib.resources``, so an installed wheel carries them and the probe
works from any directory. In the repository each entry here is a symlink into ``configs/``, the readable copy
and the one source of truth; building the sdist or the wheel copies the files' content
(``[tool.setuptools.package-data]`` in pyproject.toml), and the wheel test checks that it did.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from probe.errors import ConfigError

DEFAULT_CONFIG = "default.toml"
TEST_LIST = "lists/kz-2011.csv"
FINGERPRINTS = "fingerprints/zhanaozen.csv"
NETWORK_PRESETS = "networks"
DATASETTE_METADATA = "datasette/metadata.json"
SYSTEMD_UNITS = "systemd"


def shipped(name: str) -> Path:
    """The file (or directory) ``name`` among the shipped defaults, as a path on disk.

    The probe is installed as files (a wheel, an editable install), never run from a zip: the test list and
    fingerprints are opened by path, like a user's own.
    """
    resource = resources.files(__name__).joinpath(name)
    if not isinstance(resource, Path):
        raise ConfigError(f"the shipped {name} is not a file on disk: install the probe from its wheel")
    return resource


def shipped_text(name: str) -> str:
    """The text of the shipped file ``name``."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
