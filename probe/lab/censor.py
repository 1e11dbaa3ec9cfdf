"""Applying a scenario's ``Rules``: reset everything the censor and the internet do, then apply.

Firewall tables are replaced whole with ``iptables-restore`` (one transaction each), the
shaping qdisc is deleted and rebuilt, the policy file is replaced, and connection tracking
is flushed (when ``conntrack`` is installed) so that no NAT decision of the previous
scenario outlives it.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from probe.lab import plan
from probe.lab.errors import LabError
from probe.lab.policy import write_policy
from probe.lab.scenarios import THROTTLE_QUEUE, THROTTLE_RATE, Rules
from probe.lab.shell import in_netns, run
from probe.lab.topology import Namespaces

_NAT_CHAINS = ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING")


def filter_table(lines: tuple[str, ...], forward_policy: str = "ACCEPT") -> str:
    head = f"*filter\n:INPUT ACCEPT [0:0]\n:FORWARD {forward_policy} [0:0]\n:OUTPUT ACCEPT [0:0]\n"
    return head + "".join(line + "\n" for line in lines) + "COMMIT\n"


def nat_table(lines: tuple[str, ...]) -> str:
    head = "*nat\n" + "".join(f":{chain} ACCEPT [0:0]\n" for chain in _NAT_CHAINS)
    return head + "".join(line + "\n" for line in lines) + "COMMIT\n"


class Censor:
    def __init__(self, namespaces: Namespaces, policy_path: Path) -> None:
        self.ns = namespaces
        self.policy_path = policy_path

    def apply(self, rules: Rules) -> None:
        isp_tables = filter_table(rules.isp_filter, rules.forward_policy) + nat_table(rules.isp_nat)
        run(in_netns(self.ns.isp, ["iptables-restore"]), stdin=isp_tables)
        run(in_netns(self.ns.net, ["iptables-restore"]), stdin=filter_table(rules.net_filter))
        write_policy(self.policy_path, rules.policy)
        self._shape(rules.throttle)
        self._flush_conntrack()

    def _shape(self, addresses: tuple[str, ...]) -> None:
        """Slow the data the sites send towards the probe; their small packets (SYN-ACKs, ACKs) pass.

        Data goes through an htb class at ``THROTTLE_RATE`` with a short FIFO, so that what
        earlier fetches left queued delays a new connection by little more than a second, as
        with a policer; unclassified traffic bypasses htb (there is no default class).
        """
        device = ["dev", plan.ISP_PROBE_IF]
        with contextlib.suppress(LabError):  # there was no qdisc to delete
            self._tc("qdisc", "del", *device, "root")
        if not addresses:
            return
        self._tc("qdisc", "add", *device, "root", "handle", "1:", "htb")
        rate = ["rate", THROTTLE_RATE, "ceil", THROTTLE_RATE, "quantum", "1514"]
        self._tc("class", "add", *device, "parent", "1:", "classid", "1:10", "htb", *rate)
        self._tc("qdisc", "add", *device, "parent", "1:10", "handle", "10:", "pfifo", "limit", str(THROTTLE_QUEUE))
        # Packets shorter than 256 bytes (IP total length's high byte is 0) are left alone.
        small = ["match", "u16", "0x0000", "0xff00", "at", "2"]
        for address in addresses:
            source = ["match", "ip", "src", f"{address}/32"]
            self._tc("filter", "add", *device, "parent", "1:", "protocol", "ip", "prio", "1", "u32", *source, *small,
                     "flowid", "1:")  # fmt: skip
            self._tc("filter", "add", *device, "parent", "1:", "protocol", "ip", "prio", "2", "u32", *source,
                     "flowid", "1:10")  # fmt: skip

    def _tc(self, *args: str) -> None:
        run(in_netns(self.ns.isp, ["tc", *args]))

    def _flush_conntrack(self) -> None:
        if shutil.which("conntrack") is None:
            return
        for namespace in (self.ns.isp, self.ns.net):
            # An empty table makes some versions of conntrack fail: nothing to flush, then.
            with contextlib.suppress(LabError):
                run(in_netns(namespace, ["conntrack", "-F"]))
