"""How much memory does ``probe run`` of a long list take under a censor, and is every verdict still right?

Brings the namespace lab up (needs root; every packet stays in its namespaces, 198.18.0.0/15), starts the test
helper in its namespace outside the censor, switches a scenario on for twitter.com (``--scenario``, default
``http_blockpage``), and runs ``probe run`` in the volunteer's namespace on a list of ``--count`` URLs: every
``--blocked-every``-th one on twitter.com, the others spread over the lab's clean sites (each URL differs by its
query). Prints the wall time of the run, the probe process's peak resident memory (``VmHWM`` in
/proc/PID/status, sampled while it runs and read once more at its end: ``ip netns exec`` execs the probe in
place, so the PID is the probe's), and how many verdicts were what the scenario makes them: blocked as
``tests/lab/test_lab_verdicts.py`` expects for twitter.com, accessible for the others. Goals (issue 24), at
1,000 URLs and concurrency 128: peak RSS under 150 MB, every verdict right, no slower than 32 s.

    sudo .venv/bin/python benchmarks/run_footprint.py [--count 1000] [--concurrency 128] [--scenario http_blockpage]
"""

from __future__ import annotations

import argparse
import os
import selectors
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from probe.lab import plan
from probe.lab.lab import Lab, unavailable_reason
from probe.processes import cpu_seconds, status_kb

ROOT = Path(__file__).resolve().parent.parent
FINGERPRINTS = ROOT / "configs" / "fingerprints" / "zhanaozen.csv"
HELPER_PORT = 8765
TIMEOUT = 2.0
RUN_LIMIT = 600.0
SAMPLE_SECONDS = 0.1
TIMELINE_SECONDS = 2.0
PROBE_ENTRY = os.environ.get("PROBE_ENTRY", "-m probe").split()
"""How the probe is started: ``PROBE_ENTRY=/path/to/wrapper.py`` runs a wrapper (tracemalloc, say) instead."""
BLOCKED_SITE = "twitter.com"
CLEAN_SITES = tuple(site.name for site in plan.WEB_SITES if site.name != BLOCKED_SITE)
# scenario: (verdict, blocking, blocking_detail) of a twitter.com URL; the same as tests/lab/test_lab_verdicts.py.
EXPECTED: dict[str, tuple[str, str | None, str | None]] = {
    "http_blockpage": ("blocked", "http-diff", "http_blockpage:zp.kz_blocked_marker"),
    "http_host_reset": ("blocked", "http-failure", "http_reset"),
    "dns_nxdomain": ("blocked", "dns", "dns_nxdomain"),
    "ip_reset": ("blocked", "tcp_ip", "tcp_reset"),
    "clean": ("accessible", None, None),
}
ACCESSIBLE = ("accessible", None, None)


@dataclass
class Figures:
    count: int
    concurrency: int
    scenario: str
    seconds: float
    peak_rss_mb: float
    cpu_seconds: float
    stored: int
    right: int
    wrong: Counter[str]

    def lines(self) -> list[str]:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        lines = [
            f"probe run: {self.count:,} URLs, concurrency {self.concurrency}, scenario {self.scenario}: "
            f"{self.seconds:.1f} s, peak RSS {self.peak_rss_mb:.0f} MB, {self.cpu_seconds:.1f} CPU s "
            f"({self.cpu_seconds / max(self.stored, 1) * 1000:.0f} ms a measurement), {self.stored:,} stored, "
            f"{self.right:,} verdicts right (load average now {load}, {os.cpu_count()} CPUs)",
        ]
        lines += [f"  wrong: {count} x {what}" for what, count in self.wrong.most_common(10)]
        return lines


def write_list(path: Path, count: int, blocked_every: int) -> dict[str, bool]:
    """Write the list of ``count`` URLs; whether each is on the blocked site, by URL."""
    urls: list[str] = []
    for n in range(count):
        site = BLOCKED_SITE if n % blocked_every == 0 else CLEAN_SITES[n % len(CLEAN_SITES)]
        urls.append(f"http://{site}/?n={n}")
    path.write_text("".join(f"{url}\n" for url in urls), encoding="utf-8")
    return {url: f"//{BLOCKED_SITE}/" in url for url in urls}


def write_config(lab: Lab, directory: Path, helper: str, concurrency: int) -> Path:
    path = lab.probe_config(directory, timeout=TIMEOUT, late_answer_window=0.8, concurrency=concurrency)
    with path.open("a", encoding="utf-8") as out:
        out.write(
            f'\n[control]\nurl = "{helper}"\ntimeout = 30.0\nretries = 1\nretry_delay = 0.0\n'
            f'\n[fingerprints]\nfiles = ["{FINGERPRINTS}"]\n'
            '\n[network]\ninternational_controls = ["http://example.com/", "http://facebook.com/"]\n'
        )
    return path


