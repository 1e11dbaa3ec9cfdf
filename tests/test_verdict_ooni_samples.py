"""The verdict engine on OONI's real measurements (``../shared/data/ooni-samples``): where it agrees with
OONI's ``blocking``, and where it does not, that it says why.

The reference data lives outside the repository (its licences differ); without it these tests skip.
OONI's fingerprint files are read at run time only, never copied into the project.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from probe.cli.main import cli
from probe.fingerprints import Fingerprints, load_fingerprints
from probe.verdict.ooni import OONIComparison, compare_ooni, read_ooni

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PROBE_SHARED_DATA") or ROOT.parent / "shared" / "data")
SAMPLES = SHARED / "ooni-samples"
OONI_FINGERPRINTS = [
    SHARED / "fingerprints" / "fingerprints_http.csv",
    SHARED / "fingerprints" / "fingerprints_dns.csv",
]
SHIPPED = sorted((ROOT / "configs" / "fingerprints").glob("*.csv"))

pytestmark = pytest.mark.skipif(
    not SAMPLES.is_dir() or not all(path.exists() for path in OONI_FINGERPRINTS),
    reason="../shared/data (OONI samples and fingerprints) is absent: the reference data is not in the repository",
)

# sample: (verdict, blocking, blocking_detail, agrees with OONI) with OONI's fingerprints loaded
WITH_OONI_FINGERPRINTS = {
    "SYNTHETIC_wc_tcp_ip_connect-timeout_netem-QA.json": ("blocked", "tcp_ip", "tcp_timeout", True),
    "wc_accessible_ID_archive.org_2025.json": (
        "blocked",
        "http-diff",
        "http_blockpage:ooni.id_lamanlabuh_kominfo",
        False,
    ),
    "wc_accessible_MY_religioustolerance.org_2018.json": ("accessible", None, None, True),
    "wc_accessible_US_collegehumor.com_2019.json": ("accessible", None, None, True),
    "wc_dns_CN_efindlove.com_2017.json": ("blocked", "dns", "dns_ghost", True),
    "wc_dns_IR_fa.wikipedia.org_2020.json": ("blocked", "dns", "dns_blockpage_ip", True),
    "wc_dns_IR_facebook.com_2022.json": ("blocked", "dns", "dns_blockpage_ip", True),
    "wc_dns_SK_wikispaces.com_2021.json": ("site_down", None, None, False),
    "wc_http-diff_IE_efindlove.com_2020.json": ("inconclusive", None, None, False),
    "wc_http-diff_RU_rutor.org_2020_confirmed.json": (
        "blocked",
        "http-diff",
        "http_blockpage:cl.isp_ru_nevalink_forward",
        True,
    ),
    "wc_http-failure_AU_feminist.org_2017.json": (
        "blocked",
        "http-failure",
        "http_blockpage:cl.prod_checkpoint_urlfilter_forward",
        True,
    ),
    "wc_http-failure_NL_fa.wikipedia.org_2020_probe-bug-false-positive.json": ("inconclusive", None, None, False),
}
# Where only the project's own fingerprints are loaded, these conclusions change (the rest stay).
WITH_OWN_FINGERPRINTS_ONLY = {
    "wc_accessible_ID_archive.org_2025.json": ("blocked", "http-diff", "http_diff", False),
    "wc_dns_IR_fa.wikipedia.org_2020.json": ("blocked", "dns", "dns_bogon", True),
    "wc_dns_IR_facebook.com_2022.json": ("blocked", "dns", "dns_bogon", True),
    "wc_http-diff_RU_rutor.org_2020_confirmed.json": ("inconclusive", None, None, False),
    "wc_http-failure_AU_feminist.org_2017.json": ("blocked", "http-failure", "http_redirect_private", True),
}
LEGACY = ("dns_consistency_BE_google.com_2017.json", "http_requests_AT_extratorrent.com_2014.json")


def judged(name: str, fingerprints: Fingerprints) -> OONIComparison:
    ((where, measurement),) = list(read_ooni(SAMPLES / name))
    return compare_ooni(where, measurement, fingerprints)


@pytest.fixture(scope="module")
def ooni_fingerprints() -> Fingerprints:
    return load_fingerprints([*SHIPPED, *OONI_FINGERPRINTS])


@pytest.fixture(scope="module")
def own_fingerprints() -> Fingerprints:
    return load_fingerprints(SHIPPED)


def test_every_sample_is_in_the_agreement_table() -> None:
    names = {path.name for path in SAMPLES.glob("*.json")}
    assert names == set(WITH_OONI_FINGERPRINTS) | set(LEGACY)


@pytest.mark.parametrize("name", sorted(WITH_OONI_FINGERPRINTS))
def test_conclusion_on_ooni_sample_with_ooni_fingerprints(name: str, ooni_fingerprints: Fingerprints) -> None:
    result = judged(name, ooni_fingerprints)
    assert result.verdict is not None
    verdict, blocking, detail, agrees = WITH_OONI_FINGERPRINTS[name]
    assert (result.verdict.verdict, result.verdict.blocking, result.verdict.blocking_detail) == (
        verdict,
        blocking,
        detail,
    )
    assert result.agrees is agrees
    assert result.verdict.reason
    assert bool(result.why) is not agrees, "a difference from OONI must say why"


@pytest.mark.parametrize("name", sorted(WITH_OWN_FINGERPRINTS_ONLY))
def test_conclusion_on_ooni_sample_with_the_project_fingerprints_only(
    name: str, own_fingerprints: Fingerprints
) -> None:
    result = judged(name, own_fingerprints)
    assert result.verdict is not None
    verdict, blocking, detail, agrees = WITH_OWN_FINGERPRINTS_ONLY[name]
    assert (result.verdict.verdict, result.verdict.blocking, result.verdict.blocking_detail) == (
        verdict,
        blocking,
        detail,
    )
    assert result.agrees is agrees


def test_the_probe_bug_false_positive_is_called_the_probes_own_error(ooni_fingerprints: Fingerprints) -> None:
    result = judged("wc_http-failure_NL_fa.wikipedia.org_2020_probe-bug-false-positive.json", ooni_fingerprints)
    assert result.verdict is not None and result.verdict.rule == "probe_error"
    assert result.ooni_blocking == "http-failure"
    assert "probe" in result.why and "not a network failure" in result.why


def test_the_blockpage_oonis_probe_accepted_is_named(ooni_fingerprints: Fingerprints) -> None:
    result = judged("wc_accessible_ID_archive.org_2025.json", ooni_fingerprints)
    assert result.ooni_blocking is False and result.verdict is not None and result.verdict.confirmed
    assert "headers_match" in result.why and "ooni.id_lamanlabuh_kominfo" in result.why


@pytest.mark.parametrize("name", LEGACY)
def test_legacy_experiments_are_skipped_with_the_reason(name: str, ooni_fingerprints: Fingerprints) -> None:
    result = judged(name, ooni_fingerprints)
    assert result.verdict is None and result.agrees is None
    assert "not web_connectivity" in result.why and result.test_name in result.why


def test_probe_verdict_ooni_prints_the_table_and_why(tmp_path: Path) -> None:
    args = ["verdict", "--ooni", str(SAMPLES / "wc_dns_SK_wikispaces.com_2021.json")]
    args += ["--ooni", str(SAMPLES / "dns_consistency_BE_google.com_2017.json")]
    for path in OONI_FINGERPRINTS:
        args += ["--fingerprints", str(path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "site_down" in result.output and "differs" in result.output and "skipped" in result.output
    assert "why not OONI's: OONI says dns" in result.output


def test_probe_verdict_ooni_reads_json_lines(tmp_path: Path) -> None:
    lines = tmp_path / "two.jsonl"
    lines.write_text(
        "".join(
            (SAMPLES / name).read_text(encoding="utf-8").replace("\n", " ") + "\n"
            for name in ("wc_accessible_US_collegehumor.com_2019.json", "wc_dns_IR_facebook.com_2022.json")
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["verdict", "--json", "--ooni", str(lines), "--fingerprints", str(SHIPPED[0])])
    assert result.exit_code == 0, result.output
    assert result.output.count('"agrees": true') == 2
