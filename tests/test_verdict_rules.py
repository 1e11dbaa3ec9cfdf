"""The decision rules on recorded observations: one test per rule, named after it, in the rules' order.

Each observation is a web measurement's test keys as the probe stores them (OONI's shapes), cut
down to what the rule looks at. The site is ``guljan.org`` at 198.51.100.7 (TEST-NET-2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from probe.fingerprints import load_fingerprints, parse_fingerprints
from probe.verdict import judge_test_keys
from probe.verdict.network import NetworkContext
from probe.verdict.rules import Verdict

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = load_fingerprints(sorted((ROOT / "configs" / "fingerprints").glob("*.csv")))
URL = "http://guljan.org/"
HTTPS_URL = "https://guljan.org/"
SITE = "198.51.100.7"
TITLE = "Guljan news portal"
PAGE = f"<html><head><title>{TITLE}</title></head><body>{'news ' * 400}</body></html>"
BLOCKPAGE = "<html><head><title>Доступ ограничен</title></head><body><h1>Страница заблокирована</h1></body></html>"


# --- recorded observations, built from their parts ------------------------------------------------------


def query(
    addresses: tuple[str, ...] = (SITE,),
    *,
    failure: str | None = None,
    engine: str = "system",
    resolver: str = "",
    tid: int = 1,
    late: bool = False,
) -> dict[str, Any]:
    answers = [{"answer_type": "A", "ipv4": a} for a in addresses] or None
    return {
        "engine": engine,
        "resolver_address": resolver,
        "hostname": "guljan.org",
        "query_type": "A",
        "answers": answers,
        "failure": failure,
        "t0": 0.0,
        "t": 0.01,
        "transaction_id": tid,
        "tags": ["late_response"] if late else [],
    }


def connect(ip: str = SITE, port: int = 80, failure: str | None = None) -> dict[str, Any]:
    return {"ip": ip, "port": port, "status": {"success": failure is None, "failure": failure}}


def handshake(failure: str | None = None, issuer: str = "CN=R11,O=Let's Encrypt,C=US") -> dict[str, Any]:
    return {"address": f"{SITE}:443", "server_name": "guljan.org", "failure": failure, "x_issuer": issuer}


def request(
    url: str = URL,
    *,
    code: int | None = 200,
    body: str | None = PAGE,
    failure: str | None = None,
    headers: dict[str, str] | None = None,
    seconds: float = 0.05,
    length: int | None = None,
) -> dict[str, Any]:
    response = None
    if code is not None:
        response = {
            "code": code,
            "headers": headers if headers is not None else {"Content-Type": "text/html; charset=utf-8"},
            "body": body,
            "x_body_length": length if length is not None else len((body or "").encode()),
        }
    return {"request": {"url": url}, "response": response, "failure": failure, "t0": 1.0, "t": 1.0 + seconds}


def control(
    *,
    addresses: tuple[str, ...] = (SITE,),
    dns_failure: str | None = None,
    port: int = 80,
    tcp_ok: bool = True,
    tls_ok: bool | None = None,
    issuer: str = "CN=R11,O=Let's Encrypt,C=US",
    status: int = 200,
    title: str = TITLE,
    body_length: int = len(PAGE),
    http_failure: str | None = None,
    seconds: float | None = None,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "dns": {"addrs": list(addresses), "failure": dns_failure},
        "tcp_connect": {
            f"{a}:{port}": {"status": tcp_ok, "failure": None if tcp_ok else "generic_timeout_error"} for a in addresses
        },
        "http_request": {
            "status_code": status if http_failure is None else -1,
            "body_length": body_length if http_failure is None else -1,
            "title": title,
            "headers": {"Content-Type": "text/html; charset=utf-8"},
            "failure": http_failure,
        },
    }
    if seconds is not None:
        document["http_request"]["x_transfer_seconds"] = seconds
    if tls_ok is not None:
        document["tls_handshake"] = {
            f"{a}:443": {"server_name": "guljan.org", "status": tls_ok, "failure": None, "x_issuer": issuer}
            for a in addresses
        }
    return document


def keys(
    *,
    queries: list[dict[str, Any]] | None = None,
    tcp: list[dict[str, Any]] | None = None,
    tls: list[dict[str, Any]] | None = None,
    requests: list[dict[str, Any]] | None = None,
    ctrl: dict[str, Any] | None = None,
    control_failure: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Test keys of a measurement; ``requests`` oldest first (stored most recent first, as OONI does)."""
    return {
        "queries": [query()] if queries is None else queries,
        "tcp_connect": [connect()] if tcp is None else tcp,
        "tls_handshakes": tls or [],
        "requests": list(reversed([request()] if requests is None else requests)),
        "control": control() if ctrl is None and control_failure is None else ctrl,
        "control_failure": control_failure,
        **extra,
    }


