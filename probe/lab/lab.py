"""``Lab``: a censored network on this machine, up for as long as a ``with`` block.

    with Lab() as lab:
        config = lab.probe_config(tmp_path)                  # TOML for the probe in the lab
        lab.scenario("dns_nxdomain", ["twitter.com"])        # switchable at any time
        lab.run_probe(["run", "--accept", "--config", str(config), "--url", "http://twitter.com/"])
        lab.exec(["ip", "route"])                            # anything, in the probe namespace

Everything the lab makes is removed when the block ends, however it ends: an exception,
Ctrl-C, SIGTERM/SIGHUP (the lab is removed, then the process ends by that signal) or
interpreter exit (``atexit``). A lab whose owner was killed outright (SIGKILL) is removed
by the next lab made under the same state root, or by ``probe lab down --all``. ``probe lab
up`` makes a *detached* lab instead, which outlives the command until ``probe lab down``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, Literal

import probe
from probe.lab import plan, topology
from probe.lab.ca import make_ca
from probe.lab.censor import Censor
from probe.lab.errors import LabError, NotRootError
from probe.lab.scenarios import Rules, get_scenario, resolve_sites
from probe.lab.serve import CERT_DIR, POLICY_FILE, ROLES
from probe.lab.shell import in_netns, run
from probe.lab.state import STATE_ROOT, LabState, all_labs, set_current
from probe.lab.topology import Namespaces
from probe.processes import start_time

PUBLIC_DELAY = 0.25
"""Seconds the public resolver waits before answering (an international path)."""
READY_TIMEOUT = 30.0
TEST_LAB_SECONDS = 2 * 3600
DETACHED_LAB_SECONDS = 12 * 3600
SITE_LIST = "lab-sites.txt"
ID_ATTEMPTS = 8
HELPER_HTTP_TIMEOUT = 5.0
"""Seconds the lab's test helper gives its own HTTP fetch of a site."""
Role = Literal["probe", "isp", "net", "helper"]
_CLEANUP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def unavailable_reason() -> str | None:
    """Why this machine cannot run the lab (not root, a tool missing, no namespaces), or None."""
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces, iptables, tc)"
    for tool in ("ip", "iptables-restore", "tc"):
        if shutil.which(tool) is None:
            return f"the lab needs {tool} (Debian: iproute2, iptables)"
    name = f"{topology.PREFIX}check-{secrets.token_hex(3)}"
    try:
        run(["ip", "netns", "add", name])
    except LabError as exc:
        return f"cannot create network namespaces here ({exc})"
    try:
        run(["ip", "netns", "del", name])
    except LabError as exc:
        return f"cannot delete network namespaces here ({exc})"
    return None


def remove(state: LabState) -> list[str]:
    """Kill a lab's processes, delete its namespaces and its directory; what could not be removed.

    Processes are found by namespace (``ip netns pids``), never by the pids in the state
    file: a server that has ended may have left its pid to an unrelated process.
    """
    problems = topology.destroy(state.namespaces)
    shutil.rmtree(state.directory, ignore_errors=True)
    return problems


def reap_stale(root: Path) -> None:
    """Remove labs left behind by test runs that were killed before they could clean up."""
    for state in all_labs(root):
        if state.stale():
            remove(state)


