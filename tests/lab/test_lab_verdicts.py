"""Verdicts end to end in the namespace lab: every censorship scenario's verdict, blocking and mechanism.

The probe runs in the lab's probe namespace with the test helper (``probe helper serve``) in the
helper namespace, outside the censor, and example.com and facebook.com as its international network
controls; the censor targets twitter.com. Needs root and network namespaces (``probe.lab``); skipped
with the reason otherwise. Every packet stays inside the lab's namespaces (198.18.0.0/15).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from probe.lab import plan
from probe.lab.lab import Lab, unavailable_reason
from probe.lab.scenarios import RESIDUAL_SECONDS
from probe.storage import open_database

pytestmark = [pytest.mark.root, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
FINGERPRINTS = ROOT / "configs" / "fingerprints" / "zhanaozen.csv"
HELPER_PORT = 8765
HELPER_URL = f"http://{plan.HELPER_ADDRESS}:{HELPER_PORT}/"
TIMEOUT = 2.0
RUN_LIMIT = 120.0
TWITTER = "http://twitter.com/"
TWITTER_TLS = "https://twitter.com/"
CLEAN_ROUNDS = 5
CLEAN_INPUTS = [f"{scheme}://{site.name}/" for site in plan.WEB_SITES[:5] for scheme in ("http", "https")]

# scenario: (input, verdict, blocking, blocking_detail, confirmed)
SCENARIOS: dict[str, tuple[str, str, str | None, str | None, bool]] = {
    "dns_nxdomain": (TWITTER, "blocked", "dns", "dns_nxdomain", False),
    "dns_blockpage": (TWITTER, "blocked", "dns", "dns_blockpage_ip", True),
    "dns_bogon": (TWITTER, "blocked", "dns", "dns_bogon", False),
    "dns_drop": (TWITTER, "blocked", "dns", "dns_timeout", False),
    "dns_injection": (TWITTER, "blocked", "dns", "dns_injection", False),
    "dns_hijack_all": (TWITTER, "blocked", "dns", "dns_blockpage_ip", True),
    "dns_lie_port53": (TWITTER_TLS, "blocked", "dns", "dns_nxdomain", False),
    "ip_blackhole": (TWITTER, "blocked", "tcp_ip", "tcp_timeout", False),
    "ip_reset": (TWITTER, "blocked", "tcp_ip", "tcp_reset", False),
    "http_host_reset": (TWITTER, "blocked", "http-failure", "http_reset", False),
    "residual_reset": (TWITTER, "blocked", "http-failure", "http_reset", False),
    "http_blockpage": (TWITTER, "blocked", "http-diff", "http_blockpage:zp.kz_blocked_marker", True),
    "sni_reset": (TWITTER_TLS, "blocked", "tls", "tls_reset", False),
    "sni_drop": (TWITTER_TLS, "blocked", "tls", "tls_timeout", False),
    "throttling": (TWITTER, "blocked", "http-failure", "throttled", False),
    "site_down": (TWITTER, "site_down", None, None, False),
}


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"namespace lab unavailable: {reason}")
    with Lab() as made:
        yield made
        made.scenario("clean")


@pytest.fixture(scope="module")
def helper(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``probe helper serve`` in the helper namespace, trusting the lab's CA; its URL."""
    with lab.test_helper(tmp_path_factory.mktemp("helper"), port=HELPER_PORT, timeout=TIMEOUT) as url:
        assert url == HELPER_URL
        yield url


