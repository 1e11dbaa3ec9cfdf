"""The verdict classes that real-world measurements got wrong (issue 13), each on a measurement written here
from OONI's spec (df-001/002/005/006, ts-017): what the verdict is now, and why.

The site is ``guljan.org`` at 198.51.100.7 (TEST-NET-2), as in ``test_verdict_rules``.
"""

from __future__ import annotations

from typing import Any

from test_verdict_rules import (
    BLOCKPAGE,
    HTTPS_URL,
    SHIPPED,
    SITE,
    URL,
    connect,
    control,
    handshake,
    judge,
    keys,
    outcome,
    query,
    request,
)

from probe.fingerprints import parse_fingerprints
from probe.verdict.ooni import compare_ooni
from probe.verdict.reasons import as_ooni_blocking, explain_difference

# What OONI Probe (ooniprobe 2.x, web_connectivity 0.1) stores when it cannot reach its test helper.
PLACEHOLDER_CONTROL: dict[str, Any] = {
    "tcp_connect": {},
    "http_request": {"body_length": -1, "failure": None, "title": "", "headers": {}, "status_code": -1},
    "dns": {"failure": None, "addrs": []},
}
CAPTCHA_FP = parse_fingerprints(
    "name,scope,other_names,location_found,pattern_type,pattern\n"
    "zp.test_cdn_challenge,fp,,body,contains,Checking your browser before accessing\n"
)
CAPTCHA = "<html><head><title>Just a moment...</title></head><body>Checking your browser before accessing</body></html>"


def ooni(url: str, test_keys: dict[str, Any]) -> dict[str, Any]:
    return {"test_name": "web_connectivity", "test_version": "0.4.3", "input": url, "test_keys": test_keys}


# --- 1. an unreachable control that left placeholders ------------------------------------------------------


def test_a_control_failure_with_placeholders_means_no_control_not_a_site_down() -> None:
    data = keys(tcp=[connect(failure="connection_reset")], requests=[], ctrl=PLACEHOLDER_CONTROL)
    data["control_failure"] = "connection_refused"
    verdict = judge(data)
    assert (verdict.rule, *outcome(verdict)) == ("control_unavailable", "inconclusive", None, None)
    assert "connection_refused" in verdict.reason


# --- 2. network failures mistaken for the probe's own ------------------------------------------------------


def test_androids_dns_cache_no_data_is_dns_blocking() -> None:
    data = keys(queries=[query((), failure="android_dns_cache_no_data")], tcp=[], requests=[])
    data["dns_experiment_failure"] = "android_dns_cache_no_data"
    verdict = judge(data)
    assert (verdict.rule, *outcome(verdict)) == ("dns_failure", "blocked", "dns", "dns_no_answer")
    assert "android_dns_cache_no_data" in verdict.reason and SITE in verdict.reason


def test_nxdomain_for_a_redirect_target_is_dns_blocking() -> None:
    moved = request(code=301, body="", headers={"Location": "http://www.guljan.org/"})
    target = request("http://www.guljan.org/", code=None, body=None, failure="dns_nxdomain_error")
    ctrl = control()
    ctrl["http_request"]["x_final_url"] = "http://www.guljan.org/"
    data = keys(requests=[moved, target], ctrl=ctrl, http_experiment_failure="dns_nxdomain_error")
    verdict = judge(data)
    assert (verdict.rule, *outcome(verdict)) == ("dns_failure", "blocked", "dns", "dns_nxdomain")
    assert "www.guljan.org" in verdict.reason and "redirect" in verdict.reason


# --- 3. internationalised names ----------------------------------------------------------------------------


def test_a_unicode_host_is_the_same_name_as_its_idna_form_in_the_queries() -> None:
    # The URL names яндекс.рф; the probe's queries and the control carry the A-label form.
    idna_query = {**query(), "hostname": "xn--d1acpjx3f.xn--p1ai"}
    data = keys(queries=[idna_query], requests=[request("http://яндекс.рф/")])
    verdict = judge(data, "http://яндекс.рф/")
    assert (verdict.rule, *outcome(verdict)) == ("accessible", "accessible", None, None)
    upper = keys(queries=[{**query(), "hostname": "XN--D1ACPJX3F.XN--P1AI."}], requests=[request("http://ЯНДЕКС.РФ/")])
    assert judge(upper, "http://ЯНДЕКС.РФ/").verdict == "accessible"


# --- 4. a server's refusal is not censorship ---------------------------------------------------------------


def test_a_cdn_captcha_over_verified_tls_is_the_sites_refusal_not_a_block() -> None:
    challenge = request(HTTPS_URL, code=403, body=CAPTCHA)
    data = keys(tcp=[connect(port=443)], tls=[handshake()], requests=[challenge], ctrl=control(tls_ok=True))
    verdict = judge(data, HTTPS_URL, fingerprints=CAPTCHA_FP)
    assert (verdict.rule, *outcome(verdict)) == ("server_refusal", "accessible", None, None)
    assert "zp.test_cdn_challenge" in verdict.reason and verdict.suspected is None
    assert as_ooni_blocking(verdict) is False


