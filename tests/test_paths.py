"""Where things live: which config is read and which data directory is used, from any directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from probe import paths
from probe.cli.main import cli
from probe.config import config_in_use, load_config
from probe.defaults import DEFAULT_CONFIG, TEST_LIST, shipped
from probe.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def probe_cc(cc: str) -> str:
    return f'[probe]\nprobe_cc = "{cc}"\n'


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe as an installed package sees it: no source checkout around it."""
    monkeypatch.setattr(paths, "checkout_root", lambda: None)


def test_config_search_order_is_flag_env_user_system_then_packaged(
    tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert config_in_use().source.path == shipped(DEFAULT_CONFIG)
    write(paths.SYSTEM_CONFIG, probe_cc("SY"))
    assert config_in_use().source.path == paths.SYSTEM_CONFIG
    user = write(isolated_home / ".config" / "zhanaozen-probe" / "probe.toml", probe_cc("US"))
    assert (config_in_use().source.path, config_in_use().source.why) == (user, "the user's config file")
    monkeypatch.setenv("PROBE_CONFIG", str(write(tmp_path / "env.toml", probe_cc("EN"))))
    assert load_config().probe.probe_cc == "EN"
    assert load_config(write(tmp_path / "flag.toml", probe_cc("FL"))).probe.probe_cc == "FL"


def test_user_config_follows_xdg_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    user = write(tmp_path / "xdg" / "zhanaozen-probe" / "probe.toml", probe_cc("XD"))
    assert config_in_use().source.path == user


def test_probe_config_naming_a_missing_file_is_one_line_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROBE_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigError, match=r"absent\.toml: cannot read config \(\$PROBE_CONFIG\)"):
        load_config()


@pytest.mark.usefixtures("installed")
def test_installed_probe_keeps_data_in_the_users_data_directory(isolated_home: Path) -> None:
    in_use = config_in_use()
    assert in_use.data_dir.path == isolated_home / ".local" / "share" / "zhanaozen-probe"
    assert in_use.config.probe.data_dir == in_use.data_dir.path


def test_checkout_run_keeps_data_in_its_measurements_directory() -> None:
    assert paths.checkout_root() == ROOT
    assert load_config().probe.data_dir == ROOT / "measurements"
    assert (ROOT / "measurements" / "README.md").is_file()


@pytest.mark.usefixtures("installed")
def test_system_config_keeps_data_in_var_lib_and_systemd_state_directory_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write(paths.SYSTEM_CONFIG, probe_cc("SY"))
    assert load_config().probe.data_dir == paths.SYSTEM_DATA_DIR
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/zhanaozen-probe")
    assert config_in_use().data_dir.why == "systemd's StateDirectory ($STATE_DIRECTORY)"
    assert load_config().probe.data_dir == Path("/var/lib/zhanaozen-probe")


def test_data_dir_in_the_config_wins_over_every_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    config = write(tmp_path / "probe.toml", '[probe]\ndata_dir = "/srv/probe-data"\n')
    assert load_config(config).probe.data_dir == Path("/srv/probe-data")


def test_relative_paths_are_taken_from_the_config_files_directory_not_the_current_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(
        tmp_path / "etc" / "probe.toml",
        '[probe]\ndata_dir = "data"\ntest_list = "lists/mine.csv"\n'
        '[fingerprints]\nfiles = ["fp.csv", "/abs/fp.csv"]\n'
        '[schedule.groups.web]\nexperiment = "web"\ntest_list = "web.csv"\n',
    )
    monkeypatch.chdir(tmp_path)
    loaded = load_config(Path("etc/probe.toml"))
    base = config.parent
    assert loaded.probe.data_dir == base / "data"
    assert loaded.probe.test_list == base / "lists" / "mine.csv"
    assert loaded.fingerprints.files == [base / "fp.csv", Path("/abs/fp.csv")]
    assert loaded.schedule.groups["web"].test_list == base / "web.csv"


def test_packaged_default_measures_the_shipped_list_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.probe.test_list == shipped(TEST_LIST)
    assert config.probe.test_list.read_bytes() == (ROOT / "configs" / "lists" / "kz-2011.csv").read_bytes()
    assert all(path.is_file() for path in config.fingerprints.files)


@pytest.mark.usefixtures("installed")
def test_init_writes_a_private_commented_config_that_is_then_in_use(isolated_home: Path) -> None:
    result = CliRunner().invoke(cli, ["init"])
    assert result.exit_code == 0, result.output
    user = isolated_home / ".config" / "zhanaozen-probe" / "probe.toml"
    assert f"config written to {user}" in result.output
    assert f"data will go to {isolated_home / '.local' / 'share' / 'zhanaozen-probe'}" in result.output
    text = user.read_text(encoding="utf-8")
    assert text.startswith("# Written by `probe init`") and "# data_dir =" in text
    assert stat.S_IMODE(os.stat(user).st_mode) == 0o600
    assert load_config().model_dump() == load_config(shipped(DEFAULT_CONFIG)).model_dump()
    assert config_in_use().source.path == user


def test_init_never_overwrites_a_config(isolated_home: Path) -> None:
    user = write(isolated_home / ".config" / "zhanaozen-probe" / "probe.toml", probe_cc("KZ"))
    result = CliRunner().invoke(cli, ["init"])
    assert result.exit_code == 0, result.output
    assert f"{user} exists: left as it is" in result.output
    assert user.read_text(encoding="utf-8") == probe_cc("KZ")


@pytest.mark.usefixtures("installed")
def test_init_system_writes_the_system_config_whose_data_goes_to_var_lib() -> None:
    result = CliRunner().invoke(cli, ["init", "--system"])
    assert result.exit_code == 0, result.output
    assert paths.SYSTEM_CONFIG.is_file()
    assert f"data will go to {paths.SYSTEM_DATA_DIR}" in result.output


@pytest.mark.usefixtures("installed")
def test_paths_says_which_config_and_data_directory_and_why(isolated_home: Path) -> None:
    result = CliRunner().invoke(cli, ["paths"])
    assert result.exit_code == 0, result.output
    assert str(shipped(DEFAULT_CONFIG)) in result.output
    assert "the packaged default" in result.output and "`probe init` writes one" in result.output
    assert "the user's data directory" in result.output
    data = isolated_home / ".local" / "share" / "zhanaozen-probe"
    assert CliRunner().invoke(cli, ["paths", "db"]).output == f"{data / 'probe.db'}\n"
    metadata = CliRunner().invoke(cli, ["paths", "datasette"]).output.strip()
    assert Path(metadata).read_bytes() == (ROOT / "configs" / "datasette" / "metadata.json").read_bytes()
    assert CliRunner().invoke(cli, ["paths", "db", "--db", "/x/other.db"]).output == "/x/other.db\n"


def test_shipped_file_names_work_in_any_config_but_a_file_beside_it_wins(tmp_path: Path) -> None:
    text = '[probe]\ntest_list = "lists/kz-2011.csv"\n[fingerprints]\nfiles = ["fingerprints/zhanaozen.csv"]\n'
    config = load_config(write(tmp_path / "a" / "probe.toml", text))
    assert config.probe.test_list == shipped(TEST_LIST)
    assert config.fingerprints.files == [shipped("fingerprints/zhanaozen.csv")]
    mine = write(tmp_path / "b" / "lists" / "kz-2011.csv", "https://example.org/\n")
    assert load_config(write(tmp_path / "b" / "probe.toml", text)).probe.test_list == mine
