"""End to end: ``probe run`` inside the lab's probe namespace, under each censorship scenario.

Each test applies one scenario of ``docs/lab.md`` and asserts what the probe recorded: the
failing step and failure string for the blocked target, nothing for a control, and the
evidence (answers, bodies, timings) that a verdict will later be drawn from. Each also
checks the same run against ``probe.lab.outcomes.EXPECTED``, the table the accuracy
benchmark uses, so that the two cannot drift apart.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from probe.lab import plan
from probe.lab.lab import Lab
from probe.lab.outcomes import PUBLIC_RESOLVER, Measured, compare, read_measurements
from probe.lab.servers.web import PAGE_BYTES

from .labsupport import CONCURRENCY, LATE_WINDOW, TIMEOUT, ProbeRun, RunProbe

pytestmark = [pytest.mark.root, pytest.mark.slow]

TWITTER = "http://twitter.com/"
TWITTER_TLS = "https://twitter.com/"
CONTROL = "http://example.com/"
CONTROL_TLS = "https://example.com/"
SYSTEM = ""
TIMEOUT_FAILURE = "generic_timeout_error"
SLACK = 1.0
"""Seconds a step may overrun its timeout (thread scheduling on a busy 2-core machine)."""
DNS_SECONDS = TIMEOUT + LATE_WINDOW + SLACK
"""The DNS step at worst: the slowest resolver's timeout, or an answer plus the late window."""
STARTUP = 8.0
"""Seconds for the probe process to start and store its run (generous: Python imports, SQLite)."""


