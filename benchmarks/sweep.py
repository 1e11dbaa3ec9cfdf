"""How long does a sweep take when some targets never answer?

Starts, on loopback only, one HTTP server and one black hole (a listening socket whose
accept queue is full, so the kernel drops new SYNs and connects time out), then measures
N web targets of which a share are black holes, for several concurrency settings, and
prints total time against N and concurrency. Not a timed test: run it by hand.

    .venv/bin/python benchmarks/sweep.py [--timeout 5] [--sizes 50,200] [--concurrency 8,32,64]
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import time
from collections.abc import Iterator

from _pages import http_server

from probe.config import Config
from probe.experiments import get_experiment
from probe.runner import run_targets
from probe.storage import open_database
from probe.testlist import Target

BLACKHOLE_QUEUE_FILLERS = 4


@contextlib.contextmanager
def black_hole() -> Iterator[int]:
    """A port that never completes a handshake: backlog 0, queue filled by idle clients."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(BLACKHOLE_QUEUE_FILLERS):
        client = socket.socket()
        client.setblocking(False)
        client.connect_ex(("127.0.0.1", port))
        fillers.append(client)
    time.sleep(0.2)
    try:
        yield port
    finally:
        for client in fillers:
            client.close()
        listener.close()


def sweep(n: int, share: float, concurrency: int, timeout: float, page: int, hole: int) -> tuple[float, int]:
    holes = int(n * share)
    targets = [Target(f"http://127.0.0.1:{hole}/t/{i}") for i in range(holes)]
    targets += [Target(f"http://127.0.0.1:{page}/t/{i}") for i in range(holes, n)]
    config = Config.model_validate(
        {
            "probe": {"concurrency": concurrency},
            "tcp": {"timeout": timeout},
            "tls": {"timeout": timeout},
            "http": {"timeout": timeout},
        }
    )
    db = open_database(":memory:")
    begin = time.monotonic()
    summary = run_targets(get_experiment("web"), targets, config, db)
    elapsed = time.monotonic() - begin
    return elapsed, summary.failures.get("generic_timeout_error", 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--share", type=float, default=0.2, help="share of black-hole targets")
    parser.add_argument("--sizes", default="50,200")
    parser.add_argument("--concurrency", default="8,32,64")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    levels = [int(x) for x in args.concurrency.split(",")]
    print(f"timeout {args.timeout:g} s, {args.share:.0%} black holes")
    print(f"{'N':>5} {'concurrency':>11} {'seconds':>8} {'timeouts':>8} {'x timeout':>9} {'serial worst':>12}")
    with http_server() as page, black_hole() as hole:
        for n in sizes:
            for level in levels:
                elapsed, timeouts = sweep(n, args.share, level, args.timeout, page, hole)
                serial = int(n * args.share) * args.timeout
                print(
                    f"{n:>5} {level:>11} {elapsed:>8.1f} {timeouts:>8} {elapsed / args.timeout:>9.1f} {serial:>11.0f}s"
                )


if __name__ == "__main__":
    main()
