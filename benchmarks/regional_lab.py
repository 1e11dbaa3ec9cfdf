"""Does a collector tell a district cut off, a mobile-only cut and a machine off apart, from real daemons? (issue 21)

Runs ``probe.lab.regional_proof`` (needs root; every packet stays in the namespaces it makes, 198.18.0.0/15): eleven
``probe daemon``s in network namespaces of their own behind their districts' ISP routers, uploading to one
``probe collector serve``; Zhanaozen cut at its ISP, Aktau's mobile probes cut, a Beineu probe's daemon SIGKILLed
and started again. The windows are asked of the collector by ``probe outages --by district --format json`` in a
process of its own, as an analyst would. Prints when the provisional window appeared, each final window with its
bounds against the truth (seconds from when the cuts were applied and lifted, and the machine switched off and on
again: a bound holds the truth when its ``min`` is at or before it and its ``max`` at or after it), and the wall and
CPU time it took.

    sudo .venv/bin/python benchmarks/regional_lab.py [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from probe.analysis.times import seconds
from probe.lab import regional_proof
from probe.lab.lab import unavailable_reason
from probe.lab.regional_proof import Proof, Rows

QUERY_LIMIT = 120.0


def windows(db: Path) -> Rows:
    """``probe outages --by district --format json``, in a process of its own."""
    args = [sys.executable, "-m", "probe", "outages", "--by", "district", "--db", str(db), "--format", "json"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=QUERY_LIMIT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"probe outages failed: {done.stderr.strip()}")
    found: Rows = json.loads(done.stdout)
    return found


def _around(window: dict[str, Any], edge: str, truth: tuple[float, float]) -> str:
    low, high = window[f"{edge}_min"], window[f"{edge}_max"]
    if low is None or high is None:
        return f"{edge} open"
    low_s, high_s = seconds(low) - truth[0], seconds(high) - truth[1]
    holds = low_s <= 0 <= high_s
    return f"{edge} {low_s:+.1f} s .. {high_s:+.1f} s ({'holds' if holds else 'MISSES'} the truth)"


def _place(window: dict[str, Any], names: dict[str, str]) -> str:
    where = "/".join(part for part in (window["area"], window["district"]) if part) or window["country"]
    return f"{where} {names[window['probe']]}" if window["probe"] else where


def report(proof: Proof) -> None:
    names = {probe_id: name for name, probe_id in proof.probe_ids.items()}
    live = [w for w in proof.live if w["kind"].endswith("_shutdown")]
    print(f"  live: {len(live)} shutdown window(s) {proof.live_after:.0f} s after the cut:")
    for window in live:
        state = "provisional" if window["provisional"] else "confirmed"
        print(f"    {window['kind']} {_place(window, names)} ({state}), {_around(window, 'start', proof.cut)}")
    print(f"  after the uploads, {len(proof.final)} window(s):")
    for window in proof.final:
        state = "provisional" if window["provisional"] else "confirmed"
        network, count = window["network_type"] or "all", len(window["probes"])
        back = (proof.restarted, proof.restarted) if window["kind"] == "device_off" else proof.lifted
        print(f"    {window['kind']} {_place(window, names)} ({network}, {count} probe{'s' * (count != 1)}, {state})")
        print(f"      {_around(window, 'start', proof.cut)}; {_around(window, 'end', back)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    reason = unavailable_reason()
    if reason:
        raise SystemExit(f"cannot run the lab here: {reason}")
    for number in range(1, args.runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="regional-lab-") as workdir:
            proof = regional_proof.run(Path(workdir) / "country", windows, log=lambda line: print(f"  {line}"))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        print(f"run {number}: {time.monotonic() - began:.0f} s wall, {cpu:.0f} CPU s in its processes")
        report(proof)
    return 0


if __name__ == "__main__":
    sys.exit(main())
