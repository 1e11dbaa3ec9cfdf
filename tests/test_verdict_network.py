"""Network context: the round's controls tell a shutdown from a targeted block."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import loopback_config
from support.servers import http_server, page, tcp_refusing_port

from probe.stage.network import default_gateway, has_way_out, measure_network
from probe.verdict.network import ControlResult, classify

PAGE = page("<title>control</title>")


def controls(domestic: str, international: str) -> list[ControlResult]:
    made = []
    for group, flags in (("domestic", domestic), ("international", international)):
        made += [ControlResult(f"http://{group}{i}/", group, ok == "1", None, None, 0.1) for i, ok in enumerate(flags)]
    return made


@pytest.mark.parametrize(
    ("domestic", "international", "gateway", "state"),
    [
        ("11", "11", None, "ok"),
        ("11", "00", None, "international_cut"),
        ("00", "00", True, "shutdown"),
        ("00", "00", None, "shutdown"),
        ("00", "00", False, "local_fault"),
        ("10", "11", None, "degraded"),
        ("11", "10", None, "degraded"),
        ("", "0", True, "shutdown"),
        ("", "", None, None),
    ],
)
def test_network_state_from_the_rounds_controls(
    domestic: str, international: str, gateway: bool | None, state: str | None
) -> None:
    assert classify(controls(domestic, international), gateway) == state


def test_the_gateway_is_read_from_the_routing_table(tmp_path: Path) -> None:
    table = tmp_path / "route"
    table.write_text(
        "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n"
        "isp0\t000012C6\t010112C6\t0003\t0\t0\t0\t0000FEFF\n"  # 198.18.0.0/15 via 198.18.1.1
        "eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\n",  # default via 192.168.1.1
        encoding="ascii",
    )
    assert default_gateway(table) == "192.168.1.1"
    table.write_text(table.read_text(encoding="ascii").splitlines()[0] + "\n" + "isp0\t000012C6\t010112C6\t0003\n")
    assert default_gateway(table) == "198.18.1.1"
    assert default_gateway(tmp_path / "none") is None


def test_controls_on_loopback_up_and_down() -> None:
    with http_server({"/": PAGE}) as up, tcp_refusing_port() as down:
        config = loopback_config(
            "system",
            network={"domestic_controls": [up.url("/")], "international_controls": [f"http://{down.address}/"]},
        )
        context = measure_network(config)
    assert context.state == "international_cut"
    assert [(c.group, c.ok, c.failure) for c in context.controls] == [
        ("domestic", True, None),
        ("international", False, "connection_refused"),
    ]
    assert "domestic 1/1 up, international 0/1 up" in context.summary()


def test_when_every_control_fails_the_gateway_decides_between_shutdown_and_local_fault() -> None:
    with tcp_refusing_port() as down:
        config = loopback_config(
            "system", network={"international_controls": [f"http://{down.address}/"], "gateway": "127.0.0.1"}
        )
        asked: list[str] = []
        unread = lambda: pytest.fail("a gateway named in the config: the routing tables are not read")  # noqa: E731
        shutdown = measure_network(config, ask_gateway=lambda ip: asked.append(ip) or True, way_out=unread)
        fault = measure_network(config, ask_gateway=lambda ip: False, way_out=unread)
    assert (shutdown.state, shutdown.gateway, asked) == ("shutdown", "127.0.0.1", ["127.0.0.1"])
    assert fault.state == "local_fault" and fault.gateway_answers is False
    assert "not connected" not in fault.summary()  # a gateway that is silent: the link, not "no route out"


def test_every_control_failing_on_a_machine_with_no_route_out_is_a_local_fault_not_a_shutdown() -> None:
    with tcp_refusing_port() as down:
        config = loopback_config(
            "system", network={"international_controls": [f"http://{down.address}/"], "gateway": "auto"}
        )
        context = measure_network(config, ask_gateway=lambda ip: True, way_out=lambda: False)
    assert (context.state, context.way_out, context.not_connected) == ("local_fault", False, True)
    assert "this machine is not connected" in context.summary() and "shutdown" not in context.summary()


def test_with_a_control_up_the_routing_tables_are_not_read() -> None:
    with http_server({"/": PAGE}) as up:
        config = loopback_config("system", network={"domestic_controls": [up.url("/")]})
        context = measure_network(config, way_out=lambda: pytest.fail("read"))
    assert (context.state, context.way_out) == ("ok", None)


IPV4_HEADER = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n"
IPV6_LOOPBACK_ONLY = (
    # What a namespace with only loopback up shows: an unreachable default (a reject route) and ::1, both on lo.
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 "
    "ffffffff 00000001 00000000 00200200 lo\n"
    "00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 "
    "00000000 00000002 00000000 80200001 lo\n"
)
IPV6_LINK_ONLY = (  # an interface up with its link-local prefix and address, no router
    "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 "
    "00000100 00000002 00000000 00000001 wlan0\n"
)
IPV6_DEFAULT = (
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 "
    "00000400 00000003 00000000 00000003 wlan0\n"
)


@pytest.mark.parametrize(
    ("ipv4", "ipv6", "way_out"),
    [
        ("", IPV6_LOOPBACK_ONLY, False),
        ("docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\n", IPV6_LINK_ONLY, False),  # a bridge, no way out
        ("isp0\t000012C6\t010112C6\t0003\t0\t0\t0\t0000FEFF\n", IPV6_LOOPBACK_ONLY, True),  # the lab: via a gateway
        ("ppp0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\n", "", True),  # a default route with no gateway
        ("", IPV6_DEFAULT, True),
    ],
)
def test_the_way_out_is_read_from_both_routing_tables(tmp_path: Path, ipv4: str, ipv6: str, way_out: bool) -> None:
    (tmp_path / "route").write_text(IPV4_HEADER + ipv4, encoding="ascii")
    (tmp_path / "ipv6_route").write_text(ipv6, encoding="ascii")
    assert has_way_out(tmp_path / "route", tmp_path / "ipv6_route") is way_out


def test_without_routing_tables_the_way_out_is_unknown(tmp_path: Path) -> None:
    assert has_way_out(tmp_path / "none", tmp_path / "none6") is None


def test_no_controls_no_state_and_no_traffic() -> None:
    context = measure_network(loopback_config("system"), measure=lambda url: pytest.fail("measured"))
    assert context.state is None and context.summary() == "no network controls"


def test_without_controls_a_machine_with_no_route_out_is_still_a_local_fault() -> None:
    config = loopback_config("system", network={"gateway": "auto"})
    offline = measure_network(config, way_out=lambda: False)
    assert (offline.state, offline.not_connected) == ("local_fault", True)
    assert "this machine is not connected" in offline.summary()
    connected = measure_network(config, way_out=lambda: True)
    assert connected.state is None  # no controls: nothing to say about the network
    unread = lambda: pytest.fail("gateway off: the routing tables are not read")  # noqa: E731
    assert measure_network(loopback_config("system", network={"gateway": ""}), way_out=unread).state is None
