"""The web experiment end to end against real servers on loopback: DNS, TCP, TLS, HTTP."""

from __future__ import annotations

import time

from conftest import context, loopback_config
from support.dnsserver import NXDOMAIN, SILENT, Answer, Injected, running_dns_server
from support.servers import (
    blockpage,
    http_server,
    page,
    redirect,
    reset_after_hello_server,
    silent_after_hello_server,
    tcp_refusing_port,
)
from support.testca import PKI
from support.timing import SLACK

from probe.experiments import get_experiment

WEB = get_experiment("web")
LOOPBACK = Answer(("127.0.0.1",))
TITLE_PAGE = "<html><head><title>Guljan news</title></head><body>news</body></html>"


def test_reachable_page_records_every_step_and_no_failure() -> None:
    with running_dns_server({"guljan.test": LOOPBACK}) as dns, http_server({"/": page(TITLE_PAGE)}) as web:
        m = WEB.run(f"http://guljan.test:{web.port}/", context(loopback_config(dns.spec())))
    keys = m.test_keys
    assert (m.failure, m.failed_step) == (None, None)
    assert keys.queries[0].answers and keys.queries[0].answers[0].ipv4 == "127.0.0.1"
    assert [c.status.success for c in keys.tcp_connect] == [True]
    response = keys.requests[0].response
    assert response is not None and response.code == 200 and response.x_title == "Guljan news"
    assert keys.model_dump()["http_experiment_failure"] is None


def test_nxdomain_stops_at_dns_and_is_the_failure() -> None:
    with running_dns_server({}, default=NXDOMAIN) as dns:
        m = WEB.run("http://ridus.test/", context(loopback_config(dns.spec())))
    assert (m.failed_step, m.failure) == ("dns", "dns_nxdomain_error")
    assert m.test_keys.tcp_connect == [] and m.test_keys.requests == []


def test_silent_resolver_is_a_dns_timeout_within_the_timeout() -> None:
    with running_dns_server({"x.test": SILENT}) as dns:
        begin = time.monotonic()
        m = WEB.run("http://x.test/", context(loopback_config(dns.spec())))
    assert (m.failed_step, m.failure) == ("dns", "generic_timeout_error")
    assert time.monotonic() - begin < 1.0 + SLACK  # the DNS timeout of loopback_config


def test_forged_then_genuine_answers_are_both_recorded() -> None:
    injected = Injected(forged=("127.0.0.2",), genuine=("127.0.0.1",), delay=0.15)
    with running_dns_server({"twitter.test": injected}) as dns, http_server({"/": page(TITLE_PAGE)}) as web:
        m = WEB.run(f"http://twitter.test:{web.port}/", context(loopback_config(dns.spec())))
    queries = m.test_keys.queries
    assert [q.tags for q in queries] == [[], ["late_response"]]
    assert queries[0].transaction_id == queries[1].transaction_id
    assert queries[0].answers and queries[0].answers[0].ipv4 == "127.0.0.2"
    assert queries[1].answers and queries[1].answers[0].ipv4 == "127.0.0.1"
    # The forged address is the one a browser would have used: nothing listens there.
    assert m.test_keys.tcp_connect[0].ip == "127.0.0.2"


def test_refused_port_fails_at_tcp_and_skips_http() -> None:
    with running_dns_server({"respublika.test": LOOPBACK}) as dns, tcp_refusing_port() as port:
        m = WEB.run(f"http://respublika.test:{port.port}/", context(loopback_config(dns.spec())))
    assert (m.failed_step, m.failure) == ("tcp", "connection_refused")
    assert m.test_keys.requests == []


def test_untrusted_certificate_is_ssl_unknown_authority_with_the_interceptor_recorded(pki: PKI) -> None:
    with running_dns_server({"localhost": LOOPBACK}) as dns, http_server({"/": page("x")}, leaf=pki.intercepted) as w:
        config = loopback_config(dns.spec(), ca_bundle=pki.ca.cert_path)
        m = WEB.run(f"https://localhost:{w.port}/", context(config))
    assert (m.failed_step, m.failure) == ("tls", "ssl_unknown_authority")
    handshake = m.test_keys.tls_handshakes[0]
    assert handshake.server_name == "localhost"
    assert handshake.x_issuer and "Unknown Interception CA" in handshake.x_issuer
    assert handshake.peer_certificates


def test_trusted_https_page_records_tls_version_and_issuer(pki: PKI) -> None:
    with running_dns_server({"localhost": LOOPBACK}) as dns, http_server({"/": page(TITLE_PAGE)}, leaf=pki.leaf) as w:
        config = loopback_config(dns.spec(), ca_bundle=pki.ca.cert_path)
        m = WEB.run(f"https://localhost:{w.port}/", context(config))
    assert m.failure is None
    handshake = m.test_keys.tls_handshakes[0]
    assert handshake.tls_version and handshake.tls_version.startswith("TLSv1.")
    assert handshake.cipher_suite
    assert handshake.x_issuer and "Probe Test Root CA" in handshake.x_issuer