def test_a_503_over_verified_tls_is_the_sites_refusal_not_a_block() -> None:
    busy = request(HTTPS_URL, code=503, body="<title>Service Unavailable</title>")
    data = keys(tcp=[connect(port=443)], tls=[handshake()], requests=[busy], ctrl=control(tls_ok=True))
    verdict = judge(data, HTTPS_URL)
    assert (verdict.rule, *outcome(verdict)) == ("server_refusal", "accessible", None, None)
    assert "503" in verdict.reason


def test_a_captcha_fingerprint_over_plain_http_leaves_no_blocking_method() -> None:
    challenge = request(code=403, body=CAPTCHA)
    verdict = judge(keys(requests=[challenge]), fingerprints=CAPTCHA_FP)
    assert outcome(verdict) == ("inconclusive", None, None) and verdict.suspected is None
    assert as_ooni_blocking(verdict) is None


# --- 5. ghost DNS: one censorship, one verdict -------------------------------------------------------------


def test_ghost_dns_is_a_dns_block_over_http_and_https_confirmed_by_its_blockpage() -> None:
    lie = "198.18.3.1"  # the censor's blockpage server
    nowhere = control(addresses=(), dns_failure="dns_nxdomain_error", http_failure="dns_lookup_error")
    over_http = keys(queries=[query((lie,))], tcp=[connect(lie)], requests=[request(body=BLOCKPAGE)], ctrl=nowhere)
    over_https = keys(
        queries=[query((lie,))],
        tcp=[connect(lie, port=443)],
        tls=[{**handshake("ssl_invalid_hostname"), "address": f"{lie}:443"}],
        requests=[],
        ctrl=nowhere,
    )
    http_verdict = judge(over_http, fingerprints=SHIPPED)
    https_verdict = judge(over_https, HTTPS_URL, fingerprints=SHIPPED)
    assert (http_verdict.rule, *outcome(http_verdict)) == ("ghost_dns", "blocked", "dns", "dns_blockpage_ip")
    assert (https_verdict.rule, *outcome(https_verdict)) == ("ghost_dns", "blocked", "dns", "dns_ghost")
    assert http_verdict.confirmed and "zp.kz_blocked_marker" in http_verdict.fingerprints
    assert not https_verdict.confirmed and lie in https_verdict.reason
    assert "exists only inside this network" in https_verdict.reason
    assert as_ooni_blocking(http_verdict) == as_ooni_blocking(https_verdict) == "dns"


def test_an_nxdomain_for_a_redirect_target_is_a_dns_block_in_oonis_shape_and_the_probes() -> None:
    moved = request(code=301, body="", headers={"Location": "http://www.guljan.org/"})
    nxdomain = query((), failure="dns_nxdomain_error")
    nxdomain["hostname"] = "www.guljan.org"
    final_page = control()
    # OONI's shape: only the 3xx in requests, the failure at the top level, the redirect host's NXDOMAIN a query.
    oonis = keys(
        queries=[query(), nxdomain], requests=[moved], ctrl=final_page, http_experiment_failure="dns_nxdomain_error"
    )
    # The probe's: the round trip to the redirect's target, with its failure, first (df-001: most recent first).
    failed_hop = {"request": {"url": "http://www.guljan.org/"}, "response": None, "failure": "dns_nxdomain_error"}
    probes = keys(requests=[failed_hop, moved], ctrl=final_page, http_experiment_failure="dns_nxdomain_error")
    compared = compare_ooni("ooni", ooni(URL, {**oonis, "blocking": "dns"}), None)
    assert compared.verdict is not None and compared.agrees
    for verdict in (compared.verdict, judge(probes)):
        assert (verdict.rule, *outcome(verdict)) == ("dns_failure", "blocked", "dns", "dns_nxdomain")
        assert "redirects to www.guljan.org" in verdict.reason


# --- 6. only blocked carries a method ----------------------------------------------------------------------


def test_an_inconclusive_verdict_carries_no_blocking_method_and_exports_none() -> None:
    parked = request(body="<html><body>ads</body></html>", headers={"Server": "Apache", "Content-Type": "text/html"})
    verdict = judge(keys(requests=[parked]))
    assert outcome(verdict) == ("inconclusive", None, None)
    assert verdict.suspected == "http-diff" and verdict.as_row()["suspected"] == "http-diff"
    assert as_ooni_blocking(verdict) is None


# --- 7. reasons that say what was compared -----------------------------------------------------------------


def test_the_site_down_explanation_names_what_ooni_compared_and_what_the_control_saw() -> None:
    data = keys(queries=[query((), failure="dns_nxdomain_error")], tcp=[], requests=[])
    data["control"] = control(addresses=(), dns_failure=None, http_failure="dns_lookup_error")
    data["control"]["dns"]["addrs"] = ["guljan.example"]
    data.update(dns_experiment_failure="dns_nxdomain_error", dns_consistency="inconsistent", blocking="dns")
    result = compare_ooni("written", ooni(URL, data), None)
    assert result.verdict is not None and result.verdict.rule == "site_down"
    assert "dns_lookup_error" in result.verdict.reason and "guljan.example" in result.verdict.reason
    assert "inconsistent" in result.why and "dns_nxdomain_error" in result.why
    assert "dns_lookup_error" in result.why and "alone" not in result.why


