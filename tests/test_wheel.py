"""The probe as a volunteer installs it: a wheel in a fresh virtual environment, run from an empty directory.

The wheel is built as a release would be (``python -m build``: the sdist, then the wheel from it), or taken
from ``$PROBE_WHEEL`` when CI has just built it (.ci/run). Nothing of the checkout is on the installed probe's
path: its config, list and fingerprints must come from the wheel, its data must go to the user's directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from support.servers import http_server, page

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
BUILD_SECONDS = 600

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2 * BUILD_SECONDS)]

Probe = Callable[..., subprocess.CompletedProcess[str]]

# The volunteer's own config for the measuring commands: the shipped list and fingerprints by their names
# (found in the wheel), and no test helper or network controls, so that nothing leaves this machine (the
# packaged default asks OONI's helpers and controls abroad).
OFFLINE_CONFIG = """
[probe]
test_list = "lists/kz-2011.csv"
[fingerprints]
files = ["fingerprints/zhanaozen.csv"]
[network]
gateway = ""
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("PROBE_WHEEL")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=BUILD_SECONDS,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    [found] = out.glob("*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    place = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(place)], check=True, timeout=120)
    installed = subprocess.run(
        [str(place / "bin" / "pip"), "install", "-q", str(wheel)], capture_output=True, text=True, timeout=BUILD_SECONDS
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    return place


@pytest.fixture
def probe(venv: Path, tmp_path: Path) -> Probe:
    """``probe`` from the venv, in an empty directory, with an empty home and nothing else in its environment."""
    (tmp_path / "home").mkdir()
    (tmp_path / "empty").mkdir()
    env = {"HOME": str(tmp_path / "home"), "PATH": f"{venv / 'bin'}:/usr/bin:/bin", "LANG": "C.UTF-8"}

    def run(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(venv / "bin" / "probe"), *args],
            cwd=tmp_path / "empty",
            env=env | ({"PROBE_CONFIG": str(config)} if config else {}),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"probe {' '.join(args)}: {done.stdout}{done.stderr}"
        return done

    return run


def test_wheel_carries_every_shipped_default_with_the_bytes_of_configs(wheel: Path) -> None:
    prefix = "probe/defaults/"
    with zipfile.ZipFile(wheel) as archive:
        shipped = {
            name[len(prefix) :]: archive.read(name)
            for name in archive.namelist()
            if name.startswith(prefix) and not name.endswith(".py")
        }
    expected = {str(path.relative_to(CONFIGS)): path.read_bytes() for path in CONFIGS.rglob("*") if path.is_file()}
    assert shipped == expected


def test_wheel_carries_the_reports_maps_with_their_attribution(wheel: Path) -> None:
    maps = ROOT / "probe" / "report" / "maps"
    with zipfile.ZipFile(wheel) as archive:
        for path in maps.iterdir():
            assert archive.read(f"probe/report/maps/{path.name}") == path.read_bytes(), path.name


def test_installed_wheel_reads_the_packaged_default_and_keeps_data_in_the_users_directory(
    probe: Probe, venv: Path, tmp_path: Path
) -> None:
    where = probe("paths").stdout
    assert str(ROOT) not in where, where
    assert "the packaged default" in where and "the user's data directory" in where
    assert Path(probe("paths", "config").stdout.strip()).is_relative_to(venv)
    assert probe("paths", "data").stdout.strip() == str(tmp_path / "home" / ".local" / "share" / "zhanaozen-probe")
    for what in ("list", "datasette", "networks", "systemd"):
        assert Path(probe("paths", what).stdout.strip()).is_relative_to(venv), what


def test_installed_wheel_measures_exports_and_shows_consent_from_an_empty_directory(
    probe: Probe, venv: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config" / "probe.toml"
    config.parent.mkdir()
    config.write_text(OFFLINE_CONFIG, encoding="utf-8")
    data = tmp_path / "home" / ".local" / "share" / "zhanaozen-probe"
    shipped_list = Path(probe("paths", "list", config=config).stdout.strip())
    assert shipped_list.is_relative_to(venv)
    assert shipped_list.read_bytes() == (CONFIGS / "lists" / "kz-2011.csv").read_bytes()
    assert Path(probe("paths", "fingerprints", config=config).stdout.strip()).is_relative_to(venv)

    with http_server({"/": page("<title>Zhanaozen</title>")}) as web:
        url = f"http://127.0.0.1:{web.port}/"
        probe("run", "--accept", "--url", url, config=config)
        assert len(web.requests) >= 1

    assert url in probe("results", config=config).stdout
    [line] = probe("export", config=config).stdout.splitlines()
    measurement = json.loads(line)
    assert (measurement["input"], measurement["test_keys"]["requests"][0]["response"]["code"]) == (url, 200)
    assert "Accepted on" in probe("consent", config=config).stdout
    assert (data / "probe.db").is_file()
    assert list((tmp_path / "empty").iterdir()) == []


def test_installed_wheel_init_writes_the_users_config_which_is_then_in_use(probe: Probe, tmp_path: Path) -> None:
    user = tmp_path / "home" / ".config" / "zhanaozen-probe" / "probe.toml"
    assert f"config written to {user}" in probe("init").stdout
    assert probe("paths", "config").stdout.strip() == str(user)
    assert f"{user} exists: left as it is" in probe("init").stdout