@pytest.fixture(scope="module")
def config(lab: Lab, helper: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = lab.probe_config(tmp_path_factory.mktemp("probe"), timeout=TIMEOUT, late_answer_window=0.8)
    with path.open("a", encoding="utf-8") as out:
        out.write(
            f"""
[control]
url = "{helper}"
timeout = 30.0
retries = 1
retry_delay = 0.0

[fingerprints]
files = ["{FINGERPRINTS}"]

[network]
international_controls = ["http://example.com/", "http://facebook.com/"]
"""
        )
    return path


def measure(lab: Lab, config: Path, db: Path, *inputs: str, experiment: str = "web") -> list[dict[str, Any]]:
    args = ["run", "--accept", "--config", str(config), "--db", str(db), "-e", experiment]
    for value in inputs:
        args += ["--url", value]
    done = lab.run_probe(args, timeout=RUN_LIMIT)
    assert done.returncode == 0, done.stderr
    database = open_database(db)
    try:
        return list(database.measurement_rows())
    finally:
        database.close()


def verdict_of(row: dict[str, Any]) -> tuple[str, str | None, str | None, bool]:
    return row["verdict"], row["blocking"], row["blocking_detail"], bool(row["confirmed"])


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenario_verdict(lab: Lab, config: Path, tmp_path: Path, scenario: str) -> None:
    target, *expected = SCENARIOS[scenario]
    lab.scenario(scenario)
    try:
        rows = measure(lab, config, tmp_path / "probe.db", target, "http://guljan.org/")
    finally:
        lab.scenario("clean")
    by_input = {row["input"]: row for row in rows}
    assert verdict_of(by_input[target]) == tuple(expected), by_input[target]["reason"]
    assert by_input[target]["network_state"] == "ok"
    # The censor targets twitter.com only: the other site stays accessible under every scenario.
    assert verdict_of(by_input["http://guljan.org/"]) == ("accessible", None, None, False)


def test_clean_lab_fifty_times_is_never_blocked(lab: Lab, config: Path, tmp_path: Path) -> None:
    lab.scenario("clean")
    rows = []
    for round_number in range(CLEAN_ROUNDS):
        rows += measure(lab, config, tmp_path / f"clean-{round_number}.db", *CLEAN_INPUTS)
    assert len(rows) == 50
    blocked = [(row["input"], row["blocking_detail"], row["reason"]) for row in rows if row["verdict"] == "blocked"]
    assert blocked == []
    others = [(row["input"], row["verdict"], row["reason"]) for row in rows if row["verdict"] != "accessible"]
    assert len(others) <= 2, others  # a scheduling hiccup may leave one inconclusive, never blocked


def test_full_shutdown_is_network_down_with_the_network_state(lab: Lab, config: Path, tmp_path: Path) -> None:
    lab.scenario("full_shutdown")
    try:
        (row,) = measure(lab, config, tmp_path / "probe.db", TWITTER)
    finally:
        lab.scenario("clean")
    assert (row["verdict"], row["blocking"], row["network_state"]) == ("network_down", None, "shutdown")


def test_forensics_record_the_censors_reset_next_to_the_servers_packets(lab: Lab, config: Path, tmp_path: Path) -> None:
    lab.scenario("http_host_reset")
    try:
        (row,) = measure(lab, config, tmp_path / "probe.db", TWITTER)
    finally:
        lab.scenario("clean")
    forensics = json.loads(row["test_keys"])["x_forensics"]
    assert forensics["status"] == "ok" and forensics["suspicious"], forensics
    # The ISP's reset comes from one hop away; the server's packets from two.
    assert forensics["injected"] is True, forensics["conclusion"]


@pytest.mark.parametrize(("scenario", "url"), [("http_host_reset", TWITTER), ("sni_reset", TWITTER_TLS)])
def test_probe_trace_names_the_censors_hop(lab: Lab, config: Path, scenario: str, url: str) -> None:
    lab.scenario(scenario)
    try:
        started = time.monotonic()
        done = lab.run_probe(["trace", "--config", str(config), "--json", "--max-ttl", "6", url], timeout=RUN_LIMIT)
    finally:
        lab.scenario("clean")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["censor_hop"], result["censor_address"]) == (1, plan.ISP_PROBE_SIDE), result["conclusion"]
    assert time.monotonic() - started < 60


def test_a_residual_block_holds_the_port_and_the_retries_read_as_the_first_tries_reset(
    lab: Lab, config: Path, tmp_path: Path
) -> None:
    twitter = plan.SITES_BY_NAME["twitter.com"].address
    lab.scenario("residual_reset")
    try:
        started = time.monotonic()
        (row,) = measure(lab, config, tmp_path / "probe.db", TWITTER)
        time.sleep(max(0.0, RESIDUAL_SECONDS + 5 - (time.monotonic() - started)))  # the hold ends
        (released,) = measure(lab, config, tmp_path / "released.db", f"{twitter}:80", experiment="tcp")
    finally:
        lab.scenario("clean")
    assert verdict_of(row) == ("blocked", "http-failure", "http_reset", False)
    assert "residual censorship" in row["reason"] and f"{twitter}:80" in row["reason"], row["reason"]
    retries = json.loads(row["test_keys"])["x_retries"]
    assert [(r["x_failed_step"], r["x_failure"]) for r in retries] == [("tcp", "generic_timeout_error")]
    assert released["failure"] is None, released["failure"]


def test_doh_is_the_clean_answer_when_the_censor_lies_on_port_53_without_a_test_helper(
    lab: Lab, tmp_path: Path
) -> None:
    config = lab.probe_config(tmp_path / "no-helper", timeout=TIMEOUT)  # no [control]: DoH is the only comparison
    lab.scenario("dns_lie_port53")
    try:
        (row,) = measure(lab, config, tmp_path / "probe.db", TWITTER_TLS)
    finally:
        lab.scenario("clean")
    assert verdict_of(row) == ("blocked", "dns", "dns_nxdomain", False)
    assert row["rule"] == "encrypted_dns" and plan.DOH_URL in row["reason"], row["reason"]
    queries = json.loads(row["test_keys"])["queries"]
    doh = [q for q in queries if q["engine"] == "doh"]
    assert [a["ipv4"] for a in doh[0]["answers"]] == [plan.SITES_BY_NAME["twitter.com"].address]
