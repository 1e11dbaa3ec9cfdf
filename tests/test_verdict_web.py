"""The web experiment with a control: the helper's answer stored, retries sandwiched by controls."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from conftest import context, loopback_config
from support.dnsserver import NXDOMAIN, Answer, running_dns_server
from support.servers import Exchange, Handler, http_server, page, tcp_refusing_port

from probe.config import Config
from probe.experiments import get_experiment
from probe.helper.server import HelperOptions, HelperServer
from probe.model import Measurement
from probe.verdict import judge_measurement

WEB = get_experiment("web")
LOOPBACK = Answer(("127.0.0.1",))
TITLE_PAGE = "<html><head><title>Guljan news portal</title></head><body>news of the day</body></html>"


@contextmanager
def helper(dns_spec: str = "system") -> Iterator[HelperServer]:
    options = HelperOptions(allow_private=True, test_loopback=True)
    with HelperServer(loopback_config(dns_spec), port=0, options=options) as server:
        yield server


def probe_config(dns_spec: str, control_url: str, **control: Any) -> Config:
    return loopback_config(
        dns_spec,
        control={"url": control_url, "timeout": 5.0, "retry_delay": 0.0, **control},
        http={"user_agent": PROBE_AGENT},
    )


def extra(measurement: Measurement, key: str) -> Any:
    return measurement.test_keys.model_dump(mode="json").get(key)


PROBE_AGENT = "probe-under-test"
"""The probe's User-Agent in these tests; the helper sends its own, so a server can tell them apart."""


def flaky(failures: int) -> Handler:
    """Reset the probe's first ``failures`` requests, then serve the page; the helper's are always served.

    Counting only the probe's requests makes the test deterministic: the helper fetches the page
    at the same time, and must never be the one that meets a failure meant for the probe."""
    seen: list[int] = []
    serve = page(TITLE_PAGE)

    def handler(exchange: Exchange) -> None:
        if exchange.request.header("User-Agent") == PROBE_AGENT:
            seen.append(1)
        if exchange.request.header("User-Agent") == PROBE_AGENT and len(seen) <= failures:
            exchange.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            exchange.conn.close()
            return
        serve(exchange)

    return handler


def test_the_helpers_view_is_stored_with_the_measurement() -> None:
    with running_dns_server({"guljan.test": LOOPBACK}) as dns, http_server({"/": page(TITLE_PAGE)}) as web:
        with helper(dns.spec()) as control:
            m = WEB.run(f"http://guljan.test:{web.port}/", context(probe_config(dns.spec(), control.url)))
    keys = m.test_keys.model_dump(mode="json")
    assert keys["control_failure"] is None
    assert keys["control"]["http_request"]["title"] == "Guljan news portal"
    assert keys["control"]["tcp_connect"] == {f"127.0.0.1:{web.port}": {"status": True, "failure": None}}
    assert extra(m, "x_retries") is None
    verdict = judge_measurement(m)
    assert verdict is not None and verdict.verdict == "accessible"


def test_an_unreachable_helper_is_a_control_failure_and_the_measurement_goes_on() -> None:
    with running_dns_server({"guljan.test": LOOPBACK}) as dns, http_server({"/": page(TITLE_PAGE)}) as web:
        with tcp_refusing_port() as shut:
            m = WEB.run(f"http://guljan.test:{web.port}/", context(probe_config(dns.spec(), f"http://{shut.address}/")))
    keys = m.test_keys.model_dump(mode="json")
    assert (keys["control"], keys["control_failure"]) == (None, "connection_refused")
    assert m.failure is None


def test_a_failing_target_is_tried_again_between_two_asks_of_the_control() -> None:
    with running_dns_server({"guljan.test": LOOPBACK}) as dns, tcp_refusing_port() as shut, helper(dns.spec()) as h:
        m = WEB.run(f"http://guljan.test:{shut.port}/", context(probe_config(dns.spec(), h.url, retries=2)))
    retries = extra(m, "x_retries")
    assert [r["x_failure"] for r in retries] == ["connection_refused", "connection_refused"]
    assert extra(m, "x_control_after")["tcp_connect"][f"127.0.0.1:{shut.port}"]["failure"] == "connection_refused"
    verdict = judge_measurement(m)
    assert verdict is not None and verdict.verdict == "site_down" and "all 3 tries" in verdict.reason


def test_a_failure_that_does_not_repeat_is_not_called_a_block() -> None:
    with running_dns_server({"guljan.test": LOOPBACK}) as dns, http_server({"/": flaky(1)}) as web:
        with helper(dns.spec()) as control:
            url = f"http://guljan.test:{web.port}/"
            config = probe_config(dns.spec(), control.url, retries=2)
            m = WEB.run(url, context(config))
    assert m.failure in ("connection_reset", "eof_error")
    retries = extra(m, "x_retries")
    assert [r["x_failure"] for r in retries] == [None]  # stopped at the first success
    assert extra(m, "x_control_after") is None
    verdict = judge_measurement(m)
    assert verdict is not None and verdict.verdict == "accessible" and "not a block" in verdict.reason


def test_the_probe_and_the_helper_disagreeing_on_dns_is_dns_blocking() -> None:
    with running_dns_server({}, default=NXDOMAIN) as lying, running_dns_server({"guljan.test": LOOPBACK}) as honest:
        with http_server({"/": page(TITLE_PAGE)}) as web, helper(honest.spec()) as control:
            m = WEB.run(f"http://guljan.test:{web.port}/", context(probe_config(lying.spec(), control.url, retries=1)))
    verdict = judge_measurement(m)
    assert verdict is not None
    assert (verdict.verdict, verdict.blocking, verdict.blocking_detail) == ("blocked", "dns", "dns_nxdomain")


def test_without_a_control_the_web_experiment_is_unchanged() -> None:
    with running_dns_server({"guljan.test": LOOPBACK}) as dns, tcp_refusing_port() as shut:
        m = WEB.run(f"http://guljan.test:{shut.port}/", context(loopback_config(dns.spec())))
    keys = m.test_keys.model_dump(mode="json")
    assert keys["control"] is None and "x_retries" not in keys
    verdict = judge_measurement(m)
    assert verdict is not None and verdict.verdict == "inconclusive" and "no control" in verdict.reason
