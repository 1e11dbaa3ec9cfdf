"""Blockpage fingerprints in OONI's CSV format: every location and pattern type, false positives, bad rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.servers import BLOCKPAGE_HTML

from probe.errors import ConfigError
from probe.fingerprints import Fingerprints, Match, body_text, load_fingerprints, parse_fingerprints

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "configs" / "fingerprints").glob("*.csv"))
OONI = ROOT.parent / "shared" / "data" / "fingerprints"
HEADER = (
    "name,scope,other_names,location_found,pattern_type,pattern,"
    "confidence_no_fp,expected_countries,source,exp_url,notes\n"
)


def fingerprints(*rows: str) -> Fingerprints:
    return parse_fingerprints(HEADER + "".join(row + "\n" for row in rows), "test.csv")


def names(matches: list[Match]) -> list[str]:
    return [match.name for match in matches]


def test_the_shipped_fingerprints_recognise_the_kazakh_blockpage() -> None:
    shipped = load_fingerprints(SHIPPED)
    assert not shipped.problems and len(shipped) >= 2
    found = names(shipped.match_http(BLOCKPAGE_HTML.encode(), {"Content-Type": "text/html; charset=utf-8"}))
    assert "zp.kz_blocked_marker" in found and "zp.kz_access_restricted_title" in found
    assert shipped.match_http(b"<title>Guljan</title>news", {}) == []


def test_each_pattern_type_matches_as_ooni_defines_it() -> None:
    fp = fingerprints(
        "t.full,nat,,header.server,full,Blocker 1.0,,,,,",
        "t.prefix,nat,,header.location,prefix,http://block.example/,,,,,",
        "t.contains,isp,,body,contains,is blocked,,,,,",
        r"t.regexp,isp,,body,regexp,id=\d{4}\b,,,,,",
    )
    headers = {"Server": "Blocker 1.0", "location": "http://block.example/?u=x"}
    assert names(fp.match_http(b"this site is blocked: id=2011", headers)) == [
        "t.full",
        "t.prefix",
        "t.contains",
        "t.regexp",
    ]
    assert fp.match_http(b"open", {"Server": "Blocker 1.0.1", "Location": "https://block.example/"}) == []


def test_dns_fingerprints_match_addresses_and_names() -> None:
    fp = fingerprints("t.dns_ip,nat,,dns,full,10.10.34.36,,IR,,,", "t.dns_name,nat,,dns,full,blocked.isp.example,,,,,")
    assert names(fp.match_dns(["10.10.34.36"])) == ["t.dns_ip"]
    assert names(fp.match_dns(["blocked.isp.example", "198.51.100.7"])) == ["t.dns_name"]
    assert fp.match_dns(["10.10.34.3"]) == []


def test_false_positive_scope_is_kept_apart() -> None:
    fp = fingerprints("t.fp,fp,,body,contains,UserCheck/PortalMain,,,,,")
    (match,) = fp.match_http(b"see UserCheck/PortalMain for help", {})
    assert match.fingerprint.false_positive


def test_unusable_rows_are_problems_with_their_line_and_the_rest_load() -> None:
    fp = fingerprints(
        "t.good,nat,,body,contains,blocked,,,,,",
        "t.where,nat,,footer,contains,x,,,,,",
        "t.how,nat,,body,fuzzy,x,,,,,",
        "t.regex,nat,,body,regexp,(unclosed,,,,,",
        "t.empty,nat,,body,contains,,,,,,",
    )
    assert [f.name for f in fp.items] == ["t.good"]
    assert len(fp.problems) == 4 and fp.problems[0].startswith("test.csv:3:")


def test_a_file_that_is_not_a_fingerprint_file_or_cannot_be_read_is_a_config_error(tmp_path: Path) -> None:
    other = tmp_path / "list.csv"
    other.write_text("url,category_code\nhttp://x/,NEWS\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="missing columns"):
        load_fingerprints([other])
    with pytest.raises(ConfigError, match="cannot read fingerprints"):
        load_fingerprints([tmp_path / "missing.csv"])


def test_bodies_are_matched_in_their_own_charset() -> None:
    cp1251 = "Страница заблокирована".encode("cp1251")
    assert body_text(cp1251, "text/html; charset=windows-1251") == "Страница заблокирована"
    assert body_text(b"\xff\xfe", None) == "ÿþ"


@pytest.mark.skipif(not OONI.is_dir(), reason="../shared/data/fingerprints is absent (reference data, not shipped)")
def test_oonis_own_files_load_at_run_time_with_multiline_rows() -> None:
    ooni = load_fingerprints([OONI / "fingerprints_http.csv", OONI / "fingerprints_dns.csv"])
    assert not ooni.problems
    assert len(ooni) == 1729 + 226
    assert "cp.d_corp_kz_ps" in names(ooni.match_http(BLOCKPAGE_HTML.encode(), {}))
