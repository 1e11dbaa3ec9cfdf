"""Shared fixtures: an empty home for every test, a probe config aimed at servers on loopback, a short context."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.noskips import pytest_sessionfinish as pytest_sessionfinish
from support.testca import PKI, make_pki

from probe import paths
from probe.config import Config
from probe.experiments import Context
from probe.model import utc_now_iso

HOME_VARIABLES = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test (and every process it starts) gets an empty home: no test reads or writes the real user's
    config or data, nor the machine's /etc/zhanaozen-probe."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for name in HOME_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv(paths.CONFIG_ENV, raising=False)
    monkeypatch.delenv(paths.STATE_DIRECTORY_ENV, raising=False)
    monkeypatch.setattr(paths, "SYSTEM_CONFIG", home / "etc" / "probe.toml")
    monkeypatch.setattr(paths, "SYSTEM_DATA_DIR", home / "var-lib")
    return home


def loopback_config(dns_spec: str, *, ca_bundle: Path | None = None, **sections: dict[str, Any]) -> Config:
    """A config whose only resolver is a test DNS server on loopback, with short timeouts."""
    data: dict[str, Any] = {
        "probe": {"concurrency": 8, "probe_asn": "AS64500", "probe_cc": "KZ"},
        "dns": {"resolvers": [dns_spec], "timeout": 1.0, "late_answer_window": 0.4},
        "tcp": {"timeout": 1.0},
        "tls": {"timeout": 1.0, "ca_bundle": str(ca_bundle) if ca_bundle else None},
        "http": {"timeout": 2.0, "max_body_bytes": 65536},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return Config.model_validate(data)


def context(config: Config) -> Context:
    return Context(config=config, report_id="test-report", test_start_time=utc_now_iso())


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PKI]:
    yield make_pki(tmp_path_factory.mktemp("pki"))
