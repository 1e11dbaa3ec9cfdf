"""Run one experiment over many inputs, concurrently, saving each measurement as it completes.

A blocked target costs a timeout; with ``concurrency`` workers it never delays the others.
Workers only measure; the calling thread alone writes to the database. Each round measures the
network controls first and last, and each measurement is judged before it is saved
(``probe.stage``).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from probe import __version__
from probe.config import Config
from probe.experiments import Context, Experiment
from probe.experiments.base import new_report_id
from probe.limits import input_refusal
from probe.model import Measurement, utc_now_iso
from probe.network_identity import NetworkIdentity
from probe.network_identity import resolve as resolve_network
from probe.stage.verdicts import VerdictStage
from probe.storage import Database
from probe.storage.db import row_to_measurement
from probe.testlist import Problem, Target

ProgressCallback = Callable[[Measurement, int, int], None]
STOP_POLL_SECONDS = 0.2
WINDOW_SLACK = 16
"""Targets submitted beyond one a worker, so that a worker that finishes finds its next target waiting. Every
target in the window may hold a finished measurement (a whole body) while the calling thread, which alone
writes, catches up: with 128 workers sharing the GIL it falls behind, so the slack stays small (it was four
targets a worker, and a run of 1,000 pages of 200 KB at concurrency 128 held 512 measurements, 320 MB)."""


@dataclass
class RunSummary:
    run_id: str
    total: int = 0
    done: int = 0
    status: str = "running"
    failures: Counter[str] = field(default_factory=Counter)
    steps: Counter[str] = field(default_factory=Counter)
    probe_errors: list[str] = field(default_factory=list)
    network: NetworkIdentity | None = None
    """The network the run measured from, as finally known."""
    refused: list[str] = field(default_factory=list)
    """Inputs not measured (the experiment cannot, or they are over the limits a collector accepts)."""
    cut: int = 0
    """Measurements saved with a field cut to the limits a collector accepts (``limits.cut`` annotation)."""

    @property
    def reached(self) -> int:
        return self.failures.get("", 0)


@dataclass(frozen=True)
class _StartedRun:
    """A run as recorded at its start: its id, the context its measurements share, its verdict stage (the
    network controls measured first) and the network it began on."""

    id: str
    ctx: Context
    stage: VerdictStage
    network: NetworkIdentity


def run_targets(
    experiment: Experiment,
    targets: Iterable[Target],
    config: Config,
    db: Database,
    *,
    test_list: str = "",
    problems: Sequence[Problem] = (),
    on_measurement: ProgressCallback | None = None,
    stop: threading.Event | None = None,
) -> RunSummary:
    """Measure every target with ``experiment``; return the run's summary.

    Targets whose input the experiment cannot measure are recorded as problems of the run,
    not measured. A KeyboardInterrupt stops the run: pending targets are dropped,
    measurements in flight finish within their timeouts, the run is marked interrupted.
    Setting ``stop`` does the same without an exception: the run returns, interrupted.
    """
    run = _start(experiment, config, db, test_list, [str(problem) for problem in problems])
    summary = RunSummary(run.id, total=len(targets) if isinstance(targets, Sized) else 0)

    def record(future: Future[Measurement], target: Target) -> None:
        _record(future, target, db, summary, on_measurement, run.stage)

    pool = ThreadPoolExecutor(max_workers=config.probe.concurrency, thread_name_prefix="measure")
    try:
        runnable = _runnable(experiment, targets, summary)
        window = config.probe.concurrency + WINDOW_SLACK
        stopped = _measure(pool, experiment, run, runnable, window, record, stop)
        if not stopped:
            _finish_verdicts(run.stage, db, run.id)
        summary.status = "interrupted" if stopped else "finished"
    except KeyboardInterrupt:
        summary.status = "interrupted"
        raise
    finally:
        pool.shutdown(wait=summary.status == "finished", cancel_futures=True)
        _finish(run, config, db, summary, problems)
    return summary


def _start(experiment: Experiment, config: Config, db: Database, test_list: str, problems: list[str]) -> _StartedRun:
    """Record the run as started, once the network controls are measured (and the fingerprints read: a missing
    file stops the run before it starts)."""
    run_id = new_report_id()
    started_at = utc_now_iso()
    stage = VerdictStage.start(config)
    network = resolve_network(config, None)
    db.start_run(
        {
            "id": run_id,
            "started_at": started_at,
            "experiment": experiment.name,
            "test_list": test_list,
            "probe_asn": network.asn,
            "probe_cc": network.cc,
            "probe_network_name": network.name,
            "network_source": network.source,
            "software_version": __version__,
            **run_place(config),
            "config": config.model_dump_json(),
            "problems": json.dumps(problems),
        }
    )
    if stage.network.state is not None:
        db.save_network_context(run_id, "start", stage.network.to_dict())
    ctx = Context(config=config, report_id=run_id, test_start_time=started_at)
    return _StartedRun(run_id, ctx, stage, network)


def run_place(config: Config) -> dict[str, str | None]:
    """The place the probe declares (``[probe] area``, ``district``, ``network_type``) as a run keeps it, each
    run its own (a probe can move): an area or district not declared is NULL, a network type ``unknown``."""
    section = config.probe
    return {"area": section.area or None, "district": section.district or None, "network_type": section.network_type}


def _measure(
    pool: ThreadPoolExecutor,
    experiment: Experiment,
    run: _StartedRun,
    runnable: Iterator[Target],
    window: int,
    record: Callable[[Future[Measurement], Target], None],
    stop: threading.Event | None,
) -> bool:
    """Measure the targets in ``pool``, each recorded by this thread as it completes; True when ``stop`` ended it.

    Targets are checked and submitted as workers free up, at most ``window`` at once, never all at once: a list of
    any length starts measuring at once and holds only a window of targets in memory. Once ``stop`` is set,
    what has not started is dropped and what is in flight is still recorded."""
    pending: dict[Future[Measurement], Target] = {}
    stopping = False
    while True:  # until no target is left to submit and none is pending (``stop`` drops those not started)
        while not stopping and len(pending) < window:
            target = next(runnable, None)
            if target is None:
                break
            pending[pool.submit(run.stage.run, experiment, target.input, run.ctx)] = target
        if not pending:
            return stopping
        done, _ = wait(pending, timeout=STOP_POLL_SECONDS if stop else None, return_when=FIRST_COMPLETED)
        for future in done:
            record(future, pending.pop(future))
        if stop is not None and stop.is_set() and not stopping:
            stopping = True
            for future in [future for future in pending if future.cancel()]:
                del pending[future]


def _finish(run: _StartedRun, config: Config, db: Database, summary: RunSummary, problems: Sequence[Problem]) -> None:
    """Record the run as ended: its status, the network it ended on, what it measured and its problems."""
    summary.network = resolve_network(config, run.ctx.helpers.network)
    if summary.network != run.network:
        network = summary.network
        db.set_run_network(run.id, asn=network.asn, cc=network.cc, name=network.name, source=network.source)
    # A streamed list's length is known only once read to its end: an interrupted one counts what was done.
    summary.total = max(summary.total, summary.done)
    # A streamed list finds its bad rows as it is read: ``problems`` may have grown meanwhile.
    problem_lines = [str(problem) for problem in problems] + summary.refused
    db.finish_run(
        run.id,
        finished_at=utc_now_iso(),
        status=summary.status,
        measurements=summary.done,
        problems=json.dumps(problem_lines),
    )


def _runnable(experiment: Experiment, targets: Iterable[Target], summary: RunSummary) -> Iterator[Target]:
    """The targets ``experiment`` can measure, in order; the others become the run's problems (``summary.refused``)."""
    counted = summary.total > 0
    seen = 0
    for position, target in enumerate(targets, start=1):
        seen = position
        reason = input_refusal(target.input) or experiment.check_input(target.input)
        if reason:
            # Some inputs may be personal data (a phone number given by mistake): name them by position.
            shown = f"#{position}" if getattr(experiment, "redact_rejected_inputs", False) else repr(target.input)
            shown = shown if len(shown) <= 200 else f"#{position}"  # a 70 KB input is named by its place
            summary.refused.append(f"input {shown}: {reason}")
            if counted:
                summary.total -= 1
            continue
        yield target
    if not counted:
        summary.total = seen - len(summary.refused)


