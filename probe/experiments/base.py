"""What every experiment shares: the context it runs in, its interface, and the envelope.

An experiment has a ``name``, a ``version``, the OONI ``test_name`` it exports as, a check of
its input, and ``run(input, ctx) -> Measurement``. ``run`` always returns a measurement,
whatever the network did; it raises only when the probe itself is broken.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from probe import SOFTWARE_NAME, __version__
from probe.config import Config
from probe.model import Measurement, TestKeys, ooni_time, utc_now_iso
from probe.net.control import Helpers
from probe.net.trace import Trace
from probe.network_identity import resolve as resolve_network


@dataclass(frozen=True)
class Context:
    """Everything a measurement needs besides its input."""

    config: Config
    report_id: str
    test_start_time: str  # ISO 8601 UTC
    helpers: Helpers = field(init=False)
    """The test helpers of ``[control] url``: what one measurement learns of them, the next knows."""

    def __post_init__(self) -> None:
        control = self.config.control
        helpers = Helpers(
            control.url,
            token=control.token.get_secret_value(),
            ca_bundle=self.config.tls.ca_bundle,
            skip_failed=control.skip_failed,
        )
        object.__setattr__(self, "helpers", helpers)


@dataclass
class Outcome:
    """What an experiment's body found: its test keys and the failure that decided it."""

    test_keys: TestKeys
    failure: str | None = None
    failed_step: str | None = None


class Experiment(Protocol):
    name: str
    version: str
    test_name: str

    @property
    def inputs(self) -> str:
        """What an input looks like, for ``probe run --help`` (``URLs``, ``host:port``)."""

    def check_input(self, value: str) -> str | None:
        """Why ``value`` cannot be measured by this experiment, or None."""

    def run(self, value: str, ctx: Context) -> Measurement:
        """Measure ``value``; always a measurement, even when every step failed."""


def new_report_id() -> str:
    return uuid.uuid4().hex


def measure(experiment: Experiment, value: str, ctx: Context, body: Callable[[Trace], Outcome]) -> Measurement:
    """Run ``body`` with a fresh trace and wrap what it found in the OONI envelope."""
    started_at = utc_now_iso()
    trace = Trace()
    begin = time.monotonic()
    outcome = body(trace)
    outcome.test_keys.network_events = sorted(
        [*outcome.test_keys.network_events, *trace.network_events], key=lambda event: event.t
    )
    network = resolve_network(ctx.config, ctx.helpers.network)
    return Measurement.model_validate(
        {
            "id": uuid.uuid4().hex,
            "experiment": experiment.name,
            "input": value,
            "failure": outcome.failure,
            "failed_step": outcome.failed_step,
            "started_at": started_at,
            "annotations": {
                "engine_name": SOFTWARE_NAME,
                "engine_version": __version__,
                "experiment": experiment.name,
                "platform": "linux",
            },
            "measurement_start_time": ooni_time(started_at),
            "probe_asn": network.asn,
            "probe_cc": network.cc,
            "probe_network_name": network.name,
            "report_id": ctx.report_id,
            "software_name": SOFTWARE_NAME,
            "software_version": __version__,
            "test_name": experiment.test_name,
            "test_version": experiment.version,
            "test_runtime": round(time.monotonic() - begin, 6),
            "test_start_time": ooni_time(ctx.test_start_time),
            "test_keys": outcome.test_keys,
        }
    )
