"""The sms experiment's HTTP gateway back-end against gateway stubs on loopback."""

from __future__ import annotations

import threading
import time
import urllib.request
from typing import Any
from urllib.parse import parse_qs, urlsplit

from support.dnsserver import NXDOMAIN, Answer, running_dns_server
from support.servers import Exchange, Handler, http_server, page, reset_after_hello_server, tcp_refusing_port

from probe.config import Config
from probe.experiments import Context, get_experiment
from probe.model import Measurement, utc_now_iso
from probe.model.sms import SMSTestKeys
from probe.sms.http_gateway import credentials_refusal

SMS = get_experiment("sms")
NUMBER = "+77001234567"


def gateway_config(dns_spec: str = "system", **gateway: Any) -> Config:
    return Config.model_validate(
        {
            "dns": {"resolvers": [dns_spec], "timeout": 1.0, "late_answer_window": 0.1},
            "tcp": {"timeout": 0.5},
            "http": {"timeout": 1.0},
            "sms": {
                "backends": ["http_gateway"],
                "recipients": {"self-loop": {"number": NUMBER}},
                "http_gateway": {"dlr_listen": "127.0.0.1:0", "delivery_timeout": 1.0, **gateway},
            },
        }
    )


def run(target: str, config: Config) -> tuple[Measurement, SMSTestKeys]:
    m = SMS.run(target, Context(config=config, report_id="r", test_start_time=utc_now_iso()))
    assert isinstance(m.test_keys, SMSTestKeys)
    return m, m.test_keys


def kannel(report_type: int | None, *, status: int = 202, seen: list[dict[str, list[str]]] | None = None) -> Handler:
    """Kannel's sendsms: checks the account, answers, then calls dlr-url with ``report_type`` (if any)."""

    def handler(exchange: Exchange) -> None:
        query = parse_qs(urlsplit(exchange.request.target).query)
        if seen is not None:
            seen.append(query)
        if "username" not in query:
            page("Authorization required", status=401)(exchange)
            return
        if query.get("password") != ["secret"]:
            page("Authorization failed for sendsms", status=403)(exchange)
            return
        page("0: Accepted for delivery", status=status, content_type="text/plain")(exchange)
        if report_type is not None and status < 300:
            url = query["dlr-url"][0].replace("%d", str(report_type))
            threading.Thread(target=lambda: urllib.request.urlopen(url, timeout=2).read(), daemon=True).start()

    return handler


def test_200_is_gateway_reachable() -> None:
    with http_server({"/cgi-bin/sendsms": page("ok")}) as gateway:
        m, keys = run(gateway.url("/cgi-bin/sendsms"), gateway_config())
    assert (keys.conclusion, keys.http_status) == ("gateway_reachable", 200)
    assert (m.failure, m.verdict, m.blocking_detail) == (None, "accessible", "sms:gateway_reachable")
    assert keys.tcp_connect[0].status.success and keys.requests[0].response is not None


def test_401_still_proves_the_gateway_reachable() -> None:
    with http_server({"/cgi-bin/sendsms": kannel(None)}) as gateway:
        m, keys = run(gateway.url("/cgi-bin/sendsms"), gateway_config())
    assert (keys.conclusion, keys.http_status, m.failure) == ("gateway_reachable", 401, None)


def test_reset_after_the_request_is_gateway_unreachable_at_http() -> None:
    with reset_after_hello_server() as middlebox:
        m, keys = run(f"http://{middlebox.address}/cgi-bin/sendsms", gateway_config())
    assert (keys.conclusion, keys.failed_stage) == ("gateway_unreachable", "http")
    assert (m.failure, m.failed_step, m.blocking_detail) == ("connection_reset", "http", "sms:gateway_unreachable:http")
    assert m.verdict == "inconclusive"


def test_dns_failure_is_gateway_unreachable_at_dns() -> None:
    with running_dns_server({}, default=NXDOMAIN) as dns:
        m, keys = run("https://gateway.test/api", gateway_config(dns.spec()))
    assert (keys.conclusion, keys.failed_stage, m.failure) == ("gateway_unreachable", "dns", "dns_nxdomain_error")


def test_refused_connection_is_gateway_unreachable_at_tcp() -> None:
    with tcp_refusing_port() as port:
        m, _ = run(f"http://{port.address}/", gateway_config())
    assert (m.failure, m.failed_step) == ("connection_refused", "tcp")


def test_kannel_send_with_a_delivered_report_is_sms_ok() -> None:
    seen: list[dict[str, list[str]]] = []
    with running_dns_server({"gw.test": Answer(("127.0.0.1",))}) as dns:
        with http_server({"/cgi-bin/sendsms": kannel(1, seen=seen)}) as gateway:
            config = gateway_config(dns.spec(), username="probe", password="secret")
            m, keys = run(f"http://gw.test:{gateway.port}/cgi-bin/sendsms", config)
    assert keys.conclusion == "sms_ok" and (m.failure, m.verdict) == (None, "accessible")
    assert (keys.send_result, keys.report_status, keys.report_code) == ("ok", "delivered", "1")
    send = seen[-1]
    assert send["to"] == [NUMBER] and send["text"][0].startswith("Test message, ref ")
    assert send["dlr-mask"] == ["31"] and "/dlr/" in send["dlr-url"][0]
    dumped = m.model_dump_json()
    assert "secret" not in dumped and NUMBER.lstrip("+") not in dumped  # the send's URL is not recorded


def test_kannel_accepted_without_a_report_is_accepted_not_delivered() -> None:
    with http_server({"/send": kannel(None)}) as gateway:
        begin = time.monotonic()
        _, keys = run(gateway.url("/send"), gateway_config(username="probe", password="secret", delivery_timeout=0.5))
    assert (keys.conclusion, keys.send_result) == ("accepted_not_delivered", "ok")
    assert time.monotonic() - begin < 2.5


def test_kannel_smsc_rejection_report_is_sms_submit_rejected() -> None:
    with http_server({"/send": kannel(16)}) as gateway:
        _, keys = run(gateway.url("/send"), gateway_config(username="probe", password="secret"))
    assert (keys.conclusion, keys.report_code) == ("sms_submit_rejected", "16")


def test_kannel_refusing_the_credentials_is_a_probe_fault() -> None:
    with http_server({"/send": kannel(1)}) as gateway:
        _, keys = run(gateway.url("/send"), gateway_config(username="probe", password="wrong"))
    assert (keys.conclusion, keys.http_status, keys.send_result) == ("probe_fault", 403, "rejected")


def test_gateway_failing_the_submission_is_sms_submit_rejected() -> None:
    with http_server({"/send": kannel(None, status=503)}) as gateway:
        _, keys = run(gateway.url("/send"), gateway_config(username="probe", password="secret"))
    assert (keys.conclusion, keys.http_status) == ("sms_submit_rejected", 503)


def test_credentials_go_over_plain_http_only_to_local_addresses() -> None:
    assert credentials_refusal("http://gw.example/send", ["127.0.0.1"]) is None
    assert credentials_refusal("http://gw.example/send", ["192.168.1.20"]) is None
    assert credentials_refusal("https://gw.example/send", ["93.184.216.34"]) is None
    assert credentials_refusal("http://gw.example/send", ["93.184.216.34"]) is not None