def judge(data: dict[str, Any], url: str = URL, **options: Any) -> Verdict:
    return judge_test_keys(url, data, **options)


def outcome(verdict: Verdict) -> tuple[str, str | None, str | None]:
    return verdict.verdict, verdict.blocking, verdict.blocking_detail


# --- one test per rule ------------------------------------------------------------------------------------


def test_rule_dns_injection() -> None:
    # The system resolver answered right and the page came; a foreign resolver got a forged answer first.
    queries = [
        query(),
        query(("10.10.34.35",), engine="udp", resolver="8.8.8.8:53", tid=2),
        query((SITE,), engine="udp", resolver="8.8.8.8:53", tid=2, late=True),
    ]
    verdict = judge(keys(queries=queries))
    assert (verdict.rule, *outcome(verdict)) == ("dns_injection", "blocked", "dns", "dns_injection")
    assert "10.10.34.35" in verdict.reason and "8.8.8.8:53" in verdict.reason


def test_rule_network_down() -> None:
    failing = keys(tcp=[connect(failure="generic_timeout_error")], requests=[], control_failure="generic_timeout_error")
    verdict = judge(failing, network=NetworkContext("shutdown"))
    assert (verdict.rule, *outcome(verdict)) == ("network_down", "network_down", None, None)


def test_rule_degraded_network() -> None:
    failing = keys(tcp=[connect(failure="connection_reset")], requests=[])
    verdict = judge(failing, network=NetworkContext("degraded"))
    assert (verdict.rule, *outcome(verdict)) == ("degraded_network", "inconclusive", None, None)


def test_rule_blockpage_fingerprint() -> None:
    page = request(body=BLOCKPAGE, headers={"Server": "nginx", "Content-Type": "text/html; charset=utf-8"})
    verdict = judge(keys(requests=[page]), fingerprints=SHIPPED)
    assert (verdict.rule, *outcome(verdict)) == (
        "blockpage_fingerprint",
        "blocked",
        "http-diff",
        "http_blockpage:zp.kz_blocked_marker",
    )
    assert verdict.confirmed and "zp.kz_access_restricted_title" in verdict.fingerprints


def test_rule_control_unavailable() -> None:
    verdict = judge(keys(tcp=[connect(failure="connection_reset")], requests=[], control_failure="connection_refused"))
    assert (verdict.rule, *outcome(verdict)) == ("control_unavailable", "inconclusive", None, None)
    assert "connection_refused" in verdict.reason


def test_rule_ghost_dns() -> None:
    # An answer for a name that does not exist: here a redirect to a search page, no blockpage to confirm it.
    hijack = request(code=302, body="", headers={"Location": "http://search.isp.example/?q=guljan.org"})
    ctrl = control(addresses=(), dns_failure="dns_name_error", http_failure="dns_lookup_error")
    verdict = judge(keys(queries=[query(("203.0.113.9",))], tcp=[connect("203.0.113.9")], requests=[hijack], ctrl=ctrl))
    assert (verdict.rule, *outcome(verdict)) == ("ghost_dns", "blocked", "dns", "dns_ghost")
    assert not verdict.confirmed and "search.isp.example" in verdict.reason and "inside this network" in verdict.reason


def test_rule_nxdomain_at_control() -> None:
    ctrl = control(addresses=(), dns_failure="dns_name_error", http_failure="dns_lookup_error")
    verdict = judge(keys(queries=[query((), failure="dns_nxdomain_error")], tcp=[], requests=[], ctrl=ctrl))
    assert (verdict.rule, *outcome(verdict)) == ("nxdomain_at_control", "site_down", None, None)
    assert "no such name" in verdict.reason


def test_rule_site_down() -> None:
    failing = keys(tcp=[connect(failure="generic_timeout_error")], requests=[])
    verdict = judge({**failing, "control": control(tcp_ok=False, http_failure="generic_timeout_error")})
    assert (verdict.rule, *outcome(verdict)) == ("site_down", "site_down", None, None)


