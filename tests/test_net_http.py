"""HTTP fetches against real loopback servers, friendly and hostile."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Callable

import pytest
from support.servers import (
    BLOCKPAGE_HTML,
    blockpage,
    chunked,
    close_after_hello_server,
    endless_body,
    header_drip,
    http_server,
    huge_headers,
    page,
    raw,
    redirect,
    reset_after_hello_server,
    slow_drip,
    tcp_blackhole_server,
)
from support.testca import PKI, make_pki
from support.timing import PATIENT, SLACK

from probe.config import HTTPSection
from probe.model import BinaryData, HTTPTransaction
from probe.net import http
from probe.net.trace import Trace

HOME = "<html><head><title>\n  Zhanaozen   news &amp; views </title></head><body>hello</body></html>"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _no_resolve(host: str) -> list[str]:
    raise AssertionError(f"unexpected resolve({host!r})")


def _fetch(
    url: str,
    *,
    addresses: list[str] | None = None,
    resolve: Callable[[str], list[str]] = _no_resolve,
    trace: Trace | None = None,
    ca_bundle: PKI | None = None,
    tcp_timeout: float = 2.0,
    **limits: object,
) -> tuple[list[HTTPTransaction], float]:
    started = time.monotonic()
    transactions = http.fetch(
        url,
        trace or Trace(),
        addresses=addresses or [],
        resolve=resolve,
        limits=HTTPSection.model_validate({"timeout": 2.0, **limits}),
        tcp_timeout=tcp_timeout,
        tls_timeout=2.0,
        ca_bundle=ca_bundle.ca.cert_path if ca_bundle else None,
    )
    return transactions, time.monotonic() - started


def test_page_records_status_headers_title_and_body() -> None:
    with http_server({"/": page(HOME, headers=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])}) as server:
        [hop], elapsed = _fetch(server.url("/"))
    assert hop.failure is None and hop.response is not None
    assert hop.address == server.endpoint.address and hop.alpn is None
    assert hop.response.code == 200
    assert hop.response.headers["Set-Cookie"] == "b=2"  # last one wins in the dict...
    assert [v for k, v in hop.response.headers_list if k == "Set-Cookie"] == ["a=1", "b=2"]  # ...all in the list
    assert hop.response.body == HOME
    assert hop.response.x_body_length == len(HOME.encode())
    assert hop.response.x_title == "Zhanaozen news & views"
    assert not hop.response.body_is_truncated
    assert 0 <= hop.t0 <= hop.t and elapsed < SLACK


def test_request_sends_host_user_agent_accept_and_connection_close() -> None:
    with http_server({"/a b": page("ok")}) as server:
        [hop], _ = _fetch(server.url("/a b?q=1#fragment"), user_agent="TestAgent/1")
    [received] = server.requests
    assert received.target == "/a%20b?q=1"
    assert received.header("Host") == f"127.0.0.1:{server.port}"
    assert received.header("User-Agent") == "TestAgent/1"
    assert received.header("Accept") and received.header("Accept-Language")
    assert received.header("Connection") == "close"
    assert hop.request.headers["User-Agent"] == "TestAgent/1"
    assert [k for k, _ in hop.request.headers_list] == [k for k, _ in received.headers]
    assert hop.request.url == server.url("/a b?q=1#fragment") and hop.request.method == "GET"


def test_blockpage_title_and_body_are_recorded() -> None:
    with http_server({"/": blockpage()}) as server:
        [hop], _ = _fetch(server.url())
    assert hop.response is not None
    assert hop.response.body == BLOCKPAGE_HTML and "Страница заблокирована" in hop.response.body
    assert hop.response.x_title == "Доступ ограничен"
    assert hop.response.headers["Server"] == "nginx"


def test_title_in_a_declared_legacy_charset_is_decoded() -> None:
    body = "<title>Главная</title>".encode("cp1251")
    with http_server({"/": page(body, content_type="text/html; charset=windows-1251")}) as server:
        [hop], _ = _fetch(server.url())
    assert hop.response is not None and hop.response.x_title == "Главная"
    assert isinstance(hop.response.body, BinaryData)  # not UTF-8: stored as base64


def test_binary_body_is_stored_as_base64() -> None:
    data = bytes(range(256)) * 4
    with http_server({"/bin": page(data, content_type="application/octet-stream")}) as server:
        [hop], _ = _fetch(server.url("/bin"))
    assert hop.response is not None and isinstance(hop.response.body, BinaryData)
    assert base64.b64decode(hop.response.body.data) == data
    assert hop.response.x_title is None


def test_chunked_body_is_reassembled() -> None:
    parts = [b"<title>chunked</title>", b"x" * 5000, b"end"]
    with http_server({"/": chunked(parts)}) as server:
        [hop], _ = _fetch(server.url())
    assert hop.failure is None and hop.response is not None
    assert hop.response.body == b"".join(parts).decode()
    assert hop.response.x_title == "chunked"


def test_chunked_body_is_cut_at_cap() -> None:
    with http_server({"/": chunked([b"a" * 600, b"b" * 600])}) as server:
        [hop], _ = _fetch(server.url(), max_body_bytes=1000)
    assert hop.failure is None and hop.response is not None
    assert hop.response.body == "a" * 600 + "b" * 400 and hop.response.body_is_truncated


def test_content_length_body_beyond_cap_is_truncated() -> None:
    with http_server({"/": page("z" * 5000)}) as server:
        [hop], _ = _fetch(server.url(), max_body_bytes=1234)
    assert hop.failure is None and hop.response is not None
    assert hop.response.x_body_length == 1234 and hop.response.body_is_truncated


def test_text_cut_inside_a_character_stays_text() -> None:
    with http_server({"/": page("ж" * 1000)}) as server:  # two bytes each
        [hop], _ = _fetch(server.url(), max_body_bytes=1001)
    assert hop.response is not None and hop.response.body == "ж" * 500
    assert hop.response.x_body_length == 1001


def test_endless_body_is_truncated_at_cap() -> None:
    cap = 300_000
    with http_server({"/": endless_body()}) as server:
        [hop], elapsed = _fetch(server.url(), max_body_bytes=cap, timeout=PATIENT)
    assert hop.failure is None and hop.response is not None
    assert hop.response.body_is_truncated
    assert hop.response.x_body_length == cap and len(str(hop.response.body)) == cap  # memory stayed bounded
    assert elapsed < SLACK  # stopped at the cap, not at the deadline


def test_slow_drip_ends_at_deadline_keeping_what_was_read() -> None:
    with http_server({"/": slow_drip(0.1)}) as server:
        [hop], elapsed = _fetch(server.url(), timeout=1.0)
    assert hop.failure == "generic_timeout_error"
    assert 1.0 <= elapsed < 1.0 + SLACK
    assert hop.response is not None and hop.response.code == 200
    assert hop.response.x_title == "drip" and not hop.response.body_is_truncated
    assert hop.response.x_body_length is not None and hop.response.x_body_length > len("<title>drip</title>")


def test_header_drip_ends_at_deadline_without_a_response() -> None:
    with http_server({"/": header_drip(0.1)}) as server:
        [hop], elapsed = _fetch(server.url(), timeout=1.0)
    assert hop.failure == "generic_timeout_error" and hop.response is None
    assert 1.0 <= elapsed < 1.0 + SLACK


def test_connect_is_bounded_by_the_round_trip_deadline() -> None:
    with tcp_blackhole_server() as endpoint:
        [hop], elapsed = _fetch(f"http://{endpoint.address}/", timeout=1.0, tcp_timeout=5.0)
    assert hop.failure == "generic_timeout_error" and hop.address == endpoint.address
    assert 1.0 <= elapsed < 1.0 + SLACK


@pytest.mark.parametrize(
    ("count", "size"), [(150, 10), (5, 500)], ids=["more-than-100-lines", "more-than-max-header-bytes"]
)
def test_huge_headers_fail_cleanly(count: int, size: int) -> None:
    with http_server({"/": huge_headers(count, size)}) as server:
        [hop], elapsed = _fetch(server.url(), max_header_bytes=2048, timeout=PATIENT)
    assert hop.failure == "unknown_failure http_headers_too_large" and hop.response is None
    assert elapsed < SLACK


def test_malformed_status_line_is_http_malformed_response() -> None:
    with http_server({"/": raw(b"SSH-2.0-OpenSSH_9.6\r\nX: y\r\n\r\n")}) as server:
        [hop], _ = _fetch(server.url())
    assert hop.failure == "unknown_failure http_malformed_response" and hop.response is None


def test_body_shorter_than_content_length_is_eof_error_with_partial_body() -> None:
    with http_server({"/": raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")}) as server:
        [hop], _ = _fetch(server.url())
    assert hop.failure == "eof_error"
    assert hop.response is not None and hop.response.body == "short"


def test_close_after_request_is_eof_error() -> None:
    with close_after_hello_server() as endpoint:
        [hop], _ = _fetch(f"http://{endpoint.address}/")
    assert hop.failure == "eof_error" and hop.response is None


def test_reset_after_request_is_connection_reset() -> None:
    with reset_after_hello_server() as endpoint:
        [hop], _ = _fetch(f"http://{endpoint.address}/")
    assert hop.failure == "connection_reset" and hop.response is None


def test_redirect_loop_stops_after_max_redirects() -> None:
    with http_server({"/loop": redirect("/loop")}) as server:
        hops, elapsed = _fetch(server.url("/loop"), max_redirects=3, timeout=PATIENT)
    assert len(hops) == 4 and len(server.requests) == 4
    assert hops[0].failure == "unknown_failure too_many_redirects"
    assert [h.failure for h in hops[1:]] == [None, None, None]
    assert elapsed < SLACK


def test_redirect_chain_is_recorded_most_recent_first() -> None:
    routes = {"/a": redirect("/b", status=301), "/b": redirect("c?x=1", status=307), "/c": page("<title>C</title>")}
    with http_server(routes) as server:
        hops, _ = _fetch(server.url("/a"))
    assert [h.request.url for h in hops] == [server.url("/c?x=1"), server.url("/b"), server.url("/a")]
    assert [h.response.code for h in hops if h.response] == [200, 307, 301]
    assert all(h.failure is None for h in hops)
    ids = [h.transaction_id for h in hops]
    assert ids == sorted(ids, reverse=True) and hops[0].t0 >= hops[1].t


def test_redirect_to_another_host_resolves_it() -> None:
    asked: list[str] = []

    def resolve(host: str) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"] if host == "site.test" else []

    with http_server({"/final": page("<title>there</title>")}) as server:
        server.routes["/"] = redirect(f"http://site.test:{server.port}/final")
        server.routes["/gone"] = redirect(f"http://missing.test:{server.port}/")
        hops, _ = _fetch(server.url("/"), resolve=resolve)
        gone, _ = _fetch(server.url("/gone"), resolve=resolve)
    assert asked == ["site.test", "missing.test"]
    assert hops[0].response is not None and hops[0].response.x_title == "there"
    assert server.requests[1].header("Host") == f"site.test:{server.port}"
    assert gone[0].failure == "dns_no_answer" and gone[0].address is None


def test_first_hop_without_addresses_uses_resolve() -> None:
    with http_server({"/": page("ok")}) as server:
        [hop], _ = _fetch(f"http://example.test:{server.port}/", resolve=lambda host: ["127.0.0.1"])
    assert hop.failure is None and hop.address == server.endpoint.address


def test_redirect_without_location_is_the_final_response() -> None:
    with http_server({"/": page("moved", status=302)}) as server:
        [hop], _ = _fetch(server.url())
    assert hop.failure is None and hop.response is not None and hop.response.code == 302


@pytest.mark.parametrize("location", ["http://", "http://:80/", "//", "https://[::1/"])
def test_redirect_to_a_location_without_host_is_invalid(location: str) -> None:
    with http_server({"/": redirect(location)}) as server:
        [hop], _ = _fetch(server.url())
    assert hop.failure == "http_invalid_redirect_location_host"


def test_unsupported_scheme_is_one_failed_transaction() -> None:
    trace = Trace()
    [hop], _ = _fetch("ftp://127.0.0.1/file", trace=trace)
    assert hop.failure == "unknown_failure unsupported_scheme" and hop.response is None
    assert not any(e.operation == "connect" for e in trace.network_events)


def test_first_hop_tries_addresses_in_order() -> None:
    trace = Trace()
    with http_server({"/": page("ok")}) as server, socket.socket(socket.AF_INET6) as refusing:
        try:
            refusing.bind(("::1", server.port))  # bound, not listening: refuses
        except OSError:
            pytest.skip("no IPv6 loopback")
        [hop], _ = _fetch(server.url(), addresses=["::1", "127.0.0.1"], trace=trace)
    assert hop.failure is None and hop.address == server.endpoint.address
    connects = [e for e in trace.network_events if e.operation == "connect"]
    assert [e.failure for e in connects] == ["connection_refused", None]


def test_ipv6_literal_url_is_fetched() -> None:
    try:
        with http_server({"/": page("<title>six</title>")}, host="::1") as server:
            [hop], _ = _fetch(server.url())
    except OSError:
        pytest.skip("no IPv6 loopback")
    assert hop.failure is None and hop.address == f"[::1]:{server.port}"
    assert server.requests[0].header("Host") == f"[::1]:{server.port}"


def test_https_page_over_test_ca_records_alpn_and_tls_events(pki: PKI) -> None:
    trace = Trace()
    with http_server({"/": page(HOME)}, leaf=pki.leaf) as server:
        [hop], _ = _fetch(server.url(), trace=trace, ca_bundle=pki)
    assert hop.failure is None and hop.alpn == "http/1.1"
    assert hop.response is not None and hop.response.x_title == "Zhanaozen news & views"
    operations = [e.operation for e in trace.network_events]
    assert operations == [
        "http_transaction_start",
        "connect",
        "tls_handshake_start",
        "tls_handshake_done",
        "http_transaction_done",
    ]


def test_https_interception_is_ssl_unknown_authority(pki: PKI) -> None:
    with http_server({"/": page(HOME)}, leaf=pki.intercepted) as server:
        [hop], _ = _fetch(server.url(), ca_bundle=pki)
    assert hop.failure == "ssl_unknown_authority" and hop.response is None
    assert server.requests == []


def test_https_endless_body_is_truncated_at_cap(pki: PKI) -> None:
    with http_server({"/": endless_body()}, leaf=pki.leaf) as server:
        [hop], elapsed = _fetch(server.url(), ca_bundle=pki, max_body_bytes=100_000, timeout=PATIENT)
    assert hop.failure is None and hop.response is not None
    assert hop.response.x_body_length == 100_000 and hop.response.body_is_truncated
    assert elapsed < SLACK


def test_https_slow_drip_ends_at_deadline(pki: PKI) -> None:
    with http_server({"/": slow_drip(0.1)}, leaf=pki.leaf) as server:
        [hop], elapsed = _fetch(server.url(), ca_bundle=pki, timeout=1.0)
    assert hop.failure == "generic_timeout_error"
    assert 1.0 <= elapsed < 1.0 + SLACK


def test_idn_host_is_resolved_and_sent_in_ascii() -> None:
    asked: list[str] = []

    def resolve(host: str) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    with http_server({"/": page("ok")}) as server:
        [hop], _ = _fetch(f"http://пример.тест:{server.port}/", resolve=resolve)
    assert hop.failure is None
    assert asked == ["xn--e1afmkfd.xn--e1aybc"]
    assert server.requests[0].header("Host") == f"xn--e1afmkfd.xn--e1aybc:{server.port}"


def test_informational_response_is_skipped_and_body_read_until_close() -> None:
    data = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<title>old</title>"
    with http_server({"/": raw(data)}) as server:
        [hop], _ = _fetch(server.url())
    assert hop.failure is None and hop.response is not None
    assert hop.response.code == 200 and hop.response.body == "<title>old</title>"


def test_invalid_url_is_one_failed_transaction() -> None:
    [hop], _ = _fetch("http://127.0.0.1:99999/")
    assert hop.failure == "unknown_failure invalid_url" and hop.address is None
