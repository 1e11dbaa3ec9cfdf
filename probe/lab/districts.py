"""A country of districts in network namespaces: many probes' daemons behind their districts' ISP routers, the
internet's servers and one collector (issue 21's lab proof: ``tests/lab/test_lab_districts.py``).

    probe ns p01 ─┐
    probe ns p02 ─┼─ router ns r1 (district 1's ISP) ─┐
    probe ns p03 ─┘                                    ├─ core ns (the internet: DNS, sites, controls) ── collector ns
    probe ns p04 ─── router ns r2 (district 2's ISP) ─┘

Each probe has a namespace of its own, linked only to its district's router (``198.18.J.2`` behind ``198.18.J.1``,
J its number); router K reaches the core through ``198.18.(100+K).0/24``; the collector listens on ``198.18.200.2``.
The core holds the lab's internet (``probe.lab.serve net``: its authoritative DNS, the public resolver at
``plan.PUBLIC_RESOLVER``, the sites and the network controls of ``plan``), so every address is in 198.18.0.0/15 and
no namespace has a route anywhere else. A router cuts its district (``cut``: it forwards nothing, the path to the
collector included, while it still answers its probes, as a router whose upstream is cut does) or only its mobile
probes (``cut_mobile``); ``restore`` undoes either.

Every probe runs ``probe daemon`` on a config of its own (its place declared, rounds every ``round_every`` seconds
of one site and two controls, uploads every ``upload_every`` seconds); the collector is ``probe collector serve``
on SQLite. Namespaces are named ``zp-<id>-<role>``; a state file under ``STATE_ROOT`` names them with the owner's
pid and start time, so that a country whose owner died (a test run killed outright) is removed by the next one.
Everything is removed when the ``with`` block ends, however it ends (and at interpreter exit).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import probe
from probe.identity import key_path_for, load_or_create
from probe.lab import plan, topology
from probe.lab.ca import make_ca
from probe.lab.censor import filter_table
from probe.lab.errors import LabError, NotRootError
from probe.lab.serve import CERT_DIR
from probe.lab.shell import in_netns, run
from probe.processes import start_time

STATE_ROOT = Path("/run/zhanaozen-probe-districts")
STATE_FILE = "country.json"
READY_TIMEOUT = 60.0
"""Seconds the servers and the collector may take to start on a loaded machine."""
SERVER_SECONDS = 2 * 3600
COLLECTOR_ADDRESS = "198.18.200.2"
COLLECTOR_PORT = 8471
TARGET = "http://example.com/"
DOMESTIC_CONTROL = "http://gov.kz/"
INTERNATIONAL_CONTROL = "http://wikipedia.org/"
TIMEOUT = 1.5
"""Each probe timeout (DNS, TCP, HTTP): a cut round costs three of them (controls, target, controls)."""
MAX_PROBES = 99
MAX_ROUTERS = 99


@dataclass(frozen=True)
class Member:
    """A probe of the country: its name (``ns`` role) and the place it declares."""

    name: str
    area: str
    district: str
    network_type: str


@dataclass
class Daemon:
    member: Member
    namespace: str
    router: str
    """Its district router's namespace."""
    interface: str
    """Its link's name in the router."""
    home: Path
    """Its database (``probe.db``), config (``probe.toml``) and log (``daemon.log``)."""
    probe_id: str = ""
    process: subprocess.Popen[bytes] | None = None
    db: Path = field(init=False)
    config: Path = field(init=False)

    def __post_init__(self) -> None:
        self.db = self.home / "probe.db"
        self.config = self.home / "probe.toml"