def test_rule_dns_failure() -> None:
    verdict = judge(keys(queries=[query((), failure="dns_nxdomain_error")], tcp=[], requests=[]))
    assert (verdict.rule, *outcome(verdict)) == ("dns_failure", "blocked", "dns", "dns_nxdomain")


def test_rule_dns_inconsistent() -> None:
    bogon = keys(queries=[query(("127.0.0.2",))], tcp=[connect("127.0.0.2", failure="connection_refused")], requests=[])
    verdict = judge(bogon)
    assert (verdict.rule, *outcome(verdict)) == ("dns_inconsistent", "blocked", "dns", "dns_bogon")


def test_rule_tcp_blocked() -> None:
    verdict = judge(keys(tcp=[connect(failure="generic_timeout_error")], requests=[]))
    assert (verdict.rule, *outcome(verdict)) == ("tcp_blocked", "blocked", "tcp_ip", "tcp_timeout")


def test_rule_tls_interception() -> None:
    mitm = handshake("ssl_unknown_authority", issuer="CN=Qaznet Trust Network,O=Qaznet")
    data = keys(tcp=[connect(port=443)], tls=[mitm], requests=[], ctrl=control(port=443, tls_ok=True))
    verdict = judge(data, HTTPS_URL)
    assert (verdict.rule, *outcome(verdict)) == ("tls_interception", "blocked", "tls", "tls_mitm")
    assert "Qaznet" in verdict.reason


def test_rule_tls_blocked() -> None:
    reset = handshake("connection_reset")
    data = keys(tcp=[connect(port=443)], tls=[reset], requests=[], ctrl=control(port=443, tls_ok=True))
    verdict = judge(data, HTTPS_URL)
    assert (verdict.rule, *outcome(verdict)) == ("tls_blocked", "blocked", "tls", "tls_reset")


def test_rule_throttled() -> None:
    # 4 kB in 2 s, cut off by the timeout; the control had the whole 200 kB page in 50 ms.
    slow = request(body="x" * 4000, failure="generic_timeout_error", seconds=2.0)
    data = keys(requests=[slow], ctrl=control(body_length=200_000, seconds=0.05))
    verdict = judge(data)
    assert (verdict.rule, *outcome(verdict)) == ("throttled", "blocked", "http-failure", "throttled")


def test_rule_redirect_to_private() -> None:
    portal = request(
        code=307,
        body="",
        headers={"Location": "http://192.168.22.1/UserCheck/PortalMain?IID=1"},
        failure="http_invalid_redirect_url",
    )
    verdict = judge(keys(requests=[portal]))
    assert (verdict.rule, *outcome(verdict)) == (
        "redirect_to_private",
        "blocked",
        "http-failure",
        "http_redirect_private",
    )


def test_rule_probe_error() -> None:
    bug = request(code=None, failure="unknown_failure 'ascii' codec can't decode byte 0xd9")
    verdict = judge(keys(requests=[bug], http_experiment_failure=bug["failure"]))
    assert (verdict.rule, *outcome(verdict)) == ("probe_error", "inconclusive", None, None)


def test_rule_http_failure() -> None:
    verdict = judge(keys(requests=[request(code=None, failure="connection_reset")]))
    assert (verdict.rule, *outcome(verdict)) == ("http_failure", "blocked", "http-failure", "http_reset")


def test_rule_http_diff() -> None:
    other = request(body="<html><head><title>Сайт недоступен по решению суда</title></head></html>")
    verdict = judge(keys(requests=[other]))
    assert (verdict.rule, *outcome(verdict)) == ("http_diff", "blocked", "http-diff", "http_diff")
    assert not verdict.confirmed and "titles conflict" in verdict.reason


def test_rule_accessible() -> None:
    verdict = judge(keys())
    assert (verdict.rule, *outcome(verdict)) == ("accessible", "accessible", None, None)


def test_rule_unexplained() -> None:
    # A page, and a control that only resolved the name: nothing to compare the page with.
    verdict = judge(keys(ctrl={"dns": {"addrs": [SITE], "failure": None}}))
    assert (verdict.rule, *outcome(verdict)) == ("unexplained", "inconclusive", None, None)


# --- where the rules depart from OONI's -------------------------------------------------------------------


