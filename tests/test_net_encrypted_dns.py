"""DNS over HTTPS and over TLS (``[dns] resolvers`` ``https://HOST/dns-query`` and ``tls://IP:853``) against real
loopback servers whose certificate the test CA signed."""

from __future__ import annotations

import pytest
from support.dnsserver import NXDOMAIN, Answer
from support.encrypted_dns import running_doh_server, running_dot_server
from support.testca import PKI

from probe.errors import ConfigError
from probe.net import dns
from probe.net.trace import Trace
from probe.resolvers import Resolver, parse_resolver

TRUTH = Answer(("198.51.100.7",))


def test_encrypted_resolver_specs_parse_and_print_back() -> None:
    doh = parse_resolver("https://dns.example/dns-query")
    assert (doh.engine, doh.host, doh.port, doh.path, doh.address) == (
        "doh",
        "dns.example",
        443,
        "/dns-query",
        "https://dns.example/dns-query",
    )
    assert str(parse_resolver("https://127.0.0.1:8443/q")) == "https://127.0.0.1:8443/q"
    dot = parse_resolver("tls://198.51.100.53")
    assert (dot.engine, dot.port, dot.address, str(dot)) == ("dot", 853, "198.51.100.53:853", "tls://198.51.100.53:853")
    assert dot.encrypted and doh.encrypted and not parse_resolver("udp://192.0.2.1").encrypted


@pytest.mark.parametrize("spec", ["tls://dns.example:853", "https:///dns-query", "https://h/q?x=1", "quic://1.1.1.1"])
def test_bad_encrypted_resolver_specs_are_one_clear_error(spec: str) -> None:
    with pytest.raises(ConfigError, match="resolver"):
        parse_resolver(spec)


def lookup(resolver: Resolver, pki: PKI | None, name: str = "guljan.test") -> list[dns.DNSQuery]:
    ca = pki.ca.cert_path if pki is not None else None
    return dns.lookup(name, resolver, "A", Trace(), timeout=5.0, late_window=0.0, ca_bundle=ca)


def test_doh_answers_through_https_with_a_verified_certificate(pki: PKI) -> None:
    with running_doh_server({"guljan.test": TRUTH}, pki.leaf) as server:
        (query,) = lookup(parse_resolver(server.spec), pki)
    assert (query.engine, query.resolver_address, query.failure) == ("doh", server.spec, None)
    assert query.answers and query.answers[0].ipv4 == "198.51.100.7" and query.raw_response
    assert server.queries == [("doh", "guljan.test", "A")]


def test_dot_answers_through_tls_with_a_verified_certificate(pki: PKI) -> None:
    with running_dot_server({"guljan.test": TRUTH}, pki.leaf) as server:
        (query,) = lookup(parse_resolver(server.spec), pki)
    assert (query.engine, query.failure) == ("dot", None)
    assert query.answers and query.answers[0].ipv4 == "198.51.100.7"
    assert server.queries == [("dot", "guljan.test", "A")]


def test_encrypted_nxdomain_is_the_nxdomain_failure(pki: PKI) -> None:
    with running_doh_server({}, pki.leaf, default=NXDOMAIN) as doh, running_dot_server({}, pki.leaf) as dot:
        failures = [lookup(parse_resolver(server.spec), pki)[0].failure for server in (doh, dot)]
    assert failures == ["dns_nxdomain_error", "dns_nxdomain_error"]


def test_an_untrusted_certificate_is_a_tls_failure_not_an_answer(pki: PKI) -> None:
    # Without the test CA, the resolver's certificate is a stranger's: an interceptor's, as far as we know.
    with running_doh_server({"guljan.test": TRUTH}, pki.leaf) as doh, running_dot_server({}, pki.leaf) as dot:
        results = [lookup(parse_resolver(server.spec), None)[0] for server in (doh, dot)]
    assert [(q.failure, q.answers) for q in results] == [("ssl_unknown_authority", None)] * 2
    assert doh.queries == [] and dot.queries == []


def test_an_encrypted_resolver_that_is_not_there_is_refused(pki: PKI) -> None:
    from support.servers import tcp_refusing_port

    with tcp_refusing_port() as shut:
        results = [
            lookup(parse_resolver(f"{scheme}://{shut.address}{path}"), pki)[0]
            for scheme, path in (("https", "/dns-query"), ("tls", ""))
        ]
    assert [q.failure for q in results] == ["connection_refused"] * 2


def test_the_web_experiment_compares_a_lying_port_53_with_doh_and_dot(pki: PKI) -> None:
    # The port-53 resolver says the name does not exist; DoH and DoT, verified, resolve it. No test helper.
    from conftest import context, loopback_config
    from support.dnsserver import running_dns_server

    from probe.experiments import get_experiment
    from probe.verdict import judge_measurement

    with running_dns_server({}, default=NXDOMAIN) as lying, running_doh_server({"guljan.test": TRUTH}, pki.leaf) as doh:
        with running_dot_server({"guljan.test": TRUTH}, pki.leaf) as dot:
            resolvers = [lying.spec(), doh.spec, dot.spec]
            config = loopback_config(lying.spec(), ca_bundle=pki.ca.cert_path, dns={"resolvers": resolvers})
            m = get_experiment("web").run("http://guljan.test/", context(config))
    engines = [(q.engine, q.failure) for q in m.test_keys.queries]
    assert engines == [("udp", "dns_nxdomain_error"), ("doh", None), ("dot", None)]
    assert (m.failed_step, m.failure) == ("dns", "dns_nxdomain_error")
    verdict = judge_measurement(m)
    assert verdict is not None
    assert (verdict.rule, verdict.verdict, verdict.blocking_detail) == ("encrypted_dns", "blocked", "dns_nxdomain")


def test_a_unicode_name_is_asked_in_its_idna_2008_form(pki: PKI) -> None:
    # "faß.de" is "fass.de" under IDNA 2003 but "xn--fa-hia.de" under IDNA 2008, as browsers ask.
    with running_doh_server({"xn--fa-hia.de": TRUTH}, pki.leaf) as server:
        (query,) = lookup(parse_resolver(server.spec), pki, "faß.de")
    assert (query.hostname, query.failure) == ("xn--fa-hia.de", None)
    assert server.queries == [("doh", "xn--fa-hia.de", "A")]
