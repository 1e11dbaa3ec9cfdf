"""Measuring the network context: this round's controls, and the gateway when every control fails.

The controls are ``[network] domestic_controls`` and ``international_controls``, measured with the
web experiment without a test helper, all at once. When every control has failed, the routing tables
say (``[network] gateway = "auto"``) whether this machine has a way out at all (``has_way_out``: read, no
packet sent) and which gateway to ask; the gateway (theirs, or the one the config names) is asked: a TCP
connect to its port 53, where an accepted or refused connection both prove it is up.
What the results mean is ``probe.verdict.network.classify``'s to say.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from probe import failures
from probe.config import Config
from probe.experiments.base import Context, new_report_id
from probe.experiments.web import WebExperiment
from probe.model import Measurement, utc_now_iso
from probe.net import tcp
from probe.net.trace import Trace
from probe.verdict.network import ControlResult, NetworkContext, classify

GATEWAY_PORT = 53
GATEWAY_TIMEOUT = 2.0
MAX_CONTROLS = 16
ROUTE_TABLE = Path("/proc/net/route")
IPV6_ROUTE_TABLE = Path("/proc/net/ipv6_route")
_RTF_GATEWAY = 0x2
_RTF_REJECT = 0x200
_LOOPBACK = "lo"


def default_gateway(route_table: Path = ROUTE_TABLE) -> str | None:
    """The IPv4 gateway of the default route (else of the first route through a gateway), or None."""
    try:
        lines = route_table.read_text(encoding="ascii").splitlines()[1:]
    except OSError:
        return None
    defaults: list[str] = []
    others: list[str] = []
    for line in lines:
        fields = line.split()
        if len(fields) < 4:
            continue
        try:
            destination, gateway, flags = int(fields[1], 16), int(fields[2], 16), int(fields[3], 16)
        except ValueError:
            continue
        if flags & _RTF_GATEWAY and gateway:
            address = str(ipaddress.IPv4Address(socket.ntohl(gateway)))
            (others if destination else defaults).append(address)
    found = defaults + others
    return found[0] if found else None


def has_way_out(route_table: Path = ROUTE_TABLE, ipv6_route_table: Path = IPV6_ROUTE_TABLE) -> bool | None:
    """Whether this machine has a route out of its own links, IPv4 or IPv6: a default route, or a route through a
    gateway (the lab's probe has only the latter). None when neither table can be read (not Linux).

    Wi-Fi off, cable out, no lease: only loopback is left, every connection fails with ``network_unreachable``,
    and no control failing says anything about the network. Known limit: a shutdown that takes the link itself
    away (a mobile data session torn down, no address given) reads as this machine not being connected."""
    found: bool | None = None
    for table, fields_of in ((route_table, _ipv4_route), (ipv6_route_table, _ipv6_route)):
        try:
            lines = table.read_text(encoding="ascii").splitlines()
        except OSError:
            continue
        found = found or any(fields_of(line.split()) for line in lines)
    return found


def _ipv4_route(fields: list[str]) -> bool:
    """A /proc/net/route line (Iface Destination Gateway Flags ...) that leads out: default, or via a gateway."""
    if len(fields) < 4 or fields[0] == _LOOPBACK:
        return False
    try:
        destination, gateway, flags = int(fields[1], 16), int(fields[2], 16), int(fields[3], 16)
    except ValueError:
        return False  # the header
    return not flags & _RTF_REJECT and (destination == 0 or bool(flags & _RTF_GATEWAY and gateway))


def _ipv6_route(fields: list[str]) -> bool:
    """A /proc/net/ipv6_route line (destination, prefix length, source, its length, next hop, metric, counts,
    flags, device) that leads out: ::/0, or via a next hop."""
    if len(fields) < 10 or fields[9] == _LOOPBACK:
        return False
    try:
        prefix, next_hop, flags = int(fields[1], 16), int(fields[4], 16), int(fields[8], 16)
    except ValueError:
        return False
    return not flags & _RTF_REJECT and (prefix == 0 or next_hop != 0)


def gateway_answers(address: str, *, timeout: float = GATEWAY_TIMEOUT) -> bool:
    """Whether ``address`` answers a TCP connect to port 53 (accepting or refusing it)."""
    sock, observation = tcp.connect(address, GATEWAY_PORT, Trace(), timeout=timeout)
    if sock is not None:
        sock.close()
        return True
    return observation.status.failure == failures.CONNECTION_REFUSED


Measure = Callable[[str], Measurement]


def measure_network(
    config: Config,
    *,
    measure: Measure | None = None,
    ask_gateway: Callable[[str], bool] = gateway_answers,
    way_out: Callable[[], bool | None] = has_way_out,
) -> NetworkContext:
    """Measure this round's controls, at once, and classify the network.

    ``measure`` (a URL to a measurement) defaults to the web experiment without test helper; ``way_out`` reads
    whether this machine has a route out (``has_way_out``).
    """
    groups = [("domestic", url) for url in config.network.domestic_controls]
    groups += [("international", url) for url in config.network.international_controls]
    groups = groups[:MAX_CONTROLS]
    if not groups:
        # No controls to tell a cut from a block; but a machine with no route out at all (Wi-Fi off, cable out)
        # is its own fault, whatever its targets say: read from the routing tables, no packet sent.
        if config.network.gateway == "auto" and way_out() is False:
            return NetworkContext("local_fault", way_out=False)
        return NetworkContext(None)
    run = measure or _web_measure(config)
    with ThreadPoolExecutor(max_workers=len(groups), thread_name_prefix="network-control") as pool:
        measurements = list(pool.map(lambda item: run(item[1]), groups))
    controls = [
        ControlResult(url, group, m.failure is None, m.failure, m.failed_step, m.test_runtime)
        for (group, url), m in zip(groups, measurements, strict=True)
    ]
    context = NetworkContext(None, controls)
    if not any(c.ok for c in controls) and config.network.gateway:
        if config.network.gateway == "auto":  # the routing tables say whether there is a way out, and the gateway
            context.way_out = way_out()
            context.gateway = default_gateway()
        else:  # a gateway named in the config: with no route to it, it does not answer (a local fault too)
            context.gateway = config.network.gateway
        if context.gateway is not None:
            context.gateway_answers = ask_gateway(context.gateway)
    context.state = classify(controls, context.gateway_answers, context.way_out)
    return context


def _web_measure(config: Config) -> Measure:
    # The controls are judged on their own reachability: no helper, no retries.
    plain = config.model_copy(update={"control": config.control.model_copy(update={"url": []})})
    ctx = Context(config=plain, report_id=new_report_id(), test_start_time=utc_now_iso())
    experiment = WebExperiment()
    return lambda url: experiment.run(url, ctx)
