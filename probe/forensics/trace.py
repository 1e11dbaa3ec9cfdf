"""``probe trace URL``: find the hop at which the request for a site is reset, dropped or answered.

Method (after CenTrace): for TTL = 1, 2, ... open a TCP connection to the site's address normally,
then send the *test* request (an HTTP GET with the site's ``Host``, or a ClientHello with its SNI)
with that IP TTL, and watch what comes back: an ICMP time-exceeded from the router at that hop,
a reset, a response, or nothing. Then the same with a *control* request (the same bytes with a
neutral name, ``example.com``). Where the control still dies of old age at a router but the test
is answered, reset or dropped, the censor is at that hop; a reset or a drop without an ICMP from
hop t means a box that filters what it forwards, after its own TTL check: the router at hop t-1.

When the connection itself cannot be opened (the address is blocked), the SYNs are sent with
limited TTLs instead, without a control (there is nothing to compare with on a blocked address).

Needs root (ICMP is read from a packet socket, ``probe.forensics.capture``). Every probe is bounded (``hop_timeout``),
and the trace stops once the control reaches the server. Known limits: a router that sends no ICMP
time-exceeded leaves its hop unnamed; load-balanced paths can mix routers of different paths.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import asdict, dataclass, field
from typing import Any

from probe.errors import ProbeError
from probe.forensics.capture import Capture, tcp_filter, unavailable_reason
from probe.forensics.hello import hello_for
from probe.model.packet import Packet

DEFAULT_MAX_TTL = 16
DEFAULT_HOP_TIMEOUT = 1.0
CONTROL_HOST = "example.com"
NORMAL_TTL = 64
TIME_EXCEEDED = "11/0"


@dataclass
class Probe:
    ttl: int
    kind: str
    """``test``, ``control`` or ``syn``."""
    outcome: str
    """``time_exceeded``, ``reset``, ``response``, ``timeout`` or ``connect_failed``."""
    router: str | None = None
    """Who sent the ICMP time-exceeded, if anyone."""
    detail: str = ""


@dataclass
class TraceResult:
    address: str
    port: int
    host: str
    control_host: str
    mode: str
    """``request`` (TTL-limited requests on an open connection) or ``syn``."""
    probes: list[Probe] = field(default_factory=list)
    censor_hop: int | None = None
    censor_address: str | None = None
    conclusion: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def rows(self) -> list[tuple[int, str, str]]:
        """One row per TTL: the test's outcome and the control's."""
        by_ttl: dict[int, dict[str, Probe]] = {}
        for probe in self.probes:
            by_ttl.setdefault(probe.ttl, {})[probe.kind] = probe
        rows = []
        for ttl, kinds in sorted(by_ttl.items()):
            test = kinds.get("test") or kinds.get("syn")
            control = kinds.get("control")
            rows.append((ttl, _describe(test), _describe(control)))
        return rows


def _describe(probe: Probe | None) -> str:
    if probe is None:
        return "-"
    text = probe.outcome + (f" from {probe.router}" if probe.router else "")
    return text + (f" ({probe.detail})" if probe.detail else "")


class TraceError(ProbeError):
    """The trace cannot run (no root, no address)."""


def _first_line(data: bytes) -> str:
    if data.startswith(b"HTTP/"):
        return data.split(b"\r\n", 1)[0][:80].decode("latin-1")
    return f"{len(data)} bytes"


def _icmp_router(packets: list[Packet], sport: int) -> str | None:
    for packet in packets:
        if packet.proto == "icmp" and packet.flags == TIME_EXCEEDED and packet.quoted_sport == sport:
            return packet.src
    return None


def _request_probe(address: str, port: int, payload: bytes, ttl: int, kind: str, hop_timeout: float) -> Probe:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with Capture(None, tcp_filter(address, port)) as capture:
        sock = socket.socket(family, socket.SOCK_STREAM)
        outcome, detail, sport = "timeout", "", 0
        try:
            sock.settimeout(hop_timeout)
            try:
                sock.connect((address, port))
            except OSError as exc:
                return Probe(ttl, kind, "connect_failed", detail=type(exc).__name__)
            sport = sock.getsockname()[1]
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
            sock.sendall(payload)
            data = sock.recv(4096)
            outcome, detail = ("response", _first_line(data)) if data else ("reset", "FIN")
        except ConnectionResetError:
            outcome = "reset"
        except TimeoutError:
            outcome = "timeout"
        except OSError as exc:
            outcome, detail = "reset", type(exc).__name__
        finally:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, NORMAL_TTL)
            sock.close()
    router = _icmp_router(capture.packets, sport)
    if outcome == "timeout" and router is not None:
        outcome = "time_exceeded"
    return Probe(ttl, kind, outcome, router, detail)


def _syn_probe(address: str, port: int, ttl: int, hop_timeout: float) -> Probe:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with Capture(None, tcp_filter(address, port)) as capture:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(hop_timeout)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        sock.bind(("", 0))
        sport = sock.getsockname()[1]
        try:
            sock.connect((address, port))
            outcome = "response"
        except ConnectionRefusedError:
            outcome = "reset"
        except OSError:
            outcome = "timeout"
        finally:
            sock.close()
    router = _icmp_router(capture.packets, sport)
    if outcome == "timeout" and router is not None:
        outcome = "time_exceeded"
    return Probe(ttl, "syn", outcome, router)


def locate(result: TraceResult) -> None:
    """Name the censoring hop from the probes (see the module docstring); sets ``conclusion``."""
    by_ttl: dict[int, dict[str, Probe]] = {}
    for probe in result.probes:
        by_ttl.setdefault(probe.ttl, {})[probe.kind] = probe
    last_router: tuple[int, str] | None = None
    for ttl in sorted(by_ttl):
        kinds = by_ttl[ttl]
        test = kinds.get("test") or kinds.get("syn")
        control = kinds.get("control")
        if test is None:
            continue
        if test.outcome == "time_exceeded":
            if test.router:
                last_router = (ttl, test.router)
            continue
        if control is not None and control.outcome == test.outcome and test.outcome != "timeout":
            result.conclusion = (
                f"the test and control requests meet the same fate at TTL {ttl} ({test.outcome}): "
                "no interference seen on the path"
            )
            return
        if control is not None and control.outcome not in ("time_exceeded", "response"):
            result.conclusion = (
                f"the control request fails too at TTL {ttl} ({control.outcome}): the path is unreliable"
            )
            return
        if test.router is not None or (test.outcome == "response" and control is not None):
            hop, address = ttl, test.router or (control.router if control else None)
        elif last_router is not None:
            hop, address = last_router
        else:
            hop, address = ttl, control.router if control is not None else None
        result.censor_hop, result.censor_address = hop, address
        what = {"reset": "reset", "response": "answered", "timeout": "dropped"}.get(test.outcome, test.outcome)
        against = f"; the control request {_describe(control)}" if control is not None else ""
        where = f"hop {hop}" + (f" ({address})" if address else "")
        result.conclusion = f"the test request is {what} at TTL {ttl}{against}: the censor is at {where}"
        return
    result.conclusion = "every probe died of old age: raise --max-ttl"


def trace(
    address: str,
    port: int,
    host: str,
    *,
    scheme: str = "http",
    path: str = "/",
    control_host: str = CONTROL_HOST,
    max_ttl: int = DEFAULT_MAX_TTL,
    hop_timeout: float = DEFAULT_HOP_TIMEOUT,
) -> TraceResult:
    """Trace the test request for ``host`` to ``address:port`` (see the module docstring)."""
    reason = unavailable_reason()
    if reason is not None:
        raise TraceError(f"probe trace needs raw sockets: {reason}")
    test_bytes = hello_for(scheme, host, path)
    control_bytes = hello_for(scheme, control_host, path)
    result = TraceResult(address, port, host, control_host, "request")
    connect_failed = False
    for ttl in range(1, max_ttl + 1):
        test = _request_probe(address, port, test_bytes, ttl, "test", hop_timeout)
        if test.outcome == "connect_failed":
            connect_failed = True
            break
        control = _request_probe(address, port, control_bytes, ttl, "control", hop_timeout)
        result.probes += [test, control]
        if "response" in (test.outcome, control.outcome) or "time_exceeded" not in (test.outcome, control.outcome):
            break
    if connect_failed and not result.probes:
        result.mode = "syn"
        for ttl in range(1, max_ttl + 1):
            probe = _syn_probe(address, port, ttl, hop_timeout)
            result.probes.append(probe)
            if probe.outcome != "time_exceeded":
                break
    locate(result)
    return result