def _record(
    future: Future[Measurement],
    target: Target,
    db: Database,
    summary: RunSummary,
    on_measurement: ProgressCallback | None,
    stage: VerdictStage,
) -> None:
    exc = future.exception()
    if exc is not None:
        # A bug in the probe, not censorship: say so, keep measuring the others.
        summary.probe_errors.append(f"{target.input}: {type(exc).__name__}: {exc}")
        return
    measurement = future.result()
    if db.save(measurement, summary.run_id, target.category_code, verdict_columns=stage.columns(measurement)):
        summary.cut += 1
    summary.done += 1
    summary.failures[measurement.failure or ""] += 1
    summary.steps[measurement.failed_step or "ok"] += 1
    if on_measurement is not None:
        on_measurement(measurement, summary.done, summary.total)


def _finish_verdicts(stage: VerdictStage, db: Database, run_id: str) -> None:
    """The round's controls again: a network that went dark meanwhile explains its failures."""
    changed = stage.finish(lambda measurement_id: _stored(db, measurement_id))
    if stage.network_after is None:
        return
    db.save_network_context(run_id, "end", stage.network_after.to_dict())
    for measurement_id, verdict in changed:
        db.set_verdict(measurement_id, verdict.as_row())


def _stored(db: Database, measurement_id: str) -> Measurement | None:
    row = db.get_row(measurement_id)
    return row_to_measurement(row) if row is not None else None
