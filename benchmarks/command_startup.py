"""How soon does each command answer, and what does it load? The import time and memory a command costs.

For each command below, runs ``probe <command>`` ``--repeat`` times as a fresh process (nothing cached between
runs but the OS's file cache) and prints: the import time of ``probe.cli.main`` plus the command's own module
(measured inside the process), the whole process's wall time and CPU time (user and system, from the kernel's
account of the finished child), its peak resident memory (``VmHWM``, read by the process itself at exit: the
high-water mark since its exec), and how many modules it had loaded. Medians over the repeats, and the best.
``probe results`` reads a fresh, empty database made before the timed runs, then one of ``--measurements`` web
measurements with ``--body-kb`` of page each, written beforehand through the probe's own storage (one run, one
hash chain). Nothing leaves the machine: no command here opens a socket. Goal (issue 24): ``probe --help`` and
``probe results`` well under half a second (under 0.2 s on this 2-core machine, which is 5 to 10 times as fast
a core as a Raspberry Pi Zero 2 W's).

The probe's own modules are compiled to bytecode first (``compileall``), as an installed wheel's are: a checkout
run with ``PYTHONDONTWRITEBYTECODE`` would otherwise compile them again in every run.

    .venv/bin/python benchmarks/command_startup.py [--repeat 5] [--measurements 3000] [--body-kb 20]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD_LIMIT = 60.0
GOAL_SECONDS = 0.5
HERE_SECONDS = 0.2
"""What "well under half a second" asks of this machine, whose cores are 5 to 10 times a Pi Zero 2 W's."""

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
    modules = len(sys.modules)
    from probe.processes import status_kb
    import os
    hwm = status_kb(os.getpid(), "VmHWM:")
    print(json.dumps({"import": imported, "hwm_kb": hwm, "modules": modules}), file=sys.stderr)

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
    cpus: list[float]
    peaks_mb: list[float]
    modules: int

    def line(self) -> str:
        def ms(values: list[float]) -> str:
            return f"{statistics.median(values) * 1000:5.0f} ms (best {min(values) * 1000:4.0f})"

        return (
            f"{self.label:<26} import {ms(self.imports)}, wall {ms(self.walls)}, CPU {ms(self.cpus)}, "
            f"peak RSS {statistics.median(self.peaks_mb):5.1f} MB, {self.modules} modules"
        )


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(args: list[str], env: dict[str, str]) -> tuple[float, float, float, float, int]:
    """One fresh ``probe`` process: its import time, wall time, CPU time, peak RSS (MB) and modules."""
    cpu_before = children_cpu()
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
    cpu = children_cpu() - cpu_before
    if done.returncode != 0:
        raise SystemExit(f"probe {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-400:]}")
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["import"], wall, cpu, report["hwm_kb"] / 1024, report["modules"]


def measure(label: str, args: list[str], env: dict[str, str], repeat: int) -> Figures:
    figures = Figures(label, [], [], [], [], 0)
    for _ in range(repeat):
        imported, wall, cpu, peak, modules = run_once(args, env)
        figures.imports.append(imported)
        figures.walls.append(wall)
        figures.cpus.append(cpu)
        figures.peaks_mb.append(peak)
        figures.modules = modules
    return figures


def populate(path: Path, count: int, body_kb: int) -> None:
    """``count`` web measurements of one run, each with a page of ``body_kb`` KiB, saved as a run saves them."""
    from probe.model import HTTPRequestInfo, HTTPResponseInfo, HTTPTransaction, Measurement, WebTestKeys
    from probe.storage import open_database
    from probe.times import ooni_time, utc_now_iso

    db = open_database(path)
    db.conn.execute("pragma synchronous = off")  # the writing is not what is measured
    run_id = uuid.uuid4().hex
    started = utc_now_iso()
    db.start_run({"id": run_id, "started_at": started, "experiment": "web"})
    page = ("<p>Жаңаөзен news " * (body_kb * 64))[: body_kb * 1024]
    for number in range(count):
        url = f"https://site{number % 500}.example.kz/page/{number}"
        failed = number % 4 == 0
        at = utc_now_iso()
        response = None if failed else HTTPResponseInfo(code=200, body=page, x_body_length=len(page))
        keys = WebTestKeys(
            requests=[
                HTTPTransaction(
                    request=HTTPRequestInfo(url=url),
                    response=response,
                    failure="connection_reset" if failed else None,
                    t0=0.1,
                    t=0.4,
                    transaction_id=1,
                )
            ],
            http_experiment_failure="connection_reset" if failed else None,
        )
        measurement = Measurement(
            id=uuid.uuid4().hex,
            experiment="web",
            input=url,
            failure="connection_reset" if failed else None,
            failed_step="http" if failed else None,
            started_at=at,
            measurement_start_time=ooni_time(at),
            probe_asn="AS9198",
            probe_cc="KZ",
            report_id=run_id,
            software_name="zhanaozen-probe",
            software_version="bench",
            test_name="web_connectivity",
            test_version="0.1.0",
            test_runtime=0.4,
            test_start_time=ooni_time(started),
            test_keys=keys,
        )
        db.save(measurement, run_id)
    db.finish_run(run_id, finished_at=utc_now_iso(), status="finished", measurements=count)
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--measurements", type=int, default=3000, help="measurements in the populated database")
    parser.add_argument("--body-kb", type=int, default=20, help="KiB of page each successful one keeps")
    args = parser.parse_args()
    compileall.compile_dir(ROOT / "probe", quiet=1)
    with tempfile.TemporaryDirectory(prefix="command-startup-") as directory:
        # The packaged default config, whatever this machine's user has set up.
        env = {**os.environ, "XDG_CONFIG_HOME": directory, "XDG_DATA_HOME": directory}
        env.pop("PROBE_CONFIG", None)
        db = str(Path(directory) / "probe.db")
        run_once(["results", "--db", db], env)  # makes and migrates the database, untimed
        full = Path(directory) / "full.db"
        began = time.perf_counter()
        populate(full, args.measurements, args.body_kb)
        size_mb = full.stat().st_size / 1e6
        print(
            f"populated database: {args.measurements} measurements, {size_mb:.1f} MB "
            f"(made in {time.perf_counter() - began:.1f} s)"
        )
        commands = [
            ("--help", ["--help"]),
            ("results", ["results", "--db", db]),
            (f"results ({args.measurements})", ["results", "--db", str(full)]),
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
    quick = [f for f in results if f.label == "--help" or f.label.startswith("results (") or f.label == "results"]
    for goal in (GOAL_SECONDS, HERE_SECONDS):
        met = all(statistics.median(f.walls) < goal for f in quick)
        print(f"goal (probe --help and probe results, median wall under {goal} s):", "met" if met else "NOT met")


if __name__ == "__main__":
    main()
