"""The test helper cannot be turned into a fetcher or a port scanner of its own machine and network.

``probe helper serve`` runs as a real process, with and without ``--allow-private-addresses``, and
is asked to reach its own loopback in every disguise that reaches it: IPv4-mapped IPv6 literals in
the URL and in ``tcp_connect``, a name whose AAAA record is mapped loopback, and (in process, the
first hop served by a test server) a redirect to mapped loopback. A loopback server counts every
connection it gets: none may arrive. The other embeddings (NAT64, 6to4, Teredo, IPv4-compatible)
and private or link-local targets are checked without the network, so that a regression cannot
send a packet anywhere but this machine.
"""

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

import pytest
from conftest import loopback_config
from support.dnsserver import Answer, running_dns_server
from support.servers import http_server, page, redirect

from probe.config import Config
from probe.helper.measure import ControlMeasurement, ControlRequest
from probe.helper.server import HelperOptions, HelperServer

ROOT = Path(__file__).resolve().parent.parent
RECORDS = {
    "mapped.test": Answer(("::ffff:127.0.0.1",)),
    "both.test": Answer(("127.0.0.1", "::ffff:127.0.0.1")),
}


def control(helper_url: str, url: str, endpoints: list[str]) -> dict[str, Any]:
    body = json.dumps({"http_request": url, "tcp_connect": endpoints}).encode()
    head = f"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
    host, port = helper_url.split("//", 1)[1].rstrip("/").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(head + body)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    status, _, rest = received.partition(b"\r\n\r\n")
    assert b" 200 " in status.split(b"\r\n", 1)[0], received[:300]
    answer: dict[str, Any] = json.loads(rest)
    return answer


@contextmanager
def helper_process(tmp_path: Path, dns_spec: str, *flags: str) -> Iterator[str]:
    config = tmp_path / "helper.toml"
    config.write_text(
        f'[dns]\nresolvers = ["{dns_spec}"]\nquery_types = ["A", "AAAA"]\ntimeout = 1.0\n'
        "[tcp]\ntimeout = 1.0\n[http]\ntimeout = 2.0\n",
        encoding="utf-8",
    )
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    args = [sys.executable, "-m", "probe", "helper", "serve", "--config", str(config), "--port", str(port), *flags]
    process = subprocess.Popen(args, cwd=ROOT, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None and "listening" in process.stderr.readline()
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.wait(10)


def mapped_forms(port: int) -> list[str]:
    return [f"[::ffff:127.0.0.1]:{port}", f"[::ffff:7f00:1]:{port}", f"[::ffff:127.0.0.2]:{port}"]


@pytest.mark.parametrize("flags", [(), ("--allow-private-addresses",)], ids=["default", "lab"])
def test_the_helper_process_never_reaches_its_loopback_through_mapped_ipv6(tmp_path: Path, flags: tuple[str]) -> None:
    with running_dns_server(RECORDS) as dns, http_server({"/": page("<title>inside</title>")}) as inside:
        with helper_process(tmp_path, dns.spec(), *flags) as helper:
            port = inside.port
            answers = [
                control(helper, f"http://[::ffff:127.0.0.1]:{port}/", mapped_forms(port)),
                control(helper, f"http://[::ffff:7f00:1]:{port}/", []),
                control(helper, f"http://mapped.test:{port}/", []),  # AAAA ::ffff:127.0.0.1
                control(helper, f"http://both.test:{port}/", [f"127.0.0.1:{port}", f"[::1]:{port}"]),
            ]
        time.sleep(0.2)  # a connection in flight would have been accepted by now
    for answer in answers:
        assert answer["http_request"]["x_skipped"], answer["http_request"]
        assert answer["http_request"]["status_code"] == -1
        assert all(result["x_skipped"] and not result["status"] for result in answer["tcp_connect"].values())
    # The probe's endpoints and the helper's own (127.0.0.1 and ::ffff:127.0.0.1 for both.test): all refused.
    assert len(answers[0]["tcp_connect"]) == 3 and len(answers[3]["tcp_connect"]) == 3
    assert inside.connections == []  # nothing, in any disguise, reached the loopback server


@contextmanager
def in_process_helper(config: Config) -> Iterator[HelperServer]:
    # The first hop must be served from loopback: the test hook measures 127.0.0.1 written as such, and
    # nothing else on this machine (loopback carried in IPv6 stays refused, which is what is tested).
    options = HelperOptions(allow_private=False, test_loopback=True)
    with HelperServer(config, port=0, options=options) as server:
        yield server


def test_a_redirect_to_loopback_in_disguise_is_not_followed(tmp_path: Path) -> None:
    with running_dns_server(RECORDS) as dns, http_server({"/": page("<title>inside</title>")}) as inside:
        routes = {
            "/literal": redirect(f"http://[::ffff:127.0.0.1]:{inside.port}/"),
            "/name": redirect(f"http://mapped.test:{inside.port}/"),
        }
        with http_server(routes) as outside:
            config = loopback_config(dns.spec(), dns={"query_types": ["A", "AAAA"]})
            with in_process_helper(config) as helper:
                answers = [control(helper.url, outside.url(path), []) for path in routes]
        time.sleep(0.2)
    for answer in answers:
        http = answer["http_request"]
        assert http["x_skipped"] and http["failure"] == "unknown_failure not_measured", http
    assert len(outside.requests) == 2 and inside.connections == []


def test_a_name_is_resolved_once_and_the_checked_addresses_are_the_ones_connected_to(tmp_path: Path) -> None:
    with running_dns_server({"site.test": Answer(("127.0.0.1",))}) as dns, http_server({"/": page("ok")}) as site:
        with in_process_helper(loopback_config(dns.spec())) as helper:
            answer = control(helper.url, f"http://site.test:{site.port}/", [])
    assert answer["http_request"]["status_code"] == 200
    assert [query for query in dns.queries if query[1].rstrip(".") == "site.test"] == [("udp", "site.test", "A")]


CARRIED_LOOPBACK = [
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:7f00:1",  # the same, in hex
    "64:ff9b::7f00:1",  # NAT64
    "2002:7f00:1::1",  # 6to4
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1 (obfuscated)
    "::127.0.0.1",  # IPv4-compatible
    "127.0.0.1",
    "::1",
]
CARRIED_LINK = ["::ffff:169.254.169.254", "169.254.169.254", "fe80::1", "0.0.0.0", "::", "::ffff:0.0.0.0", "ff02::1"]
CARRIED_PRIVATE = ["::ffff:10.0.0.1", "64:ff9b::a00:1", "2002:c0a8:101::1", "10.0.0.1", "fd00::1", "100.64.0.1"]
PUBLIC = ["192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1", "64:ff9b::c000:201"]  # documentation space: no bogon here


def measurement(*, allow_private: bool) -> ControlMeasurement:
    request = ControlRequest(url="http://x.test/", endpoints=())
    return ControlMeasurement(request, Config(), allow_private=allow_private)


@pytest.mark.parametrize("address", CARRIED_LOOPBACK + CARRIED_LINK)
def test_this_machine_and_its_link_are_never_measured_in_any_form(address: str) -> None:
    assert not measurement(allow_private=False).allowed(address)
    assert not measurement(allow_private=True).allowed(address)


@pytest.mark.parametrize("address", CARRIED_PRIVATE)
def test_private_space_in_any_form_is_measured_only_by_a_lab_helper(address: str) -> None:
    assert not measurement(allow_private=False).allowed(address)
    assert measurement(allow_private=True).allowed(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_measured_whatever_their_form(address: str) -> None:
    assert measurement(allow_private=False).allowed(address)
