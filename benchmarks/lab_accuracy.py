"""How often does the probe record what each censorship scenario of the lab really does?

Brings the namespace lab up (needs root), then, for every scenario of ``docs/lab.md``, runs
``probe run`` in the volunteer's namespace ``--runs`` times (the clean scenario
``--clean-runs`` times) over the inputs of ``probe.lab.outcomes.EXPECTED``, and prints one
row per scenario: what is expected of its first (blocked) input, what was measured most
often, and in how many runs every input agreed with the expectation. Then the false
"blocked" results: measurements with a failure on clean runs, where nothing was censored
(goal: 0). Not a timed test: run it by hand (about 5 minutes with the defaults).

    sudo .venv/bin/python benchmarks/lab_accuracy.py [--runs 3] [--clean-runs 50] [--scenarios dns_drop,clean]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from probe.lab.lab import Lab, unavailable_reason
from probe.lab.outcomes import EXPECTED, Measured, compare, describe, read_measurements
from probe.lab.scenarios import SCENARIOS

PROBE_RUN_LIMIT = 120.0


@dataclass
class Tally:
    runs: int = 0
    agreed: int = 0
    measured: Counter[str] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)
    clean_measurements: int = 0
    false_blocked: list[str] = field(default_factory=list)


def measure_once(lab: Lab, config: Path, scenario: str, directory: Path, run: int) -> list[Measured]:
    """One run of the scenario's inputs: one ``probe run`` per experiment they need."""
    by_experiment: dict[str, list[str]] = {}
    for expectation in EXPECTED[scenario]:
        by_experiment.setdefault(expectation.experiment, []).append(expectation.input)
    measured: list[Measured] = []
    for experiment, inputs in by_experiment.items():
        db = directory / f"{scenario}-{run}-{experiment}.db"
        args = ["run", "--accept", "--config", str(config), "--db", str(db), "-e", experiment]
        args += [a for value in inputs for a in ("--url", value)]
        done = lab.run_probe(args, timeout=PROBE_RUN_LIMIT)
        if done.returncode != 0:
            print(
                f"  {scenario} run {run}: probe exited {done.returncode}: {done.stderr.strip()[-300:]}", file=sys.stderr
            )
        if db.exists():
            measured += read_measurements(db)
    return measured


def tally_scenario(lab: Lab, config: Path, scenario: str, runs: int, directory: Path) -> Tally:
    tally = Tally()
    lab.scenario(scenario)
    first = EXPECTED[scenario][0].input
    for run in range(runs):
        if run:
            time.sleep(SCENARIOS[scenario].lingers)  # a residual hold from the last run must not decide this one
        measured = measure_once(lab, config, scenario, directory, run)
        agreement = compare(scenario, measured)
        tally.runs += 1
        tally.agreed += agreement.agrees
        for item in measured:
            if item.input == first:
                tally.measured[describe(item.outcome)] += 1
        for value, problems in agreement.problems.items():
            for problem in problems:
                tally.problems[f"{value}: {problem}"] += 1
        if scenario == "clean":
            tally.clean_measurements += len(measured)
            tally.false_blocked += [f"{m.input}: {describe(m.outcome)}" for m in measured if m.failure is not None]
    return tally


def table(rows: list[tuple[str, ...]]) -> str:
    header = ("scenario", "expected", "measured", "agreement")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="runs of each censoring scenario")
    parser.add_argument("--clean-runs", type=int, default=50, help="runs of the clean scenario")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated scenario names")
    parser.add_argument("--timeout", type=float, default=2.0, help="every probe timeout, seconds")
    args = parser.parse_args()
    chosen = [name for name in args.scenarios.split(",") if name]
    unknown = [name for name in chosen if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}")
    reason = unavailable_reason()
    if reason:
        print(f"lab_accuracy: cannot run the lab here: {reason}", file=sys.stderr)
        return 2

    rows: list[tuple[str, ...]] = []
    tallies: dict[str, Tally] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lab-accuracy-") as tmp, Lab() as lab:
        directory = Path(tmp)
        config = lab.probe_config(directory, timeout=args.timeout)
        for name in chosen:
            runs = args.clean_runs if name == "clean" else args.runs
            print(f"{name}: {runs} runs", file=sys.stderr)
            tally = tallies[name] = tally_scenario(lab, config, name, runs, directory)
            measured = ", ".join(f"{outcome} ({count}/{tally.runs})" for outcome, count in tally.measured.most_common())
            share = f"{tally.agreed}/{tally.runs} ({100 * tally.agreed / max(tally.runs, 1):.0f}%)"
            rows.append((name, EXPECTED[name][0].describe(), measured, share))
        lab.scenario("clean")

    print(table(rows))
    print(f"\n{time.monotonic() - started:.0f} s in all")
    for name, tally in tallies.items():
        for problem, count in tally.problems.most_common(5):
            print(f"  {name}: {problem} ({count}x)")
    clean = tallies.get("clean")
    if clean is not None:
        print(
            f'\nfalse "blocked" on clean runs: {len(clean.false_blocked)} of {clean.clean_measurements}'
            f" measurements in {clean.runs} runs (goal: 0)"
        )
        for line in Counter(clean.false_blocked).most_common(10):
            print(f"  {line[0]} ({line[1]}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
