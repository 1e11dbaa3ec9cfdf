"""OONI's test-helper protocol on both sides: our client reads OONI's answers, our helper answers OONI's
requests, several helpers fall back in order, and a busy helper is waited for rather than lost."""

from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from conftest import context, loopback_config
from support.servers import Exchange, http_server, page, raw, tcp_refusing_port

from probe.experiments.web import WebExperiment
from probe.helper.server import HelperOptions, HelperServer
from probe.model.control import (
    FLAG_BOGON,
    FLAG_RESOLVED_BY_HELPER,
    FLAG_RESOLVED_BY_PROBE,
    ControlRequest,
    ControlResponse,
)
from probe.net.control import Helpers
from probe.verdict.reader import parse_control

ANSWERS = Path(__file__).parent / "data" / "ooni_control"
TITLE_PAGE = "<html><head><title>Guljan news</title></head><body>news</body></html>"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0"


def answer_route(name: str) -> Any:
    body = (ANSWERS / name).read_bytes()
    return raw(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


def ask(helpers: Helpers, url: str, endpoints: list[str] | None = None) -> tuple[ControlResponse | None, str | None]:
    return helpers.ask(ControlRequest(http_request=url, tcp_connect=endpoints or []), timeout=5)


def test_the_client_reads_control_answers_of_every_ooni_helper_generation() -> None:
    routes = {f"/{path.stem}": answer_route(path.name) for path in ANSWERS.glob("*.json")}
    with http_server(routes) as fake:
        current, failure = ask(Helpers([fake.url("/current_https_accessible")]), "https://guljan.org/")
        assert failure is None and current is not None
        assert current.tls_handshake["203.0.113.20:443"].status is True
        assert current.ip_info["203.0.113.20"].asn == 64511 and current.http_request.title.startswith("Guljan")
        assert current.tcp_connect["[2001:db8:20::1]:443"].failure == "connection_refused"
        gone, _ = ask(Helpers([fake.url("/legacy_name_does_not_exist")]), "http://efind.example/")
        assert gone is not None and (gone.http_request.status_code, gone.http_request.body_length) == (-1, -1)
        assert gone.dns.failure == "dns_name_error" and gone.tls_handshake == {} and gone.ip_info == {}
        cname, _ = ask(Helpers([fake.url("/legacy_cname_http")]), "http://ridus.example/")
        assert cname is not None and cname.http_request.status_code == 200
    # What the probe stores is the answer as sent: the verdict stage reads it as before.
    stored = current.document()
    assert stored["http_request"]["discovered_h3_endpoint"] == "" and stored["http3_request"] is None
    view = parse_control(stored)
    assert view is not None and view.dns is not None and set(view.dns.asns.values()) == {64511}
    legacy = parse_control(gone.document())  # the old helpers' name for NXDOMAIN, read as today's
    assert legacy is not None and legacy.dns is not None and legacy.dns.failure == "dns_nxdomain_error"
    assert legacy.http is not None and legacy.http.status is None and legacy.http.body_length is None
    cnamed = parse_control(cname.document())
    assert cnamed is not None and cnamed.dns is not None and cnamed.dns.cnames == ["ridus.example.cdn.test"]


def test_an_answer_missing_what_the_protocol_requires_is_a_bad_answer() -> None:
    body = b'{"dns": {"addrs": [], "failure": null}, "tcp_connect": {}}'  # no http_request
    route = raw(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    with http_server({"/": route}) as fake:
        assert ask(Helpers([fake.url("/")]), "http://x.test/") == (None, "unknown_failure control_bad_answer")


def test_our_helper_answers_a_request_in_oonis_shape_with_oonis_keys() -> None:
    seen: list[str | None] = []

    def remember_agent(exchange: Exchange) -> None:
        seen.append(exchange.request.header("User-Agent"))
        page(TITLE_PAGE)(exchange)

    with http_server({"/": remember_agent}) as web, tcp_refusing_port() as shut:
        request = {  # exactly the keys an OONI probe sends
            "http_request": web.url("/"),
            "http_request_headers": {"Accept": ["text/html"], "Accept-Language": ["kk"], "User-Agent": [BROWSER]},
            "tcp_connect": [f"127.0.0.1:{web.port}", f"127.0.0.1:{shut.port}"],
            "x_quic_enabled": False,
        }
        config = loopback_config("system")
        with HelperServer(config, port=0, options=HelperOptions(allow_private=True, test_loopback=True)) as helper:
            body = json.dumps(request).encode()
            with socket.create_connection((helper.host, helper.port), timeout=10) as sock:
                sock.sendall(
                    b"POST / HTTP/1.1\r\nHost: th\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                received = b""
                while chunk := sock.recv(65536):
                    received += chunk
    head, _, payload = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    answer = json.loads(payload)
    assert {"dns", "tcp_connect", "tls_handshake", "quic_handshake", "http_request", "http3_request", "ip_info"} <= set(
        answer
    )
    assert answer["tcp_connect"][f"127.0.0.1:{shut.port}"] == {"status": False, "failure": "connection_refused"}
    assert answer["tcp_connect"][f"127.0.0.1:{web.port}"] == {"status": True, "failure": None}
    http = answer["http_request"]
    assert (http["status_code"], http["title"], http["body_length"]) == (200, "Guljan news", len(TITLE_PAGE))
    assert http["discovered_h3_endpoint"] == "" and "x_skipped" not in http
    assert answer["dns"] == {"failure": None, "addrs": ["127.0.0.1"]}
    flags = answer["ip_info"]["127.0.0.1"]["flags"]
    assert flags & FLAG_RESOLVED_BY_PROBE and flags & FLAG_RESOLVED_BY_HELPER and flags & FLAG_BOGON
    assert seen == [BROWSER]  # the helper fetched the page as the probe's browser would


def test_helpers_are_tried_in_order_and_a_failed_one_is_skipped_for_a_while() -> None:
    broken = raw(b"HTTP/1.1 500 Oops\r\nContent-Length: 2\r\n\r\n{}")
    with http_server({"/": page(TITLE_PAGE)}) as web, http_server({"/": broken}) as first:
        options = HelperOptions(allow_private=True, test_loopback=True)
        with HelperServer(loopback_config("system"), port=0, options=options) as second:
            helpers = Helpers([first.url("/"), second.url], skip_failed=60)
            for _ in range(3):
                answer, failure = ask(helpers, web.url("/"))
                assert failure is None and answer is not None and answer.http_request.status_code == 200
    assert len(first.requests) == 1  # asked once, then skipped
    with tcp_refusing_port() as shut:
        lone = Helpers([f"http://127.0.0.1:{shut.port}/"], skip_failed=60)
        assert ask(lone, "http://x.test/") == (None, "connection_refused")
        # The only helper is still tried, even while marked failed: there is nothing else to ask.
        assert ask(lone, "http://x.test/") == (None, "connection_refused")


def test_a_helper_that_stays_busy_costs_the_timeout_and_ends_as_its_status() -> None:
    busy = raw(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\n{}")
    with http_server({"/": busy}) as helper:
        begin = time.monotonic()
        answer, failure = Helpers([helper.url("/")]).ask(ControlRequest(http_request="http://x.test/"), timeout=1.0)
        elapsed = time.monotonic() - begin
    assert (answer, failure) == (None, "unknown_failure control_status_503")
    assert 0.9 <= elapsed < 3.0 and len(helper.requests) > 1  # asked again and again, within the deadline


def test_many_measurements_against_a_helper_with_few_workers_all_get_their_comparison() -> None:
    measurements = 24

    def slow_until_the_helper_turned_someone_away(exchange: Exchange) -> None:
        # Hold every page until the helper has answered 503 at least once (or 5 s): contention is certain.
        deadline = time.monotonic() + 5
        while helper.stats.busy == 0 and time.monotonic() < deadline and exchange.pause(0.02):
            pass
        page(TITLE_PAGE)(exchange)

    with http_server({"/": slow_until_the_helper_turned_someone_away}) as web:
        config = loopback_config("system")
        options = HelperOptions(allow_private=True, test_loopback=True, workers=2)
        with HelperServer(config, port=0, options=options) as helper:
            probe_config = loopback_config("system", control={"url": [helper.url], "timeout": 60.0, "retries": 0})
            ctx = context(probe_config)
            with ThreadPoolExecutor(max_workers=measurements) as pool:
                results = list(pool.map(lambda _: WebExperiment().run(web.url("/"), ctx), range(measurements)))
    assert helper.stats.busy > 0
    keys = [m.test_keys.model_dump() for m in results]
    assert [k["control_failure"] for k in keys] == [None] * measurements
    assert all(k["control"]["http_request"]["status_code"] == 200 for k in keys)
