"""What does an unattended probe hold over many rounds, and does the shipped config run in 256 MB and one CPU?

Both modes bring the namespace lab up (needs root; every packet stays in its namespaces, 198.18.0.0/15) with the
test helper in its namespace, and run ``probe daemon`` in the volunteer's namespace on the *shipped* config
(``probe/defaults/default.toml``: its list, controls, concurrency, timeouts, schedule groups) with only what
must change to stay in the lab rewritten, each rewrite checked: the second resolver is the lab's public
resolver instead of 8.8.8.8, the test helper is the lab's instead of OONI's, the lab CA is the trust store, and
the schedule is compressed (``--every`` seconds, no first delay, no jitter). The lab serves the list's sites and
the shipped network controls by name; nothing else answers. The text written is refused if it still names a
host outside the lab.

``--rounds N`` (default 1,000; a round is one group's, web or dns): prints the daemon's resident memory
(``VmRSS``) and database size at checkpoints, with the measurements stored, and the growth after the first
``--settle`` rounds. Goals (issue 24): steady RSS under 60 MB; over 1,000 rounds the RSS grows by no more than
5 MB and the database by no more than its measurements.

``--scenario NAME [--sites a,b]``: the lab's censor applies a scenario from the start, e.g. ``http_host_reset``
on ``guljan.org`` (an http:// site of the shipped list): as root every reset is measured again under packet
capture (forensics), and the last line counts the forensic records stored. The checkpoints print the peak RSS
(``VmHWM``) beside the RSS.

``--cgroup``: one full round, each shipped group once, in a cgroup of ``--memory`` MB and one CPU (cgroup v1
``memory.limit_in_bytes`` and ``cpu.cfs_quota_us``, made as children of this process's own cgroups and removed
after), and prints how long it took, the cgroup's peak memory and whether it was killed.

    sudo .venv/bin/python benchmarks/daemon_footprint.py [--rounds 1000] [--every 1]
    sudo .venv/bin/python benchmarks/daemon_footprint.py --rounds 30 --scenario http_host_reset --sites guljan.org
    sudo .venv/bin/python benchmarks/daemon_footprint.py --cgroup [--memory 256]
"""

from __future__ import annotations

import argparse
import os
import re
import selectors
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from probe.defaults import DEFAULT_CONFIG, shipped_text
from probe.lab import plan
from probe.lab.lab import Lab, unavailable_reason
from probe.processes import cpu_seconds, status_kb

HELPER_PORT = 8765
HELPER_TIMEOUT = 5.0
ROUND_LIMIT = 600.0
"""Seconds one round may take before the benchmark gives up."""
SAMPLE_SECONDS = 0.5
OUTSIDE_HOSTS = ("ooni.org", "8.8.8.8", "1.1.1.1")
CGROUP_PERIOD_US = 100_000
SHIPPED_GROUPS = 2
ROUND_LINE = re.compile(rb"^\S+ round [a-z][a-z0-9_-]* [0-9a-f]{8}: ")
"""The daemon's log line at the end of a round: ``<time> round web 1a2b3c4d: finished, ...``."""
"""The shipped [schedule] groups, web and dns: one full round runs each once."""


@dataclass
class Checkpoint:
    rounds: int
    seconds: float
    rss_mb: float
    peak_mb: float
    cpu_seconds: float
    db_bytes: int
    measurements: int

    def line(self) -> str:
        per = self.db_bytes / self.measurements if self.measurements else 0
        return (
            f"  after {self.rounds:5,} rounds ({self.seconds:6.0f} s, {self.cpu_seconds:5.0f} CPU s): RSS "
            f"{self.rss_mb:5.1f} MB (peak {self.peak_mb:5.1f}), database "
            f"{self.db_bytes / 1e6:6.2f} MB for {self.measurements:6,} measurements ({per / 1024:.1f} KiB each)"
        )


def lab_config(lab: Lab, directory: Path, helper: str, every: float) -> Path:
    """The shipped config, rewritten to stay in the lab (each rewrite must apply); its path."""
    text = shipped_text(DEFAULT_CONFIG)
    rewrites = [
        (
            r'^resolvers = \["system", "udp://8\.8\.8\.8:53"\]$',
            f'resolvers = ["system", "udp://{plan.PUBLIC_RESOLVER}:53"]',
        ),
        (r'^url = \["https://0\.th\.ooni\.org/".*$', f'url = ["{helper}"]'),
        (r"^# ca_bundle = .*$", f'ca_bundle = "{lab.ca_path}"'),
        (r"^first_delay = .*$", "first_delay = 0.0"),
        (r"^every = 3600\.0 .*$|^every = 3600\.0$", f"every = {every}"),
        (r"^jitter = .*$", "jitter = 0.0"),
    ]
    for pattern, replacement in rewrites:
        text, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
        if count == 0:
            raise SystemExit(f"the shipped config changed: nothing matches {pattern!r}; update this benchmark")
    # Fail rather than let a host outside the lab be asked (commented lines are not config).
    live = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    leaks = [host for host in OUTSIDE_HOSTS if host in live]
    if leaks:
        raise SystemExit(f"the rewritten config still names {leaks}: refusing to run")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "probe.toml"  # no lists/ or fingerprints/ here: the names mean the shipped files
    path.write_text(text, encoding="utf-8")
    return path


