"""The lab's namespaces and links: create them, and remove every trace of them.

Four namespaces, linked only to each other (never to the host's namespace), so no packet
can leave the lab: probe (the volunteer) — isp (router, resolver, censor) — net (the
internet's servers) — helper (outside the censor, for the test helper). Routes cover only
198.18.0.0/15, so even a packet for another address has nowhere to go: it fails in the
namespace that made it. See ``probe.lab.plan`` for the addresses.

``ip netns exec`` bind-mounts ``/etc/netns/<ns>/*`` over ``/etc``: the probe namespace gets
the ISP resolver as its system resolver, the helper the public one, without touching the
host's files.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from probe import processes
from probe.lab import plan
from probe.lab.errors import LabError
from probe.lab.shell import in_netns, run

PREFIX = "zp-"
NETNS_RUN_DIR = Path("/run/netns")
NETNS_ETC_DIR = Path("/etc/netns")
KILL_GRACE = 2.0
_NO_IPV6 = ("net/ipv6/conf/all/disable_ipv6", "net/ipv6/conf/default/disable_ipv6")


@dataclass(frozen=True)
class Namespaces:
    """The names of one lab's namespaces: ``zp-<lab id>-<role>``."""

    probe: str
    isp: str
    net: str
    helper: str

    @classmethod
    def for_lab(cls, lab_id: str) -> Namespaces:
        return cls(*(f"{PREFIX}{lab_id}-{role}" for role in ("probe", "isp", "net", "helper")))

    def all(self) -> tuple[str, str, str, str]:
        return (self.probe, self.isp, self.net, self.helper)


def create(ns: Namespaces) -> None:
    """Build the topology. On failure, what was made stays: the caller calls ``destroy``."""
    for name in ns.all():
        run(["ip", "netns", "add", name])
        for key in _NO_IPV6:
            sysctl(name, key, "1")
        run(["ip", "-n", name, "link", "set", "lo", "up"])
    link(ns.probe, plan.PROBE_IF, plan.PROBE_ADDRESS, ns.isp, plan.ISP_PROBE_IF, plan.ISP_PROBE_SIDE)
    link(ns.isp, plan.ISP_NET_IF, plan.ISP_NET_SIDE, ns.net, plan.NET_ISP_IF, plan.NET_ISP_SIDE)
    link(ns.net, plan.NET_HELPER_IF, plan.NET_HELPER_SIDE, ns.helper, plan.HELPER_IF, plan.HELPER_ADDRESS)
    for address in plan.ISP_LOCAL_ADDRESSES:
        run(["ip", "-n", ns.isp, "addr", "add", f"{address}/32", "dev", "lo"])
    for address in plan.NET_LOCAL_ADDRESSES:
        run(["ip", "-n", ns.net, "addr", "add", f"{address}/32", "dev", "lo"])
    lab = str(plan.LAB_NETWORK)
    route(ns.probe, lab, plan.ISP_PROBE_SIDE)
    route(ns.isp, plan.INTERNET, plan.NET_ISP_SIDE)
    route(ns.isp, f"{plan.HELPER_ADDRESS}/32", plan.NET_ISP_SIDE)
    route(ns.net, lab, plan.ISP_NET_SIDE)
    route(ns.helper, lab, plan.NET_HELPER_SIDE)
    for router in (ns.isp, ns.net):
        sysctl(router, "net/ipv4/ip_forward", "1")
    _etc_files(ns.probe, plan.ISP_RESOLVER)
    _etc_files(ns.helper, plan.PUBLIC_RESOLVER)


def link(ns_a: str, if_a: str, ip_a: str, ns_b: str, if_b: str, ip_b: str) -> None:
    """A veth pair between two namespaces, each end with its address (a /24) and up."""
    # Made inside ns_a with its peer sent straight to ns_b: neither end ever exists in the host's namespace.
    run(["ip", "-n", ns_a, "link", "add", if_a, "type", "veth", "peer", "name", if_b, "netns", ns_b])
    for name, interface, address in ((ns_a, if_a, ip_a), (ns_b, if_b, ip_b)):
        run(["ip", "-n", name, "addr", "add", f"{address}/{plan.LINK_PREFIX}", "dev", interface])
        run(["ip", "-n", name, "link", "set", interface, "up"])


def sysctl(namespace: str, key: str, value: str) -> None:
    # /proc/sys/net shows the namespace of the process that reads it; sh is everywhere, sysctl(8) is not.
    run(in_netns(namespace, ["sh", "-c", 'echo "$1" > "/proc/sys/$2"', "sh", value, key]))


def route(namespace: str, network: str, gateway: str) -> None:
    run(["ip", "-n", namespace, "route", "add", network, "via", gateway])


def _etc_files(namespace: str, resolver: str) -> None:
    directory = NETNS_ETC_DIR / namespace
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "resolv.conf").write_text(f"# zhanaozen-probe lab\nnameserver {resolver}\n", encoding="ascii")
    (directory / "hosts").write_text("127.0.0.1 localhost\n", encoding="ascii")
    # Only files and DNS: no mDNS or systemd-resolved module may answer for the lab's names.
    (directory / "nsswitch.conf").write_text("hosts: files dns\n", encoding="ascii")


def orphans() -> list[Namespaces]:
    """Labs whose namespaces exist with no process in any of them (their owner died, their state is lost)."""
    pattern = re.compile(rf"^{PREFIX}([0-9a-f]{{6}})-(?:probe|isp|net|helper)$")
    found = {m.group(1) for path in _listed() if (m := pattern.match(path))}
    labs = [Namespaces.for_lab(lab_id) for lab_id in sorted(found)]
    return [ns for ns in labs if not any(pids(name) for name in ns.all())]


def _listed() -> list[str]:
    try:
        return sorted(path.name for path in NETNS_RUN_DIR.iterdir())
    except OSError:
        return []


def exists(namespace: str) -> bool:
    return (NETNS_RUN_DIR / namespace).exists()


def pids(namespace: str) -> list[int]:
    """Processes running in ``namespace`` (none if it is gone)."""
    if not exists(namespace):
        return []
    try:
        out = run(["ip", "netns", "pids", namespace])
    except LabError:
        return []
    return [int(word) for word in out.split() if word.isdigit()]


def kill(pid_list: list[int], *, grace: float = KILL_GRACE) -> None:
    """SIGTERM, then SIGKILL for whatever still runs after ``grace`` seconds."""
    for pid in pid_list:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    alive = list(pid_list)
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [pid for pid in alive if _alive(pid)]
    for pid in alive:
        _signal(pid, signal.SIGKILL)


def destroy(ns: Namespaces) -> list[str]:
    """Kill every process in the lab's namespaces and delete them; what could not be removed."""
    problems: list[str] = []
    for name in ns.all():
        kill(pids(name))
    for name in ns.all():
        if exists(name):
            try:
                run(["ip", "netns", "del", name])
            except LabError as exc:
                problems.append(str(exc))
        shutil.rmtree(NETNS_ETC_DIR / name, ignore_errors=True)
    with contextlib.suppress(OSError):  # only if no one else has files there
        NETNS_ETC_DIR.rmdir()
    return problems


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


def _alive(pid: int) -> bool:
    try:
        # A zombie child of ours still "exists": reap it if it is ours, and count it dead.
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    return processes.exists(pid) and not processes.is_zombie(pid)
