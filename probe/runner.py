"""Run one experiment over many inputs, concurrently, saving each measurement as it completes.

A blocked target costs a timeout; with ``concurrency`` workers it never delays the others.
Workers only measure; the calling thread alone writes to the database.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from probe import __version__
from probe.config import Config
from probe.experiments import Context, Experiment
from probe.experiments.base import new_report_id
from probe.model import Measurement, utc_now_iso
from probe.storage import Database
from probe.testlist import Problem, Target

ProgressCallback = Callable[[Measurement, int, int], None]


@dataclass
class RunSummary:
    run_id: str
    total: int = 0
    done: int = 0
    status: str = "running"
    failures: Counter[str] = field(default_factory=Counter)
    steps: Counter[str] = field(default_factory=Counter)
    probe_errors: list[str] = field(default_factory=list)

    @property
    def reached(self) -> int:
        return self.failures.get("", 0)


def run_targets(
    experiment: Experiment,
    targets: Sequence[Target],
    config: Config,
    db: Database,
    *,
    test_list: str = "",
    problems: Sequence[Problem] = (),
    on_measurement: ProgressCallback | None = None,
) -> RunSummary:
    """Measure every target with ``experiment``; return the run's summary.

    Targets whose input the experiment cannot measure are recorded as problems of the run,
    not measured. A KeyboardInterrupt stops the run: pending targets are dropped,
    measurements in flight finish within their timeouts, the run is marked interrupted.
    """
    run_id = new_report_id()
    started_at = utc_now_iso()
    problem_lines = [str(problem) for problem in problems]
    runnable: list[Target] = []
    for target in targets:
        reason = experiment.check_input(target.input)
        if reason:
            problem_lines.append(f"input {target.input!r}: {reason}")
        else:
            runnable.append(target)
    summary = RunSummary(run_id, total=len(runnable))
    db.start_run(
        {
            "id": run_id,
            "started_at": started_at,
            "experiment": experiment.name,
            "test_list": test_list,
            "probe_asn": config.probe.probe_asn,
            "probe_cc": config.probe.probe_cc,
            "software_version": __version__,
            "config": config.model_dump_json(),
            "problems": json.dumps(problem_lines),
        }
    )
    ctx = Context(config=config, report_id=run_id, test_start_time=started_at)
    pool = ThreadPoolExecutor(max_workers=config.probe.concurrency, thread_name_prefix="measure")
    pending: dict[Future[Measurement], Target] = {
        pool.submit(experiment.run, target.input, ctx): target for target in runnable
    }
    try:
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                target = pending.pop(future)
                _record(future, target, db, summary, on_measurement)
        summary.status = "finished"
    except KeyboardInterrupt:
        summary.status = "interrupted"
        raise
    finally:
        pool.shutdown(wait=summary.status == "finished", cancel_futures=True)
        db.finish_run(run_id, finished_at=utc_now_iso(), status=summary.status, measurements=summary.done)
    return summary


def _record(
    future: Future[Measurement],
    target: Target,
    db: Database,
    summary: RunSummary,
    on_measurement: ProgressCallback | None,
) -> None:
    exc = future.exception()
    if exc is not None:
        # A bug in the probe, not censorship: say so, keep measuring the others.
        summary.probe_errors.append(f"{target.input}: {type(exc).__name__}: {exc}")
        return
    measurement = future.result()
    db.save(measurement, summary.run_id, target.category_code)
    summary.done += 1
    summary.failures[measurement.failure or ""] += 1
    summary.steps[measurement.failed_step or "ok"] += 1
    if on_measurement is not None:
        on_measurement(measurement, summary.done, summary.total)