def database_size(db: Path) -> tuple[int, int]:
    """Bytes the database holds (file and WAL) and its measurements."""
    size = sum(path.stat().st_size for path in (db, db.with_name(db.name + "-wal")) if path.exists())
    if not db.exists():
        return size, 0
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        (count,) = connection.execute("select count(*) from measurements").fetchone()
    finally:
        connection.close()
    return size, int(count)


def forensic_records(db: Path) -> tuple[int, int]:
    """Measurements with a forensic record, and those whose capture ran (status ok)."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        found = "json_extract(test_keys, '$.x_forensics.status')"
        row = connection.execute(f"select count({found}), count(*) filter (where {found} = 'ok') from measurements")
        records, ok = row.fetchone()
    finally:
        connection.close()
    return int(records), int(ok)


def daemon_command(lab: Lab, config: Path, db: Path, rounds: int) -> list[str]:
    args = ["daemon", "--accept", "--config", str(config), "--db", str(db), "--rounds", str(rounds)]
    return lab.probe_argv(args)


def run_rounds(lab: Lab, config: Path, db: Path, env: dict[str, str], rounds: int, settle: int) -> list[Checkpoint]:
    """Run the daemon for ``rounds`` rounds; a checkpoint at the end of round ``settle`` and of every tenth of
    the run."""
    marks = {settle, *(max(1, rounds * k // 10) for k in range(1, 11))}
    began = time.monotonic()
    child = subprocess.Popen(
        daemon_command(lab, config, db, rounds),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert child.stderr is not None
    done = 0
    checkpoints: list[Checkpoint] = []
    buffered = b""
    deadline = began + ROUND_LIMIT * rounds
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(child.stderr, selectors.EVENT_READ)
            while time.monotonic() < deadline and selector.select(timeout=ROUND_LIMIT):
                chunk = os.read(child.stderr.fileno(), 65536)
                if not chunk:
                    break
                buffered += chunk
                *lines, buffered = buffered.split(b"\n")
                for line in lines:
                    if ROUND_LINE.match(line):
                        done += 1
                        if done in marks:
                            size, count = database_size(db)
                            rss = status_kb(child.pid, "VmRSS:") / 1024
                            peak = status_kb(child.pid, "VmHWM:") / 1024
                            cpu = cpu_seconds(child.pid)
                            elapsed = time.monotonic() - began
                            checkpoints.append(Checkpoint(done, elapsed, rss, peak, cpu, size, count))
                            print(checkpoints[-1].line(), flush=True)
    finally:
        if child.poll() is None:
            child.terminate()
        child.wait(timeout=60)
        child.stderr.close()
    return checkpoints


def in_cgroup(args: list[str], memory_mb: int) -> tuple[list[str], Path, Path]:
    """``args`` as a command that first moves itself into new child cgroups of this process's memory and cpu
    cgroups (cgroup v1), limited to ``memory_mb`` and one CPU; the command and the two cgroup directories."""
    own = {line.split(":", 2)[1]: line.split(":", 2)[2] for line in Path("/proc/self/cgroup").read_text().splitlines()}
    name = f"probe-footprint-{os.getpid()}"
    memory = Path("/sys/fs/cgroup/memory") / own["memory"].lstrip("/") / name
    cpu = Path("/sys/fs/cgroup/cpu") / own.get("cpu,cpuacct", own.get("cpu", "/")).lstrip("/") / name
    memory.mkdir()
    cpu.mkdir()
    (memory / "memory.limit_in_bytes").write_text(str(memory_mb << 20))
    (cpu / "cpu.cfs_period_us").write_text(str(CGROUP_PERIOD_US))
    (cpu / "cpu.cfs_quota_us").write_text(str(CGROUP_PERIOD_US))  # one CPU's worth of each period
    script = f'echo $$ > "{memory}/cgroup.procs" && echo $$ > "{cpu}/cgroup.procs" && exec "$@"'
    return ["sh", "-c", script, "sh", *args], memory, cpu


def run_in_cgroup(lab: Lab, config: Path, db: Path, env: dict[str, str], memory_mb: int) -> None:
    command, memory, cpu = in_cgroup(daemon_command(lab, config, db, SHIPPED_GROUPS), memory_mb)
    try:
        began = time.monotonic()
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=ROUND_LIMIT)
        seconds = time.monotonic() - began
        peak = int((memory / "memory.max_usage_in_bytes").read_text()) / 1e6
        failcnt = int((memory / "memory.failcnt").read_text())
        oom = (memory / "memory.oom_control").read_text().split()
        killed = done.returncode in (-9, 137) or ("oom_kill" in oom and oom[oom.index("oom_kill") + 1] != "0")
    finally:
        for group in (memory, cpu):
            _empty(group)
    rounds = [line for line in done.stderr.decode(errors="replace").splitlines() if ROUND_LINE.match(line.encode())]
    print(f"a full round of the shipped config in {memory_mb} MB and one CPU: {seconds:.1f} s (daemon start to exit)")
    print(f"  exit status {done.returncode}, killed: {'yes' if killed else 'no'}, cgroup peak memory {peak:.0f} MB")
    print(f"  times the limit was hit: {failcnt}")
    for line in rounds[-SHIPPED_GROUPS:]:
        print(f"  {line.strip()}")
    print("goal (not killed):", "met" if not killed and done.returncode == 0 else "NOT met")


def _empty(group: Path) -> None:
    """Remove a cgroup this benchmark made (its processes have exited)."""
    for _ in range(50):
        try:
            group.rmdir()
            return
        except OSError:
            time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--settle", type=int, default=20, help="Rounds before the RSS counts as steady.")
    parser.add_argument("--every", type=float, default=1.0, help="Seconds between a group's rounds.")
    parser.add_argument("--cgroup", action="store_true", help="One web round in a cgroup instead.")
    parser.add_argument("--memory", type=int, default=256, help="The cgroup's memory, MB.")
    parser.add_argument("--scenario", help="A lab scenario the censor applies from the start (default: none).")
    parser.add_argument("--sites", default="", help="The scenario's sites, comma-separated (default: its own).")
    args = parser.parse_args()
    reason = unavailable_reason()
    if reason:
        raise SystemExit(f"namespace lab unavailable: {reason}")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average {load}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="daemon-footprint-") as name, Lab() as lab:
        directory = Path(name)
        env = {**os.environ, "XDG_DATA_HOME": str(directory / "data"), "XDG_CONFIG_HOME": str(directory)}
        with lab.test_helper(directory / "helper", port=HELPER_PORT, timeout=HELPER_TIMEOUT) as helper:
            config = lab_config(lab, directory / "probe", helper, args.every)
            db = directory / "probe.db"
            if args.scenario:
                sites = lab.scenario(args.scenario, [name for name in args.sites.split(",") if name])
                print(f"scenario {args.scenario} on {', '.join(site.name for site in sites) or 'the network'}")
            if args.cgroup:
                run_in_cgroup(lab, config, db, env, args.memory)
                return
            print(f"probe daemon, shipped config in the lab, {args.rounds:,} rounds, every {args.every:g} s:")
            checkpoints = run_rounds(lab, config, db, env, args.rounds, args.settle)
            records, captured = forensic_records(db)
    steady = next((c for c in checkpoints if c.rounds >= args.settle), None)
    last = checkpoints[-1] if checkpoints else None
    if steady is None or last is None or last.rounds < args.rounds:
        print(f"NOT met: the daemon ran {last.rounds if last else 0} of {args.rounds} rounds")
        return
    grown = last.rss_mb - steady.rss_mb
    per_steady = steady.db_bytes / max(steady.measurements, 1)
    per_last = last.db_bytes / max(last.measurements, 1)
    print(
        f"steady RSS {steady.rss_mb:.1f} MB (after {steady.rounds} rounds); grown {grown:+.1f} MB by round "
        f"{last.rounds:,}; database {per_steady / 1024:.1f} then {per_last / 1024:.1f} KiB a measurement"
    )
    print(f"forensic records: {records} ({captured} captured); peak RSS {max(c.peak_mb for c in checkpoints):.1f} MB")
    met = steady.rss_mb < 60 and grown <= 5 and per_last <= per_steady * 1.1
    print("goals (steady < 60 MB, growth <= 5 MB, database per measurement not growing):", "met" if met else "NOT met")


if __name__ == "__main__":
    main()
