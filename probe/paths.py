"""Where things live: which config file is read and which data directory is used, and why.

The config file is the first of:

    1. ``--config FILE``
    2. ``$PROBE_CONFIG``
    3. the user's config file, ``~/.config/zhanaozen-probe/probe.toml`` (platformdirs; ``$XDG_CONFIG_HOME``)
    4. the system's, ``/etc/zhanaozen-probe/probe.toml``
    5. the packaged default (``probe.defaults``, the same text as ``configs/default.toml``)

The data directory (database, key, exports) is the first of:

    1. ``[probe] data_dir`` in that config (relative to the config file's directory)
    2. ``$STATE_DIRECTORY``, which systemd sets for a unit with ``StateDirectory=`` (/var/lib/zhanaozen-probe)
    3. ``/var/lib/zhanaozen-probe`` when the system config is the one in use
    4. ``measurements/`` of a source checkout, when the probe runs from one (an editable install)
    5. the user's data directory, ``~/.local/share/zhanaozen-probe`` (platformdirs; ``$XDG_DATA_HOME``)

Nothing is looked up relative to the current directory, so the probe behaves the same from anywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from probe import SOFTWARE_NAME
from probe.defaults import DEFAULT_CONFIG, shipped

CONFIG_FILENAME = "probe.toml"
CONFIG_ENV = "PROBE_CONFIG"
STATE_DIRECTORY_ENV = "STATE_DIRECTORY"
SYSTEM_CONFIG = Path("/etc") / SOFTWARE_NAME / CONFIG_FILENAME
SYSTEM_DATA_DIR = Path("/var/lib") / SOFTWARE_NAME
CHECKOUT_DATA = "measurements"


@dataclass(frozen=True)
class Located:
    """A path in use and why it was chosen (what ``probe paths`` prints)."""

    path: Path
    why: str


def user_config_file() -> Path:
    return platformdirs.user_config_path(SOFTWARE_NAME) / CONFIG_FILENAME


def user_data_dir() -> Path:
    return platformdirs.user_data_path(SOFTWARE_NAME)


def checkout_root() -> Path | None:
    """The source checkout the probe runs from (an editable install), or None for an installed package.

    A checkout is the directory above the ``probe`` package when it holds pyproject.toml and ``measurements/``;
    an installed package sits in site-packages, which holds neither.
    """
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / CHECKOUT_DATA).is_dir():
        return root
    return None


def _is_file(path: Path) -> bool:
    # A service with ProtectHome= cannot even look at a home directory: that is "no user config".
    try:
        return path.is_file()
    except OSError:
        return False


def find_config(explicit: Path | None = None) -> Located:
    """The config file to read, by the search order above."""
    if explicit is not None:
        return Located(explicit, "--config")
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return Located(Path(from_env).expanduser(), f"${CONFIG_ENV}")
    user = user_config_file()
    if _is_file(user):
        return Located(user, "the user's config file")
    if _is_file(SYSTEM_CONFIG):
        return Located(SYSTEM_CONFIG, "the system's config file")
    return Located(
        shipped(DEFAULT_CONFIG),
        f"the packaged default: no ${CONFIG_ENV}, no {user} (`probe init` writes one), no {SYSTEM_CONFIG}",
    )


def default_data_dir(config_file: Path | None = None) -> Located:
    """The data directory when the config does not set ``data_dir``; ``config_file`` is the config in use."""
    state = os.environ.get(STATE_DIRECTORY_ENV)
    if state:
        # systemd gives a colon-separated list when a unit has several state directories; ours is the first.
        return Located(Path(state.split(":")[0]), f"systemd's StateDirectory (${STATE_DIRECTORY_ENV})")
    if config_file is not None and config_file == SYSTEM_CONFIG:
        return Located(SYSTEM_DATA_DIR, f"the system's data directory, as the config in use is {SYSTEM_CONFIG}")
    root = checkout_root()
    if root is not None:
        return Located(root / CHECKOUT_DATA, f"the {CHECKOUT_DATA}/ directory of the source checkout {root}")
    return Located(user_data_dir(), "the user's data directory")
