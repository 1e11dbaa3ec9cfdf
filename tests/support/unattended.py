"""Helpers for the unattended-operation tests (daemon, upload, collector, integrity, consent); not a test module.

fill(db, count)              ``count`` real tcp measurements against a refusing port on loopback
probe_identity(db)           the key beside the database (made if needed), registered in it
daemon_config(dns, ...)      a loopback config with a [schedule] group and short intervals
wait_for(predicate, ...)     poll until true, bounded in time
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import loopback_config

from probe.config import Config
from probe.experiments import get_experiment
from probe.identity import Identity, key_path_for, load_or_create
from probe.integrity.heads import register_self
from probe.runner import run_targets
from probe.storage import Database
from probe.testlist import Target
from support.dnsserver import running_dns_server
from support.servers import tcp_refusing_port


def fill(db: Database, count: int) -> list[str]:
    """Save ``count`` measurements (connection_refused, from a real loopback port); their ids."""
    with running_dns_server({}) as dns, tcp_refusing_port() as refusing:
        targets = [Target(f"127.0.0.1:{refusing.port}") for _ in range(count)]
        summary = run_targets(get_experiment("tcp"), targets, loopback_config(dns.spec()), db)
    assert summary.done == count
    return [row["id"] for row in db.measurement_rows(summary.run_id)]


def probe_identity(db: Database) -> Identity:
    assert db.path is not None
    identity = load_or_create(key_path_for(db.path))
    register_self(db, identity)
    return identity


def daemon_config(dns_spec: str, groups: dict[str, dict[str, Any]], **sections: dict[str, Any]) -> Config:
    """A loopback config for the daemon: no first delay, and the given groups."""
    schedule = {"first_delay": 0.0, "groups": groups, **sections.pop("schedule", {})}
    return loopback_config(dns_spec, schedule=schedule, **sections)


def wait_for(predicate: Callable[[], bool], *, timeout: float = 15.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