def test_a_failure_that_does_not_repeat_is_not_a_block() -> None:
    retry = {"queries": [query()], "tcp_connect": [connect()], "requests": [request()], "x_failure": None}
    first_try = keys(tcp=[connect(failure="connection_reset")], requests=[], x_retries=[retry])
    verdict = judge(first_try)
    assert outcome(verdict) == ("accessible", None, None)
    assert "connection_reset" in verdict.reason and "not a block" in verdict.reason


def test_a_failure_on_every_try_is_judged_and_says_so() -> None:
    retry = {"queries": [query()], "tcp_connect": [connect(failure="generic_timeout_error")], "requests": []}
    verdict = judge(keys(tcp=[connect(failure="generic_timeout_error")], requests=[], x_retries=[retry, retry]))
    assert outcome(verdict) == ("blocked", "tcp_ip", "tcp_timeout")
    assert "all 3 tries" in verdict.reason


def test_an_https_page_through_a_trusted_interception_root_is_not_access() -> None:
    intercepted = handshake(None, issuer="CN=Qaznet Trust Network,O=Qaznet")
    data = keys(tcp=[connect(port=443)], tls=[intercepted], requests=[request(HTTPS_URL)], ctrl=control(tls_ok=True))
    verdict = judge(data, HTTPS_URL)
    assert outcome(verdict) == ("blocked", "tls", "tls_mitm")


def test_rule_server_refusal_a_status_the_site_itself_answers_over_verified_tls() -> None:
    refused = request(HTTPS_URL, code=451, body="<title>Unavailable For Legal Reasons</title>")
    data = keys(tcp=[connect(port=443)], tls=[handshake()], requests=[refused], ctrl=control(tls_ok=True))
    verdict = judge(data, HTTPS_URL)
    assert (verdict.rule, *outcome(verdict)) == ("server_refusal", "accessible", None, None)
    assert "451" in verdict.reason and "200" in verdict.reason and "not the network's" in verdict.reason


def test_bogons_the_control_sees_too_are_not_suspicious() -> None:
    lab = "198.19.1.2"  # a lab, a corporate network or a split-horizon zone
    data = keys(queries=[query((lab,))], tcp=[connect(lab)], ctrl=control(addresses=(lab,)))
    assert outcome(judge(data)) == ("accessible", None, None)


def test_a_page_that_differs_only_in_size_is_not_called_blocked() -> None:
    # A parked domain's page: same status, a tenth of the size, no title to compare, other headers.
    parked = request(body="<html><body>ads</body></html>", headers={"Server": "Apache", "Content-Type": "text/html"})
    verdict = judge(keys(requests=[parked]))
    assert outcome(verdict) == ("inconclusive", None, None) and verdict.suspected == "http-diff"


def test_a_known_false_positive_fingerprint_never_confirms() -> None:
    fingerprints = parse_fingerprints(
        "name,scope,other_names,location_found,pattern_type,pattern\n"
        "zp.test_captcha,fp,,body,contains,Checking your browser\n"
    )
    page = request(body="<html><head><title>Just a moment</title></head><body>Checking your browser</body></html>")
    verdict = judge(keys(requests=[page]), fingerprints=fingerprints)
    assert outcome(verdict) == ("inconclusive", None, None) and not verdict.confirmed
    assert verdict.suspected is None, "a known false positive leaves no suspicion of blocking behind"
    assert "zp.test_captcha" in verdict.reason


def test_a_blockpage_behind_a_lying_resolver_is_dns_blocking_confirmed() -> None:
    blockpage_ip = "198.18.3.1"
    data = keys(
        queries=[query((blockpage_ip,))],
        tcp=[connect(blockpage_ip)],
        requests=[request(body=BLOCKPAGE)],
        ctrl=control(addresses=("198.19.1.2",)),
    )
    verdict = judge(data, fingerprints=SHIPPED)
    assert outcome(verdict) == ("blocked", "dns", "dns_blockpage_ip") and verdict.confirmed


def test_without_a_control_a_failure_stays_inconclusive_and_a_blockpage_is_still_confirmed() -> None:
    no_control = keys(tcp=[connect(failure="connection_reset")], requests=[], ctrl=None)
    no_control["control"] = None
    assert outcome(judge(no_control)) == ("inconclusive", None, None)
    blockpage = keys(requests=[request(body=BLOCKPAGE)])
    blockpage["control"] = None
    assert judge(blockpage, fingerprints=SHIPPED).confirmed