def run_probe(lab: Lab, args: list[str], *, timeline: bool = False) -> tuple[float, float, float]:
    """Run ``probe ARGS`` in the probe namespace to its end; its wall seconds, peak RSS in MB and CPU seconds (at
    the last sample, a tenth of a second before its end) (``timeline``:
    print its RSS every ``TIMELINE_SECONDS`` meanwhile)."""
    began = time.monotonic()
    child = subprocess.Popen(
        lab.argv([sys.executable, *PROBE_ENTRY, *args]),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert child.stderr is not None
    peak_kb = 0
    cpu = 0.0
    tail = b""
    next_line = began + TIMELINE_SECONDS if timeline else float("inf")
    with selectors.DefaultSelector() as selector:
        selector.register(child.stderr, selectors.EVENT_READ)
        while time.monotonic() - began < RUN_LIMIT:
            peak_kb = max(peak_kb, peak_rss_kb(child.pid))
            cpu = max(cpu, cpu_seconds(child.pid))
            if time.monotonic() >= next_line:
                print(f"  {time.monotonic() - began:5.1f} s: RSS {rss_kb(child.pid) / 1024:.0f} MB", flush=True)
                next_line += TIMELINE_SECONDS
            if selector.select(timeout=SAMPLE_SECONDS):
                chunk = os.read(child.stderr.fileno(), 65536)
                if not chunk:
                    break
                tail = (tail + chunk)[-2000:]
    peak_kb = max(peak_kb, peak_rss_kb(child.pid))
    cpu = max(cpu, cpu_seconds(child.pid))
    child.wait(timeout=60)
    seconds = time.monotonic() - began
    child.stderr.close()
    if child.returncode != 0:
        raise SystemExit(f"probe run exited {child.returncode}: {tail.decode(errors='replace')[-600:]}")
    return seconds, peak_kb / 1024, cpu


def peak_rss_kb(pid: int) -> int:
    """The process's peak resident memory since its exec, in KiB (0 once it has been reaped)."""
    return status_kb(pid, "VmHWM:")


def rss_kb(pid: int) -> int:
    """The process's resident memory now, in KiB (0 once it has been reaped)."""
    return status_kb(pid, "VmRSS:")


def judge(db: Path, scenario: str, blocked: dict[str, bool]) -> tuple[int, int, Counter[str]]:
    """Stored measurements, how many verdicts are what the scenario makes them, and the wrong ones by kind."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = connection.execute("select input, verdict, blocking, blocking_detail from measurements").fetchall()
    finally:
        connection.close()
    right = 0
    wrong: Counter[str] = Counter()
    for url, *verdict in rows:
        expected = EXPECTED[scenario] if blocked[url] else ACCESSIBLE
        if tuple(verdict) == expected:
            right += 1
        else:
            wrong[f"{BLOCKED_SITE if blocked[url] else 'a clean site'}: {tuple(verdict)}"] += 1
    return len(rows), right, wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--scenario", default="http_blockpage", choices=sorted(EXPECTED))
    parser.add_argument("--timeline", action="store_true", help=f"Print the RSS every {TIMELINE_SECONDS:g} s.")
    parser.add_argument("--blocked-every", type=int, default=4, help="Every Nth URL is on twitter.com.")
    args = parser.parse_args()
    reason = unavailable_reason()
    if reason:
        raise SystemExit(f"namespace lab unavailable: {reason}")
    with tempfile.TemporaryDirectory(prefix="run-footprint-") as name, Lab() as lab:
        directory = Path(name)
        with lab.test_helper(directory / "helper", port=HELPER_PORT, timeout=TIMEOUT) as helper:
            config = write_config(lab, directory / "probe", helper, args.concurrency)
            listing = directory / "list.txt"
            blocked = write_list(listing, args.count, args.blocked_every)
            db = directory / "probe.db"
            lab.scenario(args.scenario)
            try:
                command = ["run", "--accept", "--config", str(config), "--list", str(listing), "--db", str(db)]
                seconds, peak, cpu = run_probe(lab, command, timeline=args.timeline)
            finally:
                lab.scenario("clean")
            stored, right, wrong = judge(db, args.scenario, blocked)
    figures = Figures(args.count, args.concurrency, args.scenario, seconds, peak, cpu, stored, right, wrong)
    for line in figures.lines():
        print(line)
    met = peak < 150 and right == args.count
    print("goals (peak RSS < 150 MB, every verdict right; compare the time with 32 s):", "met" if met else "NOT met")


if __name__ == "__main__":
    main()
