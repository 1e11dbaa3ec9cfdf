"""A process is told apart from a later one under the same pid: by its start time and the boot, from ``/proc``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe import processes

LINUX = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    yield process
    process.kill()
    process.wait(10)


def fake_stat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pid: int, line: str) -> None:
    (tmp_path / str(pid)).mkdir()
    (tmp_path / str(pid) / "stat").write_text(line, encoding="ascii")
    monkeypatch.setattr(processes, "PROC", tmp_path)


def test_a_stat_line_is_read_after_a_command_name_holding_spaces_and_parentheses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    after_name = ["Z", *(str(field) for field in range(4, 22)), "987654", "0"]
    fake_stat(tmp_path, monkeypatch, 41, "41 (a (b) c) " + " ".join(after_name) + "\n")
    assert processes.start_time(41) == "987654"
    assert processes.is_zombie(41)
    assert processes.start_time(42) is None and not processes.is_zombie(42)


@LINUX
def test_this_process_is_alive_and_a_reaped_child_is_not(child: subprocess.Popen[bytes]) -> None:
    assert processes.alive(processes.this_process())
    owner = f"{child.pid}:{processes.start_time(child.pid)}:{processes.boot_id()}"
    assert processes.alive(owner) and processes.exists(child.pid)
    child.kill()
    child.wait(10)
    assert not processes.alive(owner) and not processes.exists(child.pid)


@LINUX
def test_an_ended_child_not_yet_reaped_is_a_zombie(child: subprocess.Popen[bytes]) -> None:
    os.kill(child.pid, signal.SIGKILL)
    for _ in range(500):  # until the kernel has ended it: at most 5 s
        if processes.is_zombie(child.pid):
            break
        time.sleep(0.01)
    assert processes.is_zombie(child.pid) and processes.exists(child.pid)


@LINUX
def test_the_same_pid_started_at_another_time_or_in_another_boot_is_another_process() -> None:
    pid, start, boot = processes.this_process().split(":")
    assert start and boot
    assert not processes.alive(f"{pid}:{int(start) + 1}:{boot}")  # a later process given the same pid
    assert not processes.alive(f"{pid}:{start}:another-boot")
    assert not processes.alive("") and not processes.alive(None) and not processes.alive("no pid here")


def test_cpu_and_memory_of_a_process_are_read_and_a_gone_one_reads_zero() -> None:
    cpu_seconds, status_kb = processes.cpu_seconds, processes.status_kb
    began = cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # bounded: 0.3 s of this process's CPU
        pass
    assert cpu_seconds(os.getpid()) >= began + 0.2
    assert status_kb(os.getpid(), "VmRSS:") > 1024
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, timeout=60
    )
    pid = int(gone.stdout)
    assert (cpu_seconds(pid), status_kb(pid, "VmRSS:")) == (0.0, 0)