class Lab:
    def __init__(self, *, root: Path = STATE_ROOT, public_delay: float = PUBLIC_DELAY, detached: bool = False) -> None:
        self.root = root
        self.public_delay = public_delay
        self.detached = detached
        self.state: LabState | None = None
        self._processes: list[subprocess.Popen[bytes]] = []

    @classmethod
    def attach(cls, state: LabState) -> Lab:
        """The lab described by ``state`` (made by another process), to switch, use or remove."""
        lab = cls(root=state.directory.parent, detached=state.owner_pid is None)
        lab.state = state
        return lab

    # --- life cycle -----------------------------------------------------------------------------------

    def __enter__(self) -> Lab:
        return self.up()

    def __exit__(self, *exc_info: object) -> None:
        self.down()

    def up(self) -> Lab:
        if os.geteuid() != 0:
            raise NotRootError("lab: not running as root")
        if self.state is not None:
            raise LabError("lab: already up")
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        reap_stale(self.root)
        lab_id, directory = self._new_directory()
        owner = None if self.detached else os.getpid()
        self.state = LabState(lab_id, directory, owner, start_time(owner) if owner else None)
        self.state.save()  # first, so that a lab killed while it is being built can still be found
        _LIVE.add(self)
        try:
            self._build(self.state)
        except BaseException:
            self.down()
            raise
        if self.detached:
            _LIVE.remove(self)  # it outlives this process, by design
        return self

    def _new_directory(self) -> tuple[str, Path]:
        """A fresh lab id, unused both as a state directory and as namespace names."""
        for _ in range(ID_ATTEMPTS):
            lab_id = secrets.token_hex(3)
            if any(topology.exists(name) for name in Namespaces.for_lab(lab_id).all()):
                continue
            with contextlib.suppress(FileExistsError):
                (self.root / lab_id).mkdir(mode=0o700)
                return lab_id, self.root / lab_id
        raise LabError(f"lab: no free lab id after {ID_ATTEMPTS} tries")

    def _build(self, state: LabState) -> None:
        make_ca(state.directory / CERT_DIR, [site.name for site in plan.SERVED_SITES] + [plan.PUBLIC_RESOLVER])
        try:
            topology.create(state.namespaces)
        except LabError as exc:
            raise LabError(f"{exc} (cannot build the lab's namespaces)") from None
        self._censor().apply(Rules())
        (state.directory / SITE_LIST).write_text(
            "".join(f"http://{site.name}/\n" for site in plan.WEB_SITES), encoding="utf-8"
        )
        for role in ROLES:
            self._start_server(state, role)
        deadline = time.monotonic() + READY_TIMEOUT
        for role, process in zip(ROLES, self._processes, strict=True):
            self._wait_ready(state, role, process, deadline)
        state.save()

    def _start_server(self, state: LabState, role: str) -> None:
        namespace = state.namespaces.net if role == "net" else state.namespaces.isp
        seconds = DETACHED_LAB_SECONDS if self.detached else TEST_LAB_SECONDS
        args = [sys.executable, "-m", "probe.lab.serve", role, "--dir", str(state.directory)]
        args += ["--public-delay", str(self.public_delay), "--max-seconds", str(seconds)]
        if state.owner_pid is not None:
            args += ["--owner-pid", str(state.owner_pid)]
        env = dict(os.environ)
        source = str(Path(probe.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
        with (state.directory / f"{role}.log").open("ab") as log:
            process = subprocess.Popen(
                in_netns(namespace, args),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                start_new_session=True,  # a Ctrl-C in the terminal is ours to handle, not theirs
            )
        self._processes.append(process)
        state.pids[role] = process.pid
        state.save()

    @staticmethod
    def _wait_ready(state: LabState, role: str, process: subprocess.Popen[bytes], deadline: float) -> None:
        ready = state.directory / f"{role}.ready"
        while not ready.exists():
            if process.poll() is not None:
                log = (state.directory / f"{role}.log").read_text(encoding="utf-8", errors="replace")
                last = (log.strip().splitlines() or ["no output"])[-1]
                raise LabError(f"lab: the {role} servers stopped at start: {last}")
            if time.monotonic() > deadline:
                raise LabError(f"lab: the {role} servers were not ready within {READY_TIMEOUT:g} s")
            time.sleep(0.05)

    def down(self) -> None:
        """Remove everything; safe to call more than once."""
        state, self.state = self.state, None
        _LIVE.remove(self)
        if state is None:
            return
        problems = remove(state)
        for process in self._processes:
            try:
                process.wait(timeout=topology.KILL_GRACE)
            except subprocess.TimeoutExpired:
                process.kill()
        self._processes.clear()
        current = state.directory.parent / "current"
        if current.exists() and current.read_text(encoding="ascii").strip() == state.lab_id:
            set_current(state.directory.parent, None)
        if problems:
            raise LabError(f"lab: could not remove everything: {problems[0]}")

    # --- use ------------------------------------------------------------------------------------------

    @property
    def up_state(self) -> LabState:
        if self.state is None:
            raise LabError("lab: not up")
        return self.state

    @property
    def namespaces(self) -> Namespaces:
        return self.up_state.namespaces

    @property
    def directory(self) -> Path:
        return self.up_state.directory

    @property
    def ca_path(self) -> Path:
        return self.directory / CERT_DIR / "ca.pem"

    @property
    def site_list(self) -> Path:
        return self.directory / SITE_LIST

    def _censor(self) -> Censor:
        return Censor(self.namespaces, self.directory / POLICY_FILE)

    def scenario(self, name: str, sites: Sequence[str] = ()) -> tuple[plan.Site, ...]:
        """Reset the censor and apply scenario ``name`` to ``sites`` (its defaults if none); the sites."""
        chosen = get_scenario(name)
        targets = resolve_sites(chosen, sites)
        state = self.up_state
        self._censor().apply(chosen.rules(targets))
        state.scenario, state.sites = name, [site.name for site in targets]
        state.save()
        return targets

    def exec(
        self,
        args: Sequence[str],
        *,
        role: Role = "probe",
        timeout: float | None = None,
        capture: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``args`` in one of the lab's namespaces (the volunteer's by default); never raises on its status."""
        return subprocess.run(
            self.argv(args, role=role),
            stdin=subprocess.DEVNULL if capture else None,
            capture_output=capture,
            text=True,
            timeout=timeout,
            check=False,
        )

    def argv(self, args: Sequence[str], *, role: Role = "probe") -> list[str]:
        """``args`` as a command that runs in one of the lab's namespaces (for ``subprocess.Popen``)."""
        return in_netns(getattr(self.namespaces, role), list(args))

    def probe_argv(self, args: Sequence[str]) -> list[str]:
        """``python -m probe ARGS`` in the probe namespace."""
        return self.argv([sys.executable, "-m", "probe", *args])

    def run_probe(self, args: Sequence[str], *, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """``python -m probe ARGS`` in the probe namespace, its output captured."""
        return subprocess.run(
            self.probe_argv(args),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    @contextlib.contextmanager
    def test_helper(
        self,
        directory: Path,
        *,
        port: int,
        timeout: float,
        asn_db: Path | None = None,
        country_db: Path | None = None,
    ) -> Iterator[str]:
        """``probe helper serve`` in the helper namespace (outside the censor), trusting the lab CA; its URL.

        Lab addresses are private (198.18.0.0/15), so the helper is started with
        ``--allow-private-addresses``; ``asn_db``/``country_db`` are its IP databases (MMDB), if any.
        It is stopped when the block ends.
        """
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "helper.toml"
        config.write_text(
            f'[dns]\nresolvers = ["system"]\ntimeout = {timeout}\n[tcp]\ntimeout = {timeout}\n'
            f"[tls]\ntimeout = {timeout}\nca_bundle = {_toml_str(self.ca_path)}\n"
            f"[http]\ntimeout = {HELPER_HTTP_TIMEOUT}\n",
            encoding="utf-8",
        )
        env = dict(os.environ)
        source = str(Path(probe.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
        args = [sys.executable, "-m", "probe", "helper", "serve", "--config", str(config)]
        args += ["--host", plan.HELPER_ADDRESS, "--port", str(port), "--allow-private-addresses"]
        for option, path in (("--asn-db", asn_db), ("--country-db", country_db)):
            if path is not None:
                args += [option, str(path)]
        process = subprocess.Popen(
            self.argv(args, role="helper"), stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
        )
        try:
            assert process.stderr is not None
            line = process.stderr.readline()
            if "listening on" not in line:
                raise LabError(f"lab: the test helper did not start: {line.strip()}")
            yield f"http://{plan.HELPER_ADDRESS}:{port}/"
        finally:
            process.terminate()
            process.wait(timeout=10)

    def probe_config(
        self,
        directory: Path,
        *,
        timeout: float = 2.0,
        late_answer_window: float = 0.8,
        concurrency: int = 8,
        data_dir: Path | None = None,
    ) -> Path:
        """Write a probe config for the lab into ``directory``; its path.

        Resolvers: the system's (the ISP's) and the lab's public resolver, over UDP and over HTTPS (the
        clean comparison path); the lab CA is the only trusted root; every timeout is ``timeout`` seconds
        so that blocked targets cost little.
        """
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "probe-lab.toml"
        text = f"""# Probe config for the zhanaozen-probe lab {self.up_state.lab_id} (written by probe.lab).
[probe]
data_dir = {_toml_str(data_dir or directory)}
concurrency = {concurrency}
test_list = {_toml_str(self.site_list)}

[dns]
resolvers = ["system", "udp://{plan.PUBLIC_RESOLVER}:53", "{plan.DOH_URL}"]
query_types = ["A"]
timeout = {timeout}
late_answer_window = {late_answer_window}

[tcp]
timeout = {timeout}

[tls]
timeout = {timeout}
ca_bundle = {_toml_str(self.ca_path)}

[http]
timeout = {timeout}
"""
        path.write_text(text, encoding="utf-8")
        return path


def _toml_str(path: Path) -> str:
    return '"' + str(path.resolve()).replace("\\", "\\\\").replace('"', '\\"') + '"'


class _LiveLabs:
    """This process's labs that must not outlive it: removed at exit and on SIGTERM/SIGHUP.

    The signal handlers are installed while a lab is live (from the main thread, and only
    over the default action); a signal removes every live lab, then ends the process by
    the same signal, as it would have without the lab.
    """

    def __init__(self) -> None:
        self._labs: list[Lab] = []
        self._handlers: dict[int, Any] = {}
        self._atexit = False

    def add(self, lab: Lab) -> None:
        if not self._atexit:
            atexit.register(self.remove_all)
            self._atexit = True
        if not self._labs and threading.current_thread() is threading.main_thread():
            for signum in _CLEANUP_SIGNALS:
                if signal.getsignal(signum) is signal.SIG_DFL:
                    self._handlers[signum] = signal.signal(signum, self._on_signal)
        self._labs.append(lab)

    def remove(self, lab: Lab) -> None:
        if lab in self._labs:
            self._labs.remove(lab)
        if not self._labs and threading.current_thread() is threading.main_thread():
            for signum, handler in self._handlers.items():
                signal.signal(signum, handler)
            self._handlers.clear()

    def remove_all(self) -> None:
        for lab in reversed(list(self._labs)):
            with contextlib.suppress(Exception):  # remove the others whatever happens to one
                lab.down()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.remove_all()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


_LIVE = _LiveLabs()
