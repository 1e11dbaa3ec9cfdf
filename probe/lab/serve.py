"""``python -m probe.lab.serve ROLE --dir DIR``: the servers of one lab namespace, as one process.

    net   authoritative DNS, the public resolver (slow), the sites on :80/:443, the SMSC's SMPP port
    isp   the ISP resolver (with the censor's policy), the blockpage server, the DNS injector

Started by ``Lab`` inside the namespace (``ip netns exec``). It writes ``DIR/ROLE.ready`` once
every socket is bound, and stops on SIGTERM/SIGINT, after ``--max-seconds``, or as soon as
``--owner-pid`` (the test run that made the lab) is gone.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Protocol

from probe import processes
from probe.lab import plan
from probe.lab.policy import PolicyFile
from probe.lab.servers.dns import Authoritative, Forwarder
from probe.lab.servers.injector import Injector
from probe.lab.servers.smpp import SMPPServer
from probe.lab.servers.web import blockpage_server, site_servers

ROLES = ("net", "isp")
POLICY_FILE = "policy.json"
CERT_DIR = "certs"
OWNER_CHECK_SECONDS = 1.0


class Server(Protocol):
    def start(self) -> None: ...
    def close(self) -> None: ...


def servers_for(role: str, directory: Path, public_delay: float) -> list[Server]:
    if role == "net":
        return [
            Authoritative(plan.AUTHORITATIVE),
            Forwarder(plan.PUBLIC_RESOLVER, plan.AUTHORITATIVE, delay=public_delay),
            *site_servers(directory / CERT_DIR),
            SMPPServer(),
        ]
    policy = PolicyFile(directory / POLICY_FILE)
    return [
        Forwarder(plan.ISP_RESOLVER, plan.AUTHORITATIVE, policy=policy),
        blockpage_server(),
        Injector(plan.ISP_PROBE_IF, PolicyFile(directory / POLICY_FILE)),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m probe.lab.serve")
    parser.add_argument("role", choices=ROLES)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--public-delay", type=float, default=0.25)
    parser.add_argument("--owner-pid", type=int)
    parser.add_argument("--max-seconds", type=float, default=8 * 3600)
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    servers = servers_for(args.role, args.dir, args.public_delay)
    for server in servers:
        server.start()
    (args.dir / f"{args.role}.ready").write_text(str(os.getpid()), encoding="ascii")
    rounds = int(args.max_seconds / OWNER_CHECK_SECONDS) + 1
    for _ in range(rounds):
        if stop.wait(OWNER_CHECK_SECONDS):
            break
        if args.owner_pid is not None and not processes.exists(args.owner_pid):
            break
    for server in servers:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
