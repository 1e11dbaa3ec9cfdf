"""How soon does each command answer, and what does it load? The import time and memory a command costs.

For each command below, runs ``probe <command>`` ``--repeat`` times as a fresh process (nothing cached between
runs but the OS's file cache) and prints: the import time of ``probe.cli.main`` plus the command's own module
(measured inside the process), the whole process's wall time, its peak resident memory (``VmHWM``, read by the
process itself at exit: the high-water mark since its exec), and how many modules it had loaded. Medians over the
repeats, and the best. ``probe results`` reads a fresh database made before the timed runs. Nothing leaves the
machine: no command here opens a socket. Goal (issue 24): ``probe --help`` and ``probe results`` well under
half a second.

    .venv/bin/python benchmarks/command_startup.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD_LIMIT = 60.0
GOAL_SECONDS = 0.5

# Runs in the child: times the imports, runs the command as `probe` would, then reports on stderr's last line.
CHILD = r"""
import json, sys, time
began = time.perf_counter()
from probe.cli.main import COMMANDS, main
name = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else None
if name is not None:
    COMMANDS[name].load()
imported = time.perf_counter() - began

def report():
    hwm = next(
        int(line.split()[1]) for line in open("/proc/self/status", encoding="ascii") if line.startswith("VmHWM:")
    )
    print(json.dumps({"import": imported, "hwm_kb": hwm, "modules": len(sys.modules)}), file=sys.stderr)

import atexit
atexit.register(report)
sys.argv[0] = "probe"
main()
"""


@dataclass
class Figures:
    label: str
    imports: list[float]
    walls: list[float]
    peaks_mb: list[float]
    modules: int

    def line(self) -> str:
        return (
            f"{self.label:<22} import {statistics.median(self.imports) * 1000:6.0f} ms "
            f"(best {min(self.imports) * 1000:4.0f}), whole command {statistics.median(self.walls) * 1000:6.0f} ms "
            f"(best {min(self.walls) * 1000:4.0f}), peak RSS {statistics.median(self.peaks_mb):5.1f} MB, "
            f"{self.modules} modules"
        )


def run_once(args: list[str], env: dict[str, str]) -> tuple[float, float, float, int]:
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_LIMIT,
        check=False,
    )
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"probe {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-400:]}")
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["import"], wall, report["hwm_kb"] / 1024, report["modules"]


def measure(label: str, args: list[str], env: dict[str, str], repeat: int) -> Figures:
    figures = Figures(label, [], [], [], 0)
    for _ in range(repeat):
        imported, wall, peak, modules = run_once(args, env)
        figures.imports.append(imported)
        figures.walls.append(wall)
        figures.peaks_mb.append(peak)
        figures.modules = modules
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="command-startup-") as directory:
        # The packaged default config, whatever this machine's user has set up.
        env = {**os.environ, "XDG_CONFIG_HOME": directory, "XDG_DATA_HOME": directory}
        env.pop("PROBE_CONFIG", None)
        db = str(Path(directory) / "probe.db")
        run_once(["results", "--db", db], env)  # makes and migrates the database, untimed
        commands = [
            ("--help", ["--help"]),
            ("results", ["results", "--db", db]),
            ("results --help", ["results", "--help"]),
            ("run --help", ["run", "--help"]),
            ("export --help", ["export", "--help"]),
            ("daemon --help", ["daemon", "--help"]),
            ("upload --help", ["upload", "--help"]),
            ("trace --help", ["trace", "--help"]),
            ("collector --help", ["collector", "--help"]),
            ("lab --help", ["lab", "--help"]),
        ]
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"load average {load}, {os.cpu_count()} CPUs, {args.repeat} runs a command")
        results = [measure(label, argv, env, args.repeat) for label, argv in commands]
    for figures in results:
        print(figures.line())
    quick = {f.label: statistics.median(f.walls) for f in results if f.label in ("--help", "results")}
    met = all(seconds < GOAL_SECONDS for seconds in quick.values())
    print(f"goal (probe --help and probe results under {GOAL_SECONDS} s):", "met" if met else "NOT met")


if __name__ == "__main__":
    main()