@dataclass
class _State:
    lab_id: str
    owner_pid: int
    owner_start: str | None
    namespaces: list[str] = field(default_factory=list)

    def save(self, directory: Path) -> None:
        tmp = directory / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(self.__dict__), encoding="utf-8")
        os.replace(tmp, directory / STATE_FILE)

    @classmethod
    def load(cls, directory: Path) -> _State | None:
        try:
            data = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
            return cls(str(data["lab_id"]), int(data["owner_pid"]), data["owner_start"], list(data["namespaces"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def stale(self) -> bool:
        return start_time(self.owner_pid) != self.owner_start


def reap_stale(root: Path = STATE_ROOT) -> None:
    """Remove the countries of owners that are gone (killed before they could clean up)."""
    if not root.is_dir():
        return
    for directory in sorted(root.iterdir()):
        state = _State.load(directory)
        if state is not None and state.stale():
            _remove(state.namespaces)
            shutil.rmtree(directory, ignore_errors=True)


def _remove(namespaces: Sequence[str]) -> list[str]:
    problems: list[str] = []
    for name in namespaces:
        topology.kill(topology.pids(name))
    for name in namespaces:
        if topology.exists(name):
            try:
                run(["ip", "netns", "del", name])
            except LabError as exc:
                problems.append(str(exc))
    return problems


def _env() -> dict[str, str]:
    env = dict(os.environ)
    source = str(Path(probe.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
    return env


class Country:
    """The namespaces, servers, collector and daemons of ``members``, up for as long as a ``with`` block.

    ``workdir`` holds the probes' homes (``<name>/probe.db``, ``probe.toml``, ``daemon.log``), the collector's
    database (``collector.db``) and the servers' logs.
    """

    def __init__(
        self,
        members: Sequence[Member],
        workdir: Path,
        *,
        round_every: float,
        upload_every: float,
        root: Path = STATE_ROOT,
    ) -> None:
        if not 0 < len(members) <= MAX_PROBES or len({m.name for m in members}) != len(members):
            raise LabError(f"lab: 1 to {MAX_PROBES} probes with distinct names")
        self.members = list(members)
        self.workdir = workdir
        self.round_every = round_every
        self.upload_every = upload_every
        self.root = root
        self.daemons: dict[str, Daemon] = {}
        self.routers: dict[tuple[str, str], str] = {}
        """Each (area, district)'s router namespace."""
        self._state: _State | None = None
        self._directory: Path | None = None
        self._servers: list[subprocess.Popen[bytes]] = []

    # --- life cycle ---------------------------------------------------------------------------------------

    def __enter__(self) -> Country:
        return self.up()

    def __exit__(self, *exc_info: object) -> None:
        self.down()

    @property
    def collector_db(self) -> Path:
        return self.workdir / "collector.db"

    @property
    def collector_url(self) -> str:
        return f"http://{COLLECTOR_ADDRESS}:{COLLECTOR_PORT}"

    def up(self) -> Country:
        if os.geteuid() != 0:
            raise NotRootError("lab: not running as root")
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        reap_stale(self.root)
        lab_id = secrets.token_hex(3)
        self._directory = self.root / lab_id
        self._directory.mkdir(mode=0o700)
        pid = os.getpid()
        self._state = _State(lab_id, pid, start_time(pid), [])
        self._state.save(self._directory)  # first: a country killed while it is built can still be found
        atexit.register(self.down)
        try:
            self._build(lab_id)
        except BaseException:
            self.down()
            raise
        return self

    def down(self) -> None:
        """Stop everything and remove every namespace; safe to call more than once."""
        state, self._state = self._state, None
        if state is None:
            return
        for daemon in self.daemons.values():
            self._reap(daemon)
        problems = _remove(state.namespaces)
        for process in self._servers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=topology.KILL_GRACE)
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
        atexit.unregister(self.down)
        if problems:
            raise LabError(f"lab: could not remove everything: {problems[0]}")

    def _namespace(self, role: str) -> str:
        assert self._state is not None and self._directory is not None
        name = f"{topology.PREFIX}{self._state.lab_id}-{role}"
        self._state.namespaces.append(name)
        self._state.save(self._directory)
        run(["ip", "netns", "add", name])
        topology.sysctl(name, "net/ipv6/conf/all/disable_ipv6", "1")
        run(["ip", "-n", name, "link", "set", "lo", "up"])
        return name

    def _build(self, lab_id: str) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        core = self._namespace("core")
        for address in plan.NET_LOCAL_ADDRESSES:
            run(["ip", "-n", core, "addr", "add", f"{address}/32", "dev", "lo"])
        collector = self._namespace("coll")
        topology.link(core, "coll0", "198.18.200.1", collector, "core0", COLLECTOR_ADDRESS)
        topology.route(collector, str(plan.LAB_NETWORK), "198.18.200.1")
        places = sorted({(m.area, m.district) for m in self.members})
        if len(places) > MAX_ROUTERS:
            raise LabError(f"lab: at most {MAX_ROUTERS} districts")
        for number, place in enumerate(places, start=1):
            router = self.routers[place] = self._namespace(f"r{number}")
            topology.link(core, f"r{number}", f"198.18.{100 + number}.1", router, "core0", f"198.18.{100 + number}.2")
            topology.route(router, str(plan.LAB_NETWORK), f"198.18.{100 + number}.1")
            topology.sysctl(router, "net/ipv4/ip_forward", "1")
        topology.sysctl(core, "net/ipv4/ip_forward", "1")
        for number, member in enumerate(self.members, start=1):
            place = (member.area, member.district)
            router = self.routers[place]
            namespace = self._namespace(f"p{number:02d}")
            interface = f"p{number:02d}"
            topology.link(router, interface, f"198.18.{number}.1", namespace, "isp0", f"198.18.{number}.2")
            topology.route(namespace, str(plan.LAB_NETWORK), f"198.18.{number}.1")
            gateway = f"198.18.{100 + places.index(place) + 1}.2"
            topology.route(core, f"198.18.{number}.0/24", gateway)
            home = self.workdir / member.name
            self.daemons[member.name] = Daemon(member, namespace, router, interface, home)
        for router in self.routers.values():
            self._filter(router, ())
        self._start_internet(core)
        self._start_collector(collector)
        self._register()
        for daemon in self.daemons.values():
            self.start(daemon.member.name)

    def _start_internet(self, core: str) -> None:
        assert self._directory is not None
        make_ca(self._directory / CERT_DIR, [site.name for site in plan.SERVED_SITES] + [plan.PUBLIC_RESOLVER])
        args = [sys.executable, "-m", "probe.lab.serve", "net", "--dir", str(self._directory)]
        args += ["--public-delay", "0", "--max-seconds", str(SERVER_SECONDS), "--owner-pid", str(os.getpid())]
        process = self._spawn(in_netns(core, args), self.workdir / "internet.log")
        ready = self._directory / "net.ready"
        self._wait(ready.exists, process, "the internet's servers")

    def _start_collector(self, namespace: str) -> None:
        args = [sys.executable, "-m", "probe", "collector", "serve", "--db", str(self.collector_db)]
        args += ["--host", COLLECTOR_ADDRESS, "--port", str(COLLECTOR_PORT), "--no-alerts"]
        log = self.workdir / "collector.log"
        process = self._spawn(in_netns(namespace, args), log)
        self._wait(lambda: "collector: serving" in log.read_text(errors="replace"), process, "the collector")

    def _register(self) -> None:
        """Each probe's key made, and registered with the collector by ``probe collector register``, as an operator
        does (all at once: each is a process of its own)."""
        commands = []
        for daemon in self.daemons.values():
            daemon.home.mkdir(parents=True, exist_ok=True)
            identity = load_or_create(key_path_for(daemon.db))
            daemon.probe_id = identity.probe_id
            daemon.config.write_text(self._config(daemon), encoding="utf-8")
            args = [sys.executable, "-m", "probe", "collector", "register", identity.public_key_b64]
            args += ["--db", str(self.collector_db), "--name", daemon.member.name]
            command = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env()
            )
            commands.append(command)
        for command in commands:
            _, error = command.communicate(timeout=READY_TIMEOUT)
            if command.returncode != 0:
                raise LabError(f"lab: probe collector register: {(error.strip().splitlines() or ['failed'])[-1]}")

    def _config(self, daemon: Daemon) -> str:
        member = daemon.member
        return f"""# A probe of the districts lab {self._state.lab_id if self._state else ""} (probe.lab.districts).
[probe]
data_dir = "{daemon.home}"
concurrency = 4
probe_asn = "AS9198"
probe_cc = "{member.area.split("-", 1)[0]}"
area = "{member.area}"
district = "{member.district}"
network_type = "{member.network_type}"

[dns]
resolvers = ["udp://{plan.PUBLIC_RESOLVER}:53"]
query_types = ["A"]
timeout = {TIMEOUT}
late_answer_window = 0.0

[tcp]
timeout = {TIMEOUT}

[tls]
timeout = {TIMEOUT}

[http]
timeout = {TIMEOUT}

[network]
domestic_controls = ["{DOMESTIC_CONTROL}"]
international_controls = ["{INTERNATIONAL_CONTROL}"]
gateway = "auto"

[schedule]
first_delay = 0.0

[schedule.groups.web]
experiment = "web"
every = {self.round_every}
jitter = 0.0
inputs = ["{TARGET}"]

[upload]
enabled = true
url = "{self.collector_url}"
every = {self.upload_every}
backoff_min = {min(1.0, self.upload_every)}
backoff_max = {self.upload_every}
timeout = {max(2.0, self.upload_every)}
"""

    def _spawn(self, args: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=_env(), start_new_session=True
            )
        self._servers.append(process)
        return process

    @staticmethod
    def _wait(ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while not ready():
            if process.poll() is not None:
                raise LabError(f"lab: {what} stopped at start (exit status {process.returncode})")
            if time.monotonic() > deadline:
                raise LabError(f"lab: {what} not ready within {READY_TIMEOUT:g} s")
            time.sleep(0.1)

    # --- use ----------------------------------------------------------------------------------------------

    def start(self, name: str) -> None:
        """Start (or start again: the machine back on) the named probe's daemon."""
        daemon = self.daemons[name]
        if daemon.process is not None and daemon.process.poll() is None:
            raise LabError(f"lab: {name}'s daemon is running")
        args = [sys.executable, "-m", "probe", "daemon", "--accept", "--config", str(daemon.config)]
        args += ["--db", str(daemon.db)]
        with (daemon.home / "daemon.log").open("ab") as out:
            daemon.process = subprocess.Popen(
                in_netns(daemon.namespace, args),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=_env(),
                start_new_session=True,
            )

    def kill(self, name: str) -> None:
        """SIGKILL the named probe's daemon: the machine switched off, never a clean stop."""
        daemon = self.daemons[name]
        if daemon.process is not None and daemon.process.poll() is None:
            daemon.process.send_signal(signal.SIGKILL)
        self._reap(daemon)

    @staticmethod
    def _reap(daemon: Daemon) -> None:
        if daemon.process is not None:
            if daemon.process.poll() is None:
                daemon.process.kill()
            daemon.process.wait(timeout=30)
            daemon.process = None

    def cut(self, area: str, district: str) -> None:
        """The district's router forwards nothing (its probes still reach the router itself)."""
        self._filter(self.routers[area, district], (), forward="DROP")

    def cut_mobile(self, area: str, district: str) -> None:
        """The district's router forwards nothing to or from its mobile probes."""
        router = self.routers[area, district]
        daemons = self.daemons.values()
        mobile = [d.interface for d in daemons if d.router == router and d.member.network_type == "mobile"]
        lines = tuple(f"-A FORWARD -{way} {interface} -j DROP" for interface in mobile for way in ("i", "o"))
        self._filter(router, lines)

    def restore(self, area: str, district: str) -> None:
        self._filter(self.routers[area, district], ())

    @staticmethod
    def _filter(router: str, lines: tuple[str, ...], forward: str = "ACCEPT") -> None:
        run(in_netns(router, ["iptables-restore"]), stdin=filter_table(lines, forward))
