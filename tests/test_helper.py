"""The test helper on loopback: what it measures, and that hostile clients and targets cannot tie it up."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conftest import loopback_config
from support.dnsserver import Answer, running_dns_server
from support.servers import http_server, page, raw, slow_drip, tcp_refusing_port
from support.testca import PKI
from support.timing import SLACK
from support.unattended import wait_for

from probe.config import Config
from probe.helper.server import HelperOptions, HelperServer
from probe.model.control import ControlRequest
from probe.net.control import BAD_ANSWER, ask_one
from probe.verdict.reader import parse_control

ROOT = Path(__file__).resolve().parent.parent
TITLE_PAGE = "<html><head><title>Guljan news</title></head><body>news</body></html>"


def helper_config(dns_spec: str = "system", **sections: dict[str, Any]) -> Config:
    return loopback_config(dns_spec, **sections)


@contextmanager
def helper(config: Config | None = None, **options: Any) -> Iterator[HelperServer]:
    options.setdefault("allow_private", True)
    options.setdefault("test_loopback", True)
    with HelperServer(config or helper_config(), port=0, options=HelperOptions(**options)) as server:
        yield server


def ask(
    helper_url: str, url: str, endpoints: list[str], *, timeout: float, token: str = ""
) -> tuple[dict[str, Any] | None, str | None]:
    """One helper's answer as the probe stores it (OONI's JSON), or the failure."""
    request = ControlRequest(http_request=url, tcp_connect=endpoints)
    answer = ask_one(helper_url, request, timeout=timeout, token=token)
    return (answer.response.document() if answer.response is not None else None), answer.failure


def raw_request(server: HelperServer, data: bytes, *, timeout: float = 5.0) -> tuple[int, dict[str, Any]]:
    with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


def post(body: bytes, headers: str = "") -> bytes:
    return (
        f"POST / HTTP/1.1\r\nHost: helper\r\nContent-Length: {len(body)}\r\n{headers}Connection: close\r\n\r\n"
    ).encode() + body


def test_helper_measures_the_page_and_the_probes_addresses_from_its_side() -> None:
    records = {"guljan.test": Answer(("127.0.0.1",))}
    with running_dns_server(records) as dns, http_server({"/": page(TITLE_PAGE)}) as web, tcp_refusing_port() as shut:
        with helper(helper_config(dns.spec())) as server:
            url = f"http://guljan.test:{web.port}/"
            answer, failure = ask(server.url, url, [f"127.0.0.1:{shut.port}"], timeout=5)
    assert failure is None and answer is not None
    assert answer["dns"] == {"addrs": ["127.0.0.1"], "failure": None}
    assert answer["tcp_connect"][f"127.0.0.1:{shut.port}"] == {"status": False, "failure": "connection_refused"}
    assert answer["tcp_connect"][f"127.0.0.1:{web.port}"]["status"] is True
    http = answer["http_request"]
    assert (http["status_code"], http["title"], http["body_length"]) == (200, "Guljan news", len(TITLE_PAGE))
    assert http["x_final_url"] == url and http["x_transfer_seconds"] >= 0
    assert web.requests[0].header("Host") == f"guljan.test:{web.port}"


def test_helper_verifies_tls_with_the_sni_and_reports_the_issuer(pki: PKI) -> None:
    records = {"localhost": Answer(("127.0.0.1",))}
    with running_dns_server(records) as dns, http_server({"/": page(TITLE_PAGE)}, leaf=pki.leaf) as good:
        with http_server({"/": page("x")}, leaf=pki.intercepted) as bad:
            config = loopback_config(dns.spec(), ca_bundle=pki.ca.cert_path)
            with helper(config) as server:
                answer, _ = ask(server.url, f"https://localhost:{good.port}/", [f"127.0.0.1:{bad.port}"], timeout=5)
    assert answer is not None
    mine = answer["tls_handshake"][f"127.0.0.1:{good.port}"]
    assert mine["status"] is True and "Probe Test Root CA" in mine["x_issuer"]
    interceptor = answer["tls_handshake"][f"127.0.0.1:{bad.port}"]
    assert (interceptor["status"], interceptor["failure"]) == (False, "ssl_unknown_authority")
    assert answer["http_request"]["status_code"] == 200


def test_a_token_is_required_when_the_helper_has_one() -> None:
    with http_server({"/": page(TITLE_PAGE)}) as web, helper(token="s3cret") as server:
        assert ask(server.url, web.url("/"), [], timeout=5)[1] == "unknown_failure control_status_401"
        assert ask(server.url, web.url("/"), [], timeout=5, token="wrong")[1] == "unknown_failure control_status_401"
        answer, failure = ask(server.url, web.url("/"), [], timeout=5, token="s3cret")
    assert failure is None and answer is not None and answer["http_request"]["status_code"] == 200


def test_bad_requests_get_400_and_the_reason() -> None:
    with helper() as server:
        for body, words in (
            (b"not json", "not JSON"),
            (b'{"http_request": "ftp://x/"}', "http(s) URL"),
            (b'{"http_request": "http://x/", "tcp_connect": ["x.test:80"]}', "ip:port"),
            (b'{"http_request": "http://x/", "tcp_connect": "1.2.3.4:80"}', "array"),
            (b"[" * 15000 + b"]" * 1000, "not JSON"),  # nested deeper than the parser goes
        ):
            status, answer = raw_request(server, post(body))
            assert status == 400 and words in answer["error"]
        status, _ = raw_request(server, b"GET /admin HTTP/1.1\r\nHost: helper\r\nConnection: close\r\n\r\n")
        assert status == 404
        status, answer = raw_request(server, b"GET /health HTTP/1.1\r\nHost: helper\r\nConnection: close\r\n\r\n")
        assert status == 200 and answer["ok"] is True
        status, _ = raw_request(server, b"GET / HTTP/1.1\r\n\r\n")  # HTTP/1.1 without Host
        assert status == 400


def test_a_request_body_over_the_cap_is_refused_unread() -> None:
    with helper(max_request_bytes=1024) as server:
        status, answer = raw_request(server, b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10000000\r\n\r\n")
        assert status == 413 and "1024" in answer["error"]
        status, _ = raw_request(server, b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        assert status == 411


SLOW_CLIENT_CUTOFF = 4.0
"""The helper's read timeout in the slow-client test: another client's answer comes before it (it was not
held up), on a loaded machine too."""


def test_a_slow_client_is_cut_off_and_does_not_hold_up_others() -> None:
    with http_server({"/": page(TITLE_PAGE)}) as web, helper(read_timeout=SLOW_CLIENT_CUTOFF, workers=4) as server:
        slow = socket.create_connection((server.host, server.port), timeout=5)
        begin = time.monotonic()
        slow.sendall(b"POST / HTTP/1.1\r\n")
        for _ in range(3):  # a byte now and then, never the end of the head
            slow.sendall(b"X")
            time.sleep(0.2)
        answer, failure = ask(server.url, web.url("/"), [], timeout=5)
        assert failure is None and answer is not None and time.monotonic() - begin < SLOW_CLIENT_CUTOFF
        received = slow.recv(65536)
        slow.close()
    assert received.startswith(b"HTTP/1.1 408") and time.monotonic() - begin < SLOW_CLIENT_CUTOFF + SLACK


def test_a_client_still_sending_its_request_holds_no_worker() -> None:
    with http_server({"/": page(TITLE_PAGE)}) as web, helper(read_timeout=3.0, workers=1) as server:
        hog = socket.create_connection((server.host, server.port), timeout=5)
        hog.sendall(b"POST / HTTP/1.1\r\nHost: helper\r\nContent-Length: 100\r\n\r\n{")  # and no more
        time.sleep(0.3)
        answer, failure = ask(server.url, web.url("/"), [], timeout=5)  # the only worker is free
        assert failure is None and answer is not None
        hog.close()


def test_when_every_worker_is_busy_a_new_client_gets_503_at_once() -> None:
    config = helper_config(http={"timeout": 5.0})
    with http_server({"/drip": slow_drip(0.05)}) as web, helper(config, workers=1) as server:
        request = json.dumps({"http_request": web.url("/drip")}).encode()
        hog = socket.create_connection((server.host, server.port), timeout=5)
        hog.sendall(post(request))  # a whole request: the only worker measures a slow site for 5 s
        assert wait_for(lambda: bool(web.requests)), "the worker never reached the slow site"
        begin = time.monotonic()
        status, answer = raw_request(server, post(b"{}"))
        assert status == 503 and "busy" in answer["error"] and time.monotonic() - begin < SLACK
        hog.close()
        assert server.stats.busy == 1


def test_a_hostile_target_costs_the_helper_its_timeout_and_no_more() -> None:
    config = helper_config(http={"timeout": 1.0})
    with http_server({"/drip": slow_drip(0.05)}) as web, helper(config) as server:
        begin = time.monotonic()
        answer, failure = ask(server.url, web.url("/drip"), [], timeout=10)
        elapsed = time.monotonic() - begin
    assert failure is None and answer is not None
    assert answer["http_request"]["failure"] == "generic_timeout_error" and elapsed < 1.0 + SLACK
    # What arrived before the deadline is kept: the verdict stage needs it to see throttling.
    assert answer["http_request"]["status_code"] == 200 and answer["http_request"]["body_length"] > 0


def test_private_addresses_are_not_measured_unless_allowed() -> None:
    with http_server({"/": page(TITLE_PAGE)}) as web, helper(allow_private=False, test_loopback=False) as server:
        answer, failure = ask(server.url, web.url("/"), [f"10.0.0.1:{web.port}"], timeout=5)
    assert failure is None and answer is not None
    assert "x_skipped" in answer["tcp_connect"][f"10.0.0.1:{web.port}"]
    assert "x_skipped" in answer["http_request"]
    # The verdict stage takes what was not measured as no evidence, not as a site that is down.
    control = parse_control(answer)
    assert control is not None and control.http is None and control.tcp == {}
    assert web.requests == []


def test_the_client_turns_every_helper_problem_into_a_failure_string() -> None:
    with tcp_refusing_port() as shut:
        assert ask(f"http://127.0.0.1:{shut.port}/", "http://x.test/", [], timeout=2) == (None, "connection_refused")
    garbage = raw(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot json!")
    broken = raw(b"HTTP/1.1 500 Oops\r\nContent-Length: 2\r\n\r\n{}")
    with http_server({"/garbage": garbage, "/broken": broken}) as fake:
        assert ask(fake.url("/garbage"), "http://x.test/", [], timeout=2) == (None, BAD_ANSWER)
        assert ask(fake.url("/broken"), "http://x.test/", [], timeout=2) == (None, "unknown_failure control_status_500")


def test_probe_helper_serve_answers_on_its_port_and_never_measures_its_own_loopback() -> None:
    with socket.socket() as probe_port:
        probe_port.bind(("127.0.0.1", 0))
        port = probe_port.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "probe", "helper", "serve", "--port", str(port), "--allow-private-addresses"],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert f"listening on http://127.0.0.1:{port}/" in line
        with http_server({"/": page(TITLE_PAGE)}) as web:
            answer, failure = ask(f"http://127.0.0.1:{port}/", web.url("/"), [web.endpoint.address], timeout=5)
        # --allow-private-addresses opens private space to a lab's helper, never the helper's own machine.
        assert failure is None and answer is not None and answer["http_request"]["x_skipped"]
        assert answer["tcp_connect"][web.endpoint.address]["x_skipped"] and web.connections == []
    finally:
        process.terminate()
        process.wait(timeout=10)