def test_a_tcp_failure_site_down_explanation_names_the_failed_connections() -> None:
    data = keys(tcp=[connect(failure="generic_timeout_error")], requests=[])
    data["control"] = control(tcp_ok=False, http_failure="generic_timeout_error")
    data.update(dns_consistency="consistent", blocking="tcp_ip")
    verdict = judge(data)
    why = explain_difference("tcp_ip", verdict, data)
    assert "1 of 1 connections failed" in why and "consistent" in why


# --- 10. encrypted DNS as a comparison path ----------------------------------------------------------------

DOH = "https://198.51.100.53/dns-query"


def doh_query(addresses: tuple[str, ...] = (SITE,)) -> dict[str, Any]:
    return {**query(addresses, engine="doh", resolver=DOH, tid=7), "rcode": 0}


def test_nxdomain_on_port_53_where_doh_resolves_is_dns_blocking_without_a_control() -> None:
    data = keys(queries=[query((), failure="dns_nxdomain_error"), doh_query()], tcp=[], requests=[])
    data["control"] = None
    verdict = judge(data)
    assert (verdict.rule, *outcome(verdict)) == ("encrypted_dns", "blocked", "dns", "dns_nxdomain")
    assert f"DNS over HTTPS via {DOH} resolves {SITE}" in verdict.reason


def test_a_port_53_lie_that_doh_contradicts_is_dns_blocking_without_a_control() -> None:
    lie = "203.0.113.9"
    data = keys(
        queries=[query((lie,)), doh_query()],
        tcp=[connect(lie, port=443, failure="connection_refused")],
        requests=[],
    )
    data["control"] = None
    verdict = judge(data, HTTPS_URL)
    assert (verdict.rule, *outcome(verdict)) == ("encrypted_dns", "blocked", "dns", "dns_inconsistent")
    assert lie in verdict.reason and "nothing shared" in verdict.reason


def test_other_addresses_than_doh_over_verified_tls_are_a_cdn_not_a_lie() -> None:
    cdn = "203.0.113.80"
    data = keys(
        queries=[query((cdn,)), doh_query()],
        tcp=[connect(cdn, port=443)],
        tls=[{**handshake(), "address": f"{cdn}:443"}],
        requests=[request(HTTPS_URL)],
    )
    data["control"] = None
    verdict = judge(data, HTTPS_URL)
    assert (verdict.rule, verdict.verdict) == ("control_unavailable", "accessible")


def test_with_a_control_the_controls_answer_decides_not_doh() -> None:
    lie = "203.0.113.9"
    data = keys(queries=[query((lie,)), doh_query()], tcp=[connect(lie, failure="connection_refused")], requests=[])
    verdict = judge(data)
    assert (verdict.rule, *outcome(verdict)) == ("dns_inconsistent", "blocked", "dns", "dns_inconsistent")


# --- 9. stateful (residual) censorship ---------------------------------------------------------------------


def held(port: int = 80) -> dict[str, Any]:
    """A retry inside the censor's hold: the SYN to the server's port is dropped."""
    return {
        "queries": [query()],
        "tcp_connect": [connect(port=port, failure="generic_timeout_error")],
        "requests": [],
        "x_failure": "generic_timeout_error",
        "x_failed_step": "tcp",
    }


def test_retries_held_by_a_residual_block_read_as_the_first_tries_reset() -> None:
    reset = request(code=None, body=None, failure="connection_reset")
    data = keys(requests=[reset], x_retries=[held(), held()], x_control_after=control())
    data.update(http_experiment_failure="connection_reset", x_failure="connection_reset", x_failed_step="http")
    verdict = judge(data)
    assert (verdict.rule, *outcome(verdict)) == ("http_failure", "blocked", "http-failure", "http_reset")
    assert "residual censorship" in verdict.reason and f"{SITE}:80" in verdict.reason
    assert "the 2 tries after it" in verdict.reason


def test_a_residual_hold_after_a_tls_reset_keeps_the_tls_mechanism() -> None:
    data = keys(tcp=[connect(port=443)], tls=[handshake("connection_reset")], requests=[], x_retries=[held(443)])
    data["control"] = control(port=443, tls_ok=True)
    data.update(x_failure="connection_reset", x_failed_step="tls")
    verdict = judge(data, HTTPS_URL)
    assert (verdict.rule, *outcome(verdict)) == ("tls_blocked", "blocked", "tls", "tls_reset")
    assert "residual censorship" in verdict.reason and "the try after it" in verdict.reason


def test_retries_that_fail_the_same_way_are_not_called_residual() -> None:
    reset = request(code=None, body=None, failure="connection_reset")
    again = {"queries": [query()], "tcp_connect": [connect()], "requests": [reset]}
    again.update(x_failure="connection_reset", x_failed_step="http")
    data = keys(requests=[reset], x_retries=[again])
    verdict = judge(data)
    assert outcome(verdict) == ("blocked", "http-failure", "http_reset")
    assert "on all 2 tries" in verdict.reason and "residual" not in verdict.reason
