"""The lab leaves nothing behind: not when a test fails, not when it is interrupted or killed,
and its namespaces cannot send a packet anywhere but to each other."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from probe.lab import plan, topology
from probe.lab.lab import Lab, remove
from probe.lab.shell import run
from probe.lab.state import all_labs
from probe.lab.topology import Namespaces

from .labsupport import skip_reason

pytestmark = [pytest.mark.root, pytest.mark.slow]

# A lab in a child process that prints its lab id, then waits to be interrupted or killed.
CHILD = textwrap.dedent(
    """
    import signal, sys, time
    from pathlib import Path
    from probe.lab.lab import Lab
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even if started in background
    with Lab(root=Path(sys.argv[1])) as lab:
        print(lab.up_state.lab_id, flush=True)
        time.sleep(60)
    """
)


@pytest.fixture(autouse=True)
def _needs_namespaces() -> None:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)


def assert_gone(namespaces: Namespaces, pids: Sequence[int] = ()) -> None:
    for name in namespaces.all():
        assert not topology.exists(name), name
        assert not (topology.NETNS_ETC_DIR / name).exists(), name
    listed = run(["ip", "netns", "list"])
    assert all(name not in listed for name in namespaces.all())
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid), pid


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


def start_child(root: Path) -> tuple[subprocess.Popen[str], Namespaces]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    assert line, child.stderr.read() if child.stderr else ""
    return child, Namespaces.for_lab(line)


def kill_and_clean(child: subprocess.Popen[str], root: Path) -> None:
    """Whatever the test found, leave no child and no lab behind."""
    if child.poll() is None:
        child.kill()
        child.communicate()
    for state in all_labs(root):
        remove(state)


def test_lab_removes_everything_when_its_block_raises(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="a failing test"), Lab(root=tmp_path) as lab:
        namespaces, directory = lab.namespaces, lab.directory
        pids = list(lab.up_state.pids.values())
        assert all(topology.exists(name) for name in namespaces.all())
        raise RuntimeError("a failing test")
    assert_gone(namespaces, pids)
    assert not directory.exists()


def test_labs_side_by_side_get_distinct_names_and_both_work(lab: Lab, tmp_path: Path) -> None:
    with Lab(root=tmp_path) as second:
        assert set(second.namespaces.all()).isdisjoint(lab.namespaces.all())
        for made in (lab, second):
            done = made.exec(["ip", "-4", "-o", "addr", "show", "dev", plan.PROBE_IF], capture=True, timeout=10)
            assert plan.PROBE_ADDRESS in done.stdout
    assert all(topology.exists(name) for name in lab.namespaces.all())  # the other lab is untouched


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_lab_process_removes_its_namespaces(tmp_path: Path, signum: signal.Signals) -> None:
    child, namespaces = start_child(tmp_path)
    try:
        assert topology.exists(namespaces.probe)
        child.send_signal(signum)
        child.communicate(timeout=30)
    finally:
        kill_and_clean(child, tmp_path)
    assert child.returncode != 0
    assert_gone(namespaces)
    assert all_labs(tmp_path) == []


def test_lab_left_by_a_killed_run_is_removed_by_the_next_lab(tmp_path: Path) -> None:
    child, namespaces = start_child(tmp_path)
    try:
        [stale] = all_labs(tmp_path)
        child.kill()  # SIGKILL: no handler runs, the namespaces stay
        child.communicate(timeout=10)
        assert topology.exists(namespaces.probe)
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() and not _zombie(pid) for pid in stale.pids.values()):
            assert time.monotonic() < deadline, "the servers outlived their owner"  # they watch it
            time.sleep(0.1)
        with Lab(root=tmp_path) as fresh:
            assert_gone(namespaces)
            assert [state.lab_id for state in all_labs(tmp_path)] == [fresh.up_state.lab_id]
    finally:
        kill_and_clean(child, tmp_path)


def test_lab_namespaces_route_nothing_outside_the_lab(lab: Lab) -> None:
    for role in ("probe", "isp", "net", "helper"):
        namespace = getattr(lab.namespaces, role)
        routes = run(["ip", "-n", namespace, "-4", "route", "show"])
        assert "default" not in routes, (role, routes)
        for destination in ("8.8.8.8", "10.0.0.1", "192.168.1.1", "1.1.1.1"):
            with pytest.raises(Exception, match="unreachable"):
                run(["ip", "-n", namespace, "route", "get", destination])
        links = run(["ip", "-n", namespace, "-o", "link", "show"])
        for line in links.splitlines():
            if "link-netns" in line:  # a veth: its peer must be in one of this lab's namespaces
                peer = line.split("link-netns", 1)[1].split()[0]
                assert peer in lab.namespaces.all(), line


def test_probe_namespace_uses_the_isp_resolver_without_touching_the_host(lab: Lab) -> None:
    done = lab.exec(["cat", "/etc/resolv.conf"], capture=True, timeout=10)
    assert f"nameserver {plan.ISP_RESOLVER}" in done.stdout
    assert plan.ISP_RESOLVER not in Path("/etc/resolv.conf").read_text()
    assert os.path.exists(topology.NETNS_ETC_DIR / lab.namespaces.probe / "resolv.conf")