def run_bound(targets: int) -> float:
    """The longest a run may take: every step of a target timing out, targets in waves of CONCURRENCY."""
    per_target = DNS_SECONDS + 3 * (TIMEOUT + SLACK)  # DNS, then TCP, TLS and HTTP at worst
    waves = -(-targets // CONCURRENCY)
    return STARTUP + waves * per_target


def assert_matches_expected(scenario: str, run: ProbeRun) -> None:
    agreement = compare(scenario, list(run.measurements.values()))
    assert agreement.agrees, agreement.problems


def assert_reached(measured: Measured, title: str | None = None) -> None:
    assert measured.outcome == (None, None), measured.outcome
    response = measured.response
    assert response is not None and response["code"] == 200
    assert plan.BLOCKPAGE_MARKER not in measured.body
    if title is not None:
        assert response["x_title"] == title


def site(name: str) -> plan.Site:
    return plan.SITES_BY_NAME[name]


def test_clean_lab_reaches_every_site_over_http_and_https_and_the_smsc(censor: Lab, run_probe: RunProbe) -> None:
    censor.scenario("clean")
    inputs = [f"http://{s.name}/" for s in plan.WEB_SITES] + [TWITTER_TLS, CONTROL_TLS]
    run = run_probe(*inputs)
    for web_site in plan.WEB_SITES:
        measured = run[f"http://{web_site.name}/"]
        assert_reached(measured, web_site.title)
        assert measured.answers(SYSTEM) == [[web_site.address]]
        assert measured.answers(PUBLIC_RESOLVER) == [[web_site.address]]  # one answer: no injection
        assert measured.response is not None and measured.response["x_body_length"] == len(measured.body.encode())
    assert_reached(run[TWITTER_TLS], site("twitter.com").title)
    [handshake] = run[TWITTER_TLS].test_keys["tls_handshakes"]
    assert handshake["failure"] is None and "Zhanaozen Probe Lab Root CA" in handshake["x_issuer"]
    smsc = run_probe(f"{plan.SMSC.name}:{plan.SMPP_PORT}", experiment="tcp")
    assert smsc[f"{plan.SMSC.name}:{plan.SMPP_PORT}"].outcome == (None, None)
    assert_matches_expected("clean", ProbeRun({**run.measurements, **smsc.measurements}, 0, "", "", 0))


def test_dns_nxdomain_fails_at_dns_while_the_public_resolver_answers(censor: Lab, run_probe: RunProbe) -> None:
    censor.scenario("dns_nxdomain", ["twitter.com"])
    run = run_probe(TWITTER, CONTROL)
    blocked = run[TWITTER]
    assert blocked.outcome == ("dns", "dns_nxdomain_error")
    assert blocked.queries(SYSTEM)[0]["failure"] == "dns_nxdomain_error"
    assert blocked.answers(PUBLIC_RESOLVER) == [[site("twitter.com").address]]  # the control resolves it
    assert blocked.test_keys["tcp_connect"] == [] and blocked.test_keys["requests"] == []
    assert_reached(run[CONTROL])
    assert_matches_expected("dns_nxdomain", run)


def test_dns_blockpage_answer_leads_to_the_blockpage_and_refuses_https(censor: Lab, run_probe: RunProbe) -> None:
    censor.scenario("dns_blockpage", ["twitter.com"])
    run = run_probe(TWITTER, TWITTER_TLS, CONTROL)
    blocked = run[TWITTER]
    assert blocked.outcome == (None, None)  # the fetch "works": only the page gives it away
    assert blocked.answers(SYSTEM) == [[plan.BLOCKPAGE]]
    assert blocked.answers(PUBLIC_RESOLVER) == [[site("twitter.com").address]]
    assert plan.BLOCKPAGE_MARKER in blocked.body
    assert blocked.response is not None and blocked.response["x_title"] == plan.BLOCKPAGE_TITLE
    assert blocked.test_keys["requests"][0]["address"] == f"{plan.BLOCKPAGE}:80"
    # The blockpage server has no :443, as is usual: https to it is refused.
    assert run[TWITTER_TLS].outcome == ("tcp", "connection_refused")
    assert_reached(run[CONTROL])
    assert_matches_expected("dns_blockpage", run)


def test_dns_bogon_answer_is_recorded_and_connect_is_refused(censor: Lab, run_probe: RunProbe) -> None:
    censor.scenario("dns_bogon", ["twitter.com"])
    run = run_probe(TWITTER, CONTROL)
    blocked = run[TWITTER]
    assert blocked.answers(SYSTEM) == [[plan.BOGON]]
    # 127.0.0.2 is the probe namespace's own loopback, where nothing listens on :80: a RST.
    assert blocked.outcome == ("tcp", "connection_refused")
    assert blocked.test_keys["tcp_connect"][0]["ip"] == plan.BOGON
    assert_reached(run[CONTROL])
    assert_matches_expected("dns_bogon", run)


def test_dns_drop_times_out_for_the_name_only(censor: Lab, run_probe: RunProbe) -> None:
    censor.scenario("dns_drop", ["twitter.com"])
    run = run_probe(TWITTER, CONTROL)
    blocked = run[TWITTER]
    assert blocked.outcome == ("dns", TIMEOUT_FAILURE)
    port53 = [q for q in blocked.test_keys["queries"] if q["engine"] != "doh"]
    assert [q["failure"] for q in port53] == [TIMEOUT_FAILURE, TIMEOUT_FAILURE]
    assert blocked.answers(plan.DOH_URL) == [[site("twitter.com").address]]  # DNS over HTTPS is not port 53
    assert blocked.runtime <= TIMEOUT + SLACK
    assert_reached(run[CONTROL])  # other names still resolve, through both resolvers
    assert run[CONTROL].answers(PUBLIC_RESOLVER) == [[site("example.com").address]]
    assert_matches_expected("dns_drop", run)


def test_dns_injection_gives_two_different_answers_to_one_query(censor: Lab, run_probe: RunProbe) -> None:
    censor.scenario("dns_injection", ["twitter.com"])
    run = run_probe(TWITTER, CONTROL)
    blocked = run[TWITTER]
    first, late = blocked.queries(PUBLIC_RESOLVER)
    assert first["transaction_id"] == late["transaction_id"] and first["x_query_id"] == late["x_query_id"]
    assert late["tags"] == ["late_response"] and first["tags"] == []
    # The forged answer wins the race; the genuine one arrives within the late window.
    assert blocked.answers(PUBLIC_RESOLVER) == [[plan.INJECTED], [site("twitter.com").address]]
    assert first["t"] < late["t"]
    # The ISP resolver's queries never cross the injector: the system answer is genuine.
    assert blocked.answers(SYSTEM) == [[site("twitter.com").address]]
    assert blocked.outcome == (None, None)
    assert run[CONTROL].answers(PUBLIC_RESOLVER) == [[site("example.com").address]]
    assert_matches_expected("dns_injection", run)


def test_dns_hijack_all_makes_the_public_resolver_lie_too(censor: Lab, run_probe: RunProbe) -> None:
    censor.scenario("dns_hijack_all", ["twitter.com"])
    run = run_probe(TWITTER, CONTROL)
    blocked = run[TWITTER]
    assert blocked.answers(SYSTEM) == [[plan.BLOCKPAGE]]
    assert blocked.answers(PUBLIC_RESOLVER) == [[plan.BLOCKPAGE]]  # "8.8.8.8" answered by the ISP's resolver
    assert blocked.outcome == (None, None) and plan.BLOCKPAGE_MARKER in blocked.body
    # Names the censor does not care about are still answered truthfully by the hijacked resolver.
    assert run[CONTROL].answers(PUBLIC_RESOLVER) == [[site("example.com").address]]
    assert_reached(run[CONTROL])
    assert_matches_expected("dns_hijack_all", run)


def test_dns_lie_port53_hijacks_every_port_53_while_doh_tells_the_truth(censor: Lab, run_probe: RunProbe) -> None:
    censor.scenario("dns_lie_port53", ["twitter.com"])
    run = run_probe(TWITTER_TLS, CONTROL)
    blocked = run[TWITTER_TLS]
    assert blocked.outcome == ("dns", "dns_nxdomain_error")
    # "8.8.8.8" on port 53 is answered by the ISP's lying resolver; DNS over HTTPS to it is not.
    assert [q["failure"] for q in blocked.queries(PUBLIC_RESOLVER)] == ["dns_nxdomain_error"]
    assert blocked.answers(plan.DOH_URL) == [[site("twitter.com").address]]
    assert_reached(run[CONTROL])
    assert_matches_expected("dns_lie_port53", run)


def test_residual_reset_holds_the_servers_port_after_the_trigger(censor: Lab, run_probe: RunProbe) -> None:
    censor.scenario("residual_reset", ["twitter.com"])
    first = run_probe(TWITTER, TWITTER_TLS, CONTROL)
    assert first[TWITTER].outcome == ("http", "connection_reset")
    assert_reached(first[TWITTER_TLS])  # the hold is on the triggering port only
    assert_reached(first[CONTROL])
    assert_matches_expected("residual_reset", first)
    again = run_probe(TWITTER)  # inside the hold: the SYN itself is dropped
    assert again[TWITTER].outcome == ("tcp", TIMEOUT_FAILURE)


def test_ip_blackhole_times_out_at_tcp_with_consistent_dns(censor: Lab, run_probe: RunProbe) -> None:
    censor.scenario("ip_blackhole", ["twitter.com"])
    run = run_probe(TWITTER, CONTROL)
    blocked = run[TWITTER]
    assert blocked.outcome == ("tcp", TIMEOUT_FAILURE)
    assert blocked.answers(SYSTEM) == blocked.answers(PUBLIC_RESOLVER) == [[site("twitter.com").address]]
    assert blocked.runtime <= DNS_SECONDS + TIMEOUT + SLACK
    assert_reached(run[CONTROL])
    assert_matches_expected("ip_blackhole", run)


def test_ip_reset_is_connection_refused_at_tcp(censor: Lab, run_probe: RunProbe) -> None:
    censor.scenario("ip_reset", ["twitter.com"])
    run = run_probe(TWITTER, CONTROL)
    # REJECT --reject-with tcp-reset answers the SYN with a RST; a socket in SYN_SENT that gets a
    # RST fails connect() with ECONNREFUSED, so the probe cannot tell it from a closed port.
    assert run[TWITTER].outcome == ("tcp", "connection_refused")
    assert run[TWITTER].runtime <= DNS_SECONDS
    assert_reached(run[CONTROL])
    assert_matches_expected("ip_reset", run)


def test_http_host_reset_resets_after_the_request_and_spares_https(censor: Lab, run_probe: RunProbe) -> None:
    censor.scenario("http_host_reset", ["twitter.com"])
    run = run_probe(TWITTER, TWITTER_TLS, CONTROL)
    blocked = run[TWITTER]
    assert blocked.outcome == ("http", "connection_reset")
    assert blocked.test_keys["tcp_connect"][0]["status"]["success"]  # the handshake was let through
    assert blocked.response is None
    assert_reached(run[TWITTER_TLS])  # the Host header is encrypted there
    assert_reached(run[CONTROL])
    assert_matches_expected("http_host_reset", run)


def test_http_blockpage_replaces_the_page_at_the_same_address(censor: Lab, run_probe: RunProbe) -> None:
    censor.scenario("http_blockpage", ["twitter.com"])
    run = run_probe(TWITTER, TWITTER_TLS, CONTROL)
    blocked = run[TWITTER]
    assert blocked.outcome == (None, None)
    assert blocked.answers(SYSTEM) == [[site("twitter.com").address]]  # DNS is honest
    assert blocked.test_keys["requests"][0]["address"] == f"{site('twitter.com').address}:80"
    assert plan.BLOCKPAGE_MARKER in blocked.body
    assert blocked.response is not None and blocked.response["x_title"] != site("twitter.com").title
    assert blocked.response["x_body_length"] < PAGE_BYTES // 10
    assert_reached(run[TWITTER_TLS], site("twitter.com").title)
    assert_reached(run[CONTROL])
    assert_matches_expected("http_blockpage", run)


def test_sni_reset_resets_after_client_hello_and_spares_http(censor: Lab, run_probe: RunProbe) -> None:
    censor.scenario("sni_reset", ["twitter.com"])
    run = run_probe(TWITTER_TLS, TWITTER, CONTROL_TLS)
    blocked = run[TWITTER_TLS]
    assert blocked.outcome == ("tls", "connection_reset")
    assert blocked.test_keys["tcp_connect"][0]["status"]["success"]
    assert blocked.test_keys["tls_handshakes"][0]["failure"] == "connection_reset"
    assert_reached(run[TWITTER])
    assert_reached(run[CONTROL_TLS])
    assert_matches_expected("sni_reset", run)


def test_sni_drop_times_out_after_client_hello(censor: Lab, run_probe: RunProbe) -> None:
    censor.scenario("sni_drop", ["twitter.com"])
    run = run_probe(TWITTER_TLS, TWITTER, CONTROL_TLS)
    blocked = run[TWITTER_TLS]
    assert blocked.outcome == ("tls", TIMEOUT_FAILURE)
    assert blocked.test_keys["tcp_connect"][0]["status"]["success"]
    assert blocked.runtime <= DNS_SECONDS + TIMEOUT + SLACK
    assert_reached(run[TWITTER])
    assert_reached(run[CONTROL_TLS])
    assert_matches_expected("sni_drop", run)


def test_throttled_site_times_out_mid_body(censor: Lab, run_probe: RunProbe) -> None:
    censor.scenario("throttling", ["twitter.com"])
    # One throttled flow at a time. Flows from the site share the shaper's short queue (THROTTLE_QUEUE): when
    # the HTTPS fetch's body fills it, the HTTP fetch's first segments are dropped, and their retransmissions
    # with them, so that fetch can end with no body at all (seen in 3 of 12 loaded runs, with 2 s and 5 s
    # timeouts alike). Alone, its first segments pass in order.
    plain = run_probe(TWITTER, CONTROL)
    over_tls = run_probe(TWITTER_TLS)
    slowed = plain[TWITTER]
    # Connected and answered, then the 200 kB body trickles: the HTTP deadline ends it.
    assert slowed.outcome == ("http", TIMEOUT_FAILURE)
    assert slowed.test_keys["tcp_connect"][0]["status"]["success"]
    response = slowed.response
    assert response is not None and response["code"] == 200
    assert 0 < response["x_body_length"] < PAGE_BYTES // 4
    # Over TLS the handshake itself crawls: which step runs out of time first depends on timing.
    assert over_tls[TWITTER_TLS].outcome in {("tls", TIMEOUT_FAILURE), ("http", TIMEOUT_FAILURE)}
    assert_reached(plain[CONTROL])
    assert_matches_expected("throttling", ProbeRun({**plain.measurements, **over_tls.measurements}, 0, "", "", 0))


def test_site_down_times_out_at_tcp_and_the_probe_finishes(censor: Lab, run_probe: RunProbe) -> None:
    censor.scenario("site_down", ["twitter.com"])
    others = [f"http://{s.name}/" for s in plan.WEB_SITES if s.name != "twitter.com"]
    run = run_probe(TWITTER, *others)
    down = run[TWITTER]
    assert down.outcome == ("tcp", TIMEOUT_FAILURE)
    assert down.answers(SYSTEM) == down.answers(PUBLIC_RESOLVER) == [[site("twitter.com").address]]
    assert down.runtime <= DNS_SECONDS + TIMEOUT + SLACK
    for value in others:
        assert_reached(run[value])
    assert run.seconds <= run_bound(len(others) + 1)
    assert_matches_expected("site_down", ProbeRun({k: run[k] for k in (TWITTER, CONTROL)}, 0, "", "", 0))


def test_full_shutdown_fails_every_target_within_its_timeouts(censor: Lab, run_probe: RunProbe) -> None:
    censor.scenario("full_shutdown")
    inputs = [f"http://{s.name}/" for s in plan.WEB_SITES] + [TWITTER_TLS, CONTROL_TLS]
    run = run_probe(*inputs)
    for value in inputs:
        measured = run[value]
        # The gateway's resolver still answers, SERVFAIL (its upstream is unreachable), which
        # getaddrinfo reports as EAI_AGAIN; the public resolver is silent.
        assert measured.outcome == ("dns", "dns_temporary_failure"), value
        assert measured.queries(PUBLIC_RESOLVER)[0]["failure"] == TIMEOUT_FAILURE
        assert measured.runtime <= TIMEOUT + SLACK
    assert run.seconds <= run_bound(len(inputs))
    assert "interrupted" not in run.stderr
    assert_matches_expected("full_shutdown", ProbeRun({k: run[k] for k in (TWITTER, CONTROL)}, 0, "", "", 0))


def test_sms_gateway_cut_blocks_smpp_and_api_while_web_works(censor: Lab, run_probe: RunProbe) -> None:
    censor.scenario("sms_gateway_cut")
    smpp = f"{plan.SMSC.name}:{plan.SMPP_PORT}"
    tcp = run_probe(smpp, "twitter.com:443", experiment="tcp")
    assert tcp[smpp].outcome == ("tcp", TIMEOUT_FAILURE)
    assert tcp[smpp].test_keys["connection"] == TIMEOUT_FAILURE
    assert tcp["twitter.com:443"].outcome == (None, None)
    web = run_probe(f"http://{plan.SMS_API.name}/", TWITTER, CONTROL_TLS)
    assert web[f"http://{plan.SMS_API.name}/"].outcome == ("tcp", TIMEOUT_FAILURE)
    assert_reached(web[TWITTER])
    assert_reached(web[CONTROL_TLS])
    assert_matches_expected(
        "sms_gateway_cut", ProbeRun({smpp: tcp[smpp], **{k: web[k] for k in web.measurements}}, 0, "", "", 0)
    )


def _wait_for_rows(db: Path, count: int, process: subprocess.Popen[str], limit: float = 60.0) -> int:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            found = len(read_measurements(db))
        except Exception:  # the database does not exist yet, or is being created
            found = 0
        if found >= count:
            return found
        assert process.poll() is None, "the probe finished before the scenario was switched"
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} measurements after {limit:g} s")


