"""A very large test list: how soon does the first measurement arrive, and how much memory does the probe take?

Writes a list of N URLs (default 100,000) that all point at one HTTP server on loopback, runs
`probe run` on it as a real process, and reads its progress lines: the seconds from start to the
first stored measurement, then, after `--measure` more seconds, stops the run with SIGINT (the
measurements so far are kept) and reads the child's peak resident memory from the kernel
(``VmHWM`` in /proc/PID/status, the high-water mark since its exec: ``wait4``'s ``ru_maxrss`` would
also count the parent's pages the child shared between fork and exec).
Loopback only: nothing leaves the machine. Goals: first measurement within 2 s, peak
RSS under 200 MB.

    .venv/bin/python benchmarks/large_list.py [--count 100000] [--measure 10] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _pages import http_server

ROOT = Path(__file__).resolve().parent.parent
CONFIG = """
[probe]
concurrency = {concurrency}
[dns]
resolvers = ["udp://127.0.0.1:9"]
timeout = 1.0
[tcp]
timeout = 2.0
[http]
timeout = 5.0
[control]
url = []
[network]
domestic_controls = []
international_controls = []
[lists]
use_cached = false
"""


@dataclass
class Figures:
    count: int
    first_seconds: float | None
    measured: int
    peak_rss_mb: float

    def line(self) -> str:
        first = "none" if self.first_seconds is None else f"{self.first_seconds:.2f} s"
        return (
            f"list of {self.count:,} URLs: first measurement after {first}, {self.measured:,} measured, "
            f"peak RSS {self.peak_rss_mb:.0f} MB"
        )


def write_inputs(directory: Path, port: int, count: int, concurrency: int) -> tuple[Path, Path]:
    config = directory / "probe.toml"
    config.write_text(CONFIG.format(concurrency=concurrency), encoding="utf-8")
    listing = directory / "list.txt"
    with listing.open("w", encoding="utf-8") as out:
        for n in range(count):
            out.write(f"http://127.0.0.1:{port}/?n={n}\n")
    return config, listing


def run(count: int, measure: float, concurrency: int, directory: Path) -> Figures:
    """Run `probe run` on a list of ``count`` loopback URLs for ``measure`` seconds after its first measurement."""
    with http_server() as port:
        config, listing = write_inputs(directory, port, count, concurrency)
        command = [sys.executable, "-m", "probe", "run", "--accept", "--config", str(config), "--list", str(listing)]
        command += ["--db", str(directory / "probe.db")]
        began = time.monotonic()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
        assert child.stderr is not None
        first: float | None = None
        measured = peak_kb = 0
        deadline = began + 120.0
        buffered = b""
        with selectors.DefaultSelector() as selector:
            selector.register(child.stderr, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not selector.select(timeout=0.2):
                    if child.poll() is not None:
                        break
                    continue
                peak_kb = max(peak_kb, _peak_rss_kb(child.pid))
                chunk = os.read(child.stderr.fileno(), 65536)
                if not chunk:
                    break
                buffered += chunk
                *lines, buffered = buffered.split(b"\n")
                for line in lines:
                    if line.startswith(b"["):
                        measured += 1
                        if first is None:
                            first = time.monotonic() - began
                            deadline = time.monotonic() + measure
        peak_kb = max(peak_kb, _peak_rss_kb(child.pid))
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
        child.wait(timeout=60)
        child.stderr.close()
    return Figures(count, first, measured, peak_kb / 1024)


def _peak_rss_kb(pid: int) -> int:
    """The process's peak resident memory since its exec, in KiB (0 once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--measure", type=float, default=10.0, help="Seconds to go on after the first measurement.")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="large-list-") as directory:
        figures = run(args.count, args.measure, args.concurrency, Path(directory))
    print(figures.line())
    ok = figures.first_seconds is not None and figures.first_seconds < 2.0 and figures.peak_rss_mb < 200
    print("goals (first < 2 s, peak RSS < 200 MB):", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
