"""Experiments, one module each, all with the same small interface (see ``base``)."""

from __future__ import annotations

from probe.errors import ProbeError
from probe.experiments.base import Context, Experiment, Outcome
from probe.experiments.dns import DNSExperiment
from probe.experiments.sms import SMSExperiment
from probe.experiments.tcp import TCPExperiment
from probe.experiments.web import WebExperiment

EXPERIMENTS: dict[str, Experiment] = {
    experiment.name: experiment
    for experiment in (
        WebExperiment(),
        DNSExperiment(),
        TCPExperiment(),
        SMSExperiment(),
    )
}
"""Every experiment, by name: adding one is its module and one line here (``probe run --help`` lists it)."""


def get_experiment(name: str) -> Experiment:
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise ProbeError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}") from None


__all__ = ["EXPERIMENTS", "Context", "Experiment", "Outcome", "get_experiment"]