def test_scenario_switch_while_probe_runs_shows_the_outage_window(censor: Lab, tmp_path: Path) -> None:
    config = censor.probe_config(tmp_path, timeout=TIMEOUT, late_answer_window=LATE_WINDOW, concurrency=1)
    inputs = [f"http://{s.name}/" for s in plan.WEB_SITES] + [f"https://{s.name}/" for s in plan.WEB_SITES[:3]]
    db = tmp_path / "window.db"
    args = ["run", "--accept", "--config", str(config), "--db", str(db)] + [
        a for value in inputs for a in ("--url", value)
    ]
    process = subprocess.Popen(censor.probe_argv(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = _wait_for_rows(db, 1, process)
        censor.scenario("full_shutdown")
        _wait_for_rows(db, seen + 2, process)
        censor.scenario("clean")
        _, stderr = process.communicate(timeout=run_bound(len(inputs)))
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    failed = [m.failure is not None for m in read_measurements(db)]
    assert len(failed) == len(inputs)
    # reached, then failures (the outage), then reached again: one window, where the switches were.
    assert not failed[0] and not failed[-1] and any(failed)
    first, last = failed.index(True), len(failed) - 1 - failed[::-1].index(True)
    assert all(failed[first : last + 1])


def _measure_from_helper(lab: Lab, config: Path, db: Path, *inputs: str) -> dict[str, Measured]:
    args = ["run", "--accept", "--config", str(config), "--db", str(db)] + [
        a for value in inputs for a in ("--url", value)
    ]
    done = lab.exec([sys.executable, "-m", "probe", *args], role="helper", capture=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return {m.input: m for m in read_measurements(db)}


def test_helper_namespace_sees_past_the_censor_but_not_a_site_that_is_down(
    censor: Lab, lab_config: Path, tmp_path: Path
) -> None:
    censor.scenario("full_shutdown")
    outside = _measure_from_helper(censor, lab_config, tmp_path / "helper-1.db", TWITTER, TWITTER_TLS)
    assert_reached(outside[TWITTER], site("twitter.com").title)  # its system resolver is the public one
    assert_reached(outside[TWITTER_TLS])
    censor.scenario("site_down", ["twitter.com"])
    outside = _measure_from_helper(censor, lab_config, tmp_path / "helper-2.db", TWITTER, CONTROL)
    assert outside[TWITTER].outcome == ("tcp", TIMEOUT_FAILURE)  # down for everyone: not censorship
    assert_reached(outside[CONTROL])
