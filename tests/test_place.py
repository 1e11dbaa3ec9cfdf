"""The place a volunteer declares: an ISO 3166-2 area of the probe's country, a district's name, a network type;
nothing finer, and never without the consent notice saying what it reveals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from probe import consent
from probe.cli.consent import consent_gate
from probe.config import Config, load_config
from probe.errors import ConfigError
from probe.storage import open_database

ROOT = Path(__file__).resolve().parent.parent


def config_with(tmp_path: Path, probe_section: str) -> Path:
    path = tmp_path / "probe.toml"
    path.write_text(f'[probe]\n{probe_section}\n[dns]\nresolvers = ["udp://127.0.0.1:9"]\n', encoding="utf-8")
    return path


def test_a_district_of_mangystau_on_a_mobile_network_is_accepted(tmp_path: Path) -> None:
    config = load_config(config_with(tmp_path, 'area = "kz-47"\ndistrict = " Zhanaozen "\nnetwork_type = "mobile"'))
    assert (config.probe.area, config.probe.district, config.probe.network_type) == ("KZ-47", "Zhanaozen", "mobile")
    assert consent.declared_place(config) == "area KZ-47 (Mangghystaū oblysy), district Zhanaozen, mobile network"


def test_nothing_declared_counts_for_the_country_only(tmp_path: Path) -> None:
    config = load_config(config_with(tmp_path, ""))
    assert (config.probe.area, config.probe.district, config.probe.network_type) == ("", "", "unknown")
    assert consent.declared_place(config) is None


@pytest.mark.parametrize(
    ("section", "said"),
    [
        ('area = "KZ-99"', "not a subdivision in ISO 3166-2"),
        ('area = "Mangystau"', "not an ISO 3166-2 code"),
        ('area = "KZ-47"\nprobe_cc = "RU"', "not in the probe's country RU"),
        ('district = "Zhanaozen"', "district needs an area"),
        ('area = "KZ-47"\ndistrict = "43.34, 52.86"', "no coordinates"),
        ('area = "KZ-47"\ndistrict = "Satpayev street 12"', "no numbers"),
        ('area = "KZ-47"\ndistrict = "' + "a" * 65 + '"', "at most 64 characters"),
        ('network_type = "wifi"', "network_type"),
    ],
)
def test_a_place_finer_or_other_than_declared_is_refused_in_one_line(tmp_path: Path, section: str, said: str) -> None:
    with pytest.raises(ConfigError, match=said):
        load_config(config_with(tmp_path, section))


def test_the_command_line_names_a_bad_area_in_one_line(tmp_path: Path) -> None:
    path = config_with(tmp_path, 'area = "KZ-99"')
    done = subprocess.run(
        [sys.executable, "-m", "probe", "results", "--config", str(path), "--db", str(tmp_path / "p.db")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "KZ-99" in done.stderr and "ISO 3166-2" in done.stderr


def test_the_notice_says_what_a_declared_place_reveals(tmp_path: Path) -> None:
    config = load_config(config_with(tmp_path, 'area = "KZ-47"\ndistrict = "Zhanaozen"\nnetwork_type = "mobile"'))
    text = consent.notice(config)
    assert "area KZ-47 (Mangghystaū oblysy), district Zhanaozen, mobile network" in text
    assert "narrows down who you are" in text
    plain = consent.notice(load_config(config_with(tmp_path, "")))
    assert "counts for its country only" in plain


def test_declaring_a_place_or_another_asks_for_consent_again(tmp_path: Path) -> None:
    db = open_database(tmp_path / "probe.db")
    try:
        nowhere = load_config(config_with(tmp_path, ""))
        consent_gate(db, nowhere, accept=True, strict=True)
        consent_gate(db, nowhere, accept=False, strict=True)  # covered: goes on

        mangystau = load_config(config_with(tmp_path, 'area = "KZ-47"\nnetwork_type = "mobile"'))
        with pytest.raises(consent.ConsentRequired):
            consent_gate(db, mangystau, accept=False, strict=True)
        consent_gate(db, mangystau, accept=True, strict=True)
        accepted = consent.accepted(db)
        assert accepted is not None and accepted.place == "area KZ-47 (Mangghystaū oblysy), mobile network"
        consent_gate(db, mangystau, accept=False, strict=True)

        moved = load_config(config_with(tmp_path, 'area = "KZ-75"\nnetwork_type = "mobile"'))
        with pytest.raises(consent.ConsentRequired):
            consent_gate(db, moved, accept=False, strict=True)
    finally:
        db.close()


def test_uploads_are_covered_only_with_the_place_they_were_accepted_with(tmp_path: Path) -> None:
    upload = '[upload]\nenabled = true\nurl = "http://127.0.0.1:9/"\n'
    before = config_with(tmp_path, "")
    before.write_text(before.read_text(encoding="utf-8") + upload, encoding="utf-8")
    config = load_config(before)
    db = open_database(tmp_path / "probe.db")
    try:
        acceptance = consent.record(db, config, how="--accept")
        assert consent.covers_upload(acceptance, config)
        data = config.model_dump()
        data["probe"].update(area="KZ-47")
        declared = Config.model_validate(data)
        assert not consent.covers_upload(acceptance, declared)
    finally:
        db.close()
