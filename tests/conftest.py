"""Shared fixtures: a probe config aimed at servers on loopback, and a short context for experiments."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.testca import PKI, make_pki

from probe.config import Config
from probe.experiments import Context
from probe.model import utc_now_iso


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
