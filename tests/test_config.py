import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from probe.config import Config, NetworkSection, load_config
from probe.errors import ConfigError
from probe.network_identity import resolve as resolve_network

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "probe.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_default_config_loads_and_points_at_the_shipped_kz_2011_list() -> None:
    config = load_config(ROOT / "configs" / "default.toml")
    assert config.probe.test_list is not None
    assert config.probe.test_list.read_bytes() == (ROOT / "configs" / "lists" / "kz-2011.csv").read_bytes()
    assert [path.name for path in config.fingerprints.files] == ["zhanaozen.csv"]
    assert config.dns.resolvers[0] == "system"


def test_by_default_the_network_identity_is_asked_of_the_helper_and_unknown_without_one() -> None:
    config = Config()
    assert (config.probe.probe_asn, config.probe.probe_cc) == ("auto", "auto")
    unknown = resolve_network(config, None)
    assert (unknown.asn, unknown.cc, unknown.source) == ("AS0", "ZZ", "unknown")


def test_unknown_key_is_one_line_error_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, "[http]\nmax_body = 5\n"))
    message = str(error.value)
    assert "http.max_body" in message and "\n" not in message


def test_wrong_type_is_one_line_error_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tcp\.timeout"):
        load_config(write(tmp_path, '[tcp]\ntimeout = "soon"\n'))


def test_bad_resolver_spec_names_the_key_and_the_spec(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"dns\.resolvers.*doh://x"):
        load_config(write(tmp_path, '[dns]\nresolvers = ["system", "doh://x"]\n'))


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[probe\n"))


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "absent.toml")


def test_udp_and_tcp_resolvers_with_ports_are_accepted(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[dns]\nresolvers = ["udp://198.18.0.1:5353", "tcp://[::1]:53"]\n'))
    assert config.dns.resolvers == ["udp://198.18.0.1:5353", "tcp://[::1]:53"]


def test_shipped_config_asks_oonis_public_helpers_and_names_kazakh_and_international_controls() -> None:
    config = load_config(ROOT / "configs" / "default.toml")
    assert len(config.control.url) >= 2
    assert all((urlsplit(url).hostname or "").endswith(".th.ooni.org") for url in config.control.url)
    domestic = [urlsplit(url).hostname or "" for url in config.network.domestic_controls]
    abroad = [urlsplit(url).hostname or "" for url in config.network.international_controls]
    assert len(domestic) >= 2 and all(host.endswith(".kz") for host in domestic)
    assert len(abroad) >= 2 and not any(host.endswith(".kz") for host in abroad)


def test_every_country_preset_is_a_network_section_with_that_countrys_sites() -> None:
    presets = sorted((ROOT / "configs" / "networks").glob("*.toml"))
    assert len(presets) >= 3
    for path in presets:
        network = NetworkSection.model_validate(tomllib.loads(path.read_text(encoding="utf-8"))["network"])
        hosts = [urlsplit(url).hostname or "" for url in network.domestic_controls]
        assert hosts and all(host.endswith(f".{path.stem}") for host in hosts), path.name
        assert network.international_controls, path.name


def test_one_helper_url_may_be_given_as_a_string(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[control]\nurl = "http://127.0.0.1:8765/"\n'))
    assert config.control.url == ["http://127.0.0.1:8765/"]
    assert load_config(write(tmp_path, '[control]\nurl = ""\n')).control.url == []


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[upload]\nurl = "ftp://collector.example/"\n', "upload.url"),
        ('[control]\nurl = ["http://127.0.0.1:8765/", "helper.example:8765"]\n', "control.url.1"),
        ('[network]\ndomestic_controls = ["https:///no-host"]\n', "network.domestic_controls.0"),
        ('[network]\ninternational_controls = ["file:///etc/hosts"]\n', "network.international_controls.0"),
        ('[lists]\nsource = "gopher://lists.example/"\n', "lists.source"),
        ('[collector.alerts]\nwebhooks = ["mailto:ops@example.org"]\n', "collector.alerts.webhooks.0"),
    ],
)
def test_every_url_setting_refuses_what_is_not_http_naming_the_key(tmp_path: Path, toml: str, key: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, toml))
    message = str(error.value)
    assert f"{key}: Value error, an http or https URL, got" in message and "\n" not in message


def test_a_list_source_is_taken_as_a_folder(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[lists]\nsource = "https://lists.example/test-lists"\n'))
    assert config.lists.source == "https://lists.example/test-lists/"