def test_sni_reset_fails_at_tls_with_connection_reset(pki: PKI) -> None:
    with running_dns_server({"localhost": LOOPBACK}) as dns, reset_after_hello_server() as middlebox:
        config = loopback_config(dns.spec(), ca_bundle=pki.ca.cert_path)
        m = WEB.run(f"https://localhost:{middlebox.port}/", context(config))
    assert (m.failed_step, m.failure) == ("tls", "connection_reset")


def test_host_header_reset_fails_at_http_with_connection_reset() -> None:
    with running_dns_server({"guljan.test": LOOPBACK}) as dns, reset_after_hello_server() as middlebox:
        m = WEB.run(f"http://guljan.test:{middlebox.port}/", context(loopback_config(dns.spec())))
    assert (m.failed_step, m.failure) == ("http", "connection_reset")
    assert m.test_keys.tcp_connect[0].status.success


def test_silent_after_request_is_an_http_timeout_bounded_by_the_http_timeout() -> None:
    with running_dns_server({"guljan.test": LOOPBACK}) as dns, silent_after_hello_server() as middlebox:
        begin = time.monotonic()
        m = WEB.run(f"http://guljan.test:{middlebox.port}/", context(loopback_config(dns.spec())))
    assert (m.failed_step, m.failure) == ("http", "generic_timeout_error")
    assert time.monotonic() - begin < 2.0 + SLACK  # the HTTP timeout of loopback_config


def test_blockpage_is_fetched_and_recorded_as_seen() -> None:
    routes = {"/": redirect("/blocked"), "/blocked": blockpage()}
    with running_dns_server({"guljan.test": LOOPBACK}) as dns, http_server(routes) as web:
        m = WEB.run(f"http://guljan.test:{web.port}/", context(loopback_config(dns.spec())))
    assert m.failure is None
    final, first = m.test_keys.requests
    assert final.request.url.endswith("/blocked") and first.response and first.response.code == 302
    assert final.response and isinstance(final.response.body, str)
    assert "Страница заблокирована" in final.response.body


def test_redirect_to_another_host_resolves_it_through_the_first_resolver() -> None:
    records = {"old.test": LOOPBACK, "new.test": LOOPBACK}
    with running_dns_server(records) as dns, http_server({"/": page(TITLE_PAGE)}) as web:
        with http_server({"/": redirect(f"http://new.test:{web.port}/")}) as old:
            m = WEB.run(f"http://old.test:{old.port}/", context(loopback_config(dns.spec())))
    assert m.failure is None
    assert m.test_keys.requests[0].request.url == f"http://new.test:{web.port}/"
    assert ("udp", "new.test", "A") in [(p, n.rstrip(".").lower(), t) for p, n, t in dns.queries]


def test_https_sends_one_clienthello_the_http_step_reuses_the_tls_connection(pki: PKI) -> None:
    with running_dns_server({"localhost": LOOPBACK}) as dns, http_server({"/": page(TITLE_PAGE)}, leaf=pki.leaf) as w:
        config = loopback_config(dns.spec(), ca_bundle=pki.ca.cert_path)
        m = WEB.run(f"https://localhost:{w.port}/", context(config))
    assert m.failure is None
    assert len(w.connections) == 1, "one connection, one ClientHello: the HTTP step used the TLS step's"
    keys = m.test_keys
    assert (len(keys.tcp_connect), len(keys.tls_handshakes), len(keys.requests)) == (1, 1, 1)
    assert keys.requests[0].address == f"127.0.0.1:{w.port}"
    assert [e.operation for e in keys.network_events].count("tls_handshake_start") == 1


def test_http_reuses_the_tcp_connection_of_the_tcp_step() -> None:
    with running_dns_server({"guljan.test": LOOPBACK}) as dns, http_server({"/": page(TITLE_PAGE)}) as web:
        m = WEB.run(f"http://guljan.test:{web.port}/", context(loopback_config(dns.spec())))
    assert m.failure is None and len(web.requests) == 1
    assert len(web.connections) == 1


def test_a_redirect_to_another_port_connects_anew_and_only_then() -> None:
    with running_dns_server({"guljan.test": LOOPBACK}) as dns, http_server({"/": page(TITLE_PAGE)}) as target:
        with http_server({"/": redirect(f"http://guljan.test:{target.port}/")}) as first:
            m = WEB.run(f"http://guljan.test:{first.port}/", context(loopback_config(dns.spec())))
    assert m.failure is None
    assert (len(first.connections), len(target.connections)) == (1, 1)
