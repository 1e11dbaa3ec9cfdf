"""One round: a group's inputs measured by its experiment, with a heartbeat row around it.

Any registered experiment can be scheduled (``probe.experiments.EXPERIMENTS``): a group names
it and gives its inputs, and the experiment checks them. A list is a Citizen Lab CSV, or one
input a line (``#`` starts a comment), so host names and host:port pairs fit as well as URLs.
The list is read at every round: edit it and the next round measures the new one.
"""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from probe.config import Config
from probe.daemon import heartbeat
from probe.daemon.schedule import Group
from probe.errors import ConfigError, ProbeError, TestListError
from probe.experiments import EXPERIMENTS, get_experiment
from probe.model import Measurement
from probe.runner import run_targets
from probe.storage import Database
from probe.storage.tables import ROUND_COUNTS
from probe.testlist import Problem, Target, TestList, parse_test_list

Clock = Callable[[], float]
Log = Callable[[str], None]


def groups_from(config: Config) -> list[Group]:
    """The configured groups, each checked: a known experiment, and something to measure."""
    groups = []
    for name, section in config.schedule.groups.items():
        key = f"schedule.groups.{name}"
        if section.experiment not in EXPERIMENTS:
            known = ", ".join(sorted(EXPERIMENTS))
            raise ConfigError(f"{key}.experiment: unknown experiment {section.experiment!r}; known: {known}")
        test_list = section.test_list
        if test_list is None and not section.inputs:
            test_list = config.probe.test_list
        if test_list is None and not section.inputs:
            raise ConfigError(f"{key}: nothing to measure: set test_list or inputs (or [probe] test_list)")
        groups.append(Group(name, section.experiment, section.every, section.jitter, test_list, tuple(section.inputs)))
    if not groups:
        raise ConfigError("schedule.groups: no experiment group to run; add a [schedule.groups.NAME] section")
    return groups


def read_inputs(path: Path) -> TestList:
    """A Citizen Lab CSV list, or one input a line; the experiment checks each input later."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TestListError(f"{path}: cannot read test list: {exc}") from None
    first = text.lstrip("\ufeff").split("\n", 1)[0].strip()
    if first == "url" or first.startswith("url,"):
        return parse_test_list(text, str(path))
    listing = TestList(str(path))
    for line in text.splitlines():
        entry = line.strip()
        if entry and not entry.startswith("#"):
            listing.targets.append(Target(entry))
    return listing


def group_targets(group: Group, config: Config) -> tuple[list[Target], list[Problem], str]:
    targets: list[Target] = []
    problems: list[Problem] = []
    source = "config"
    if group.test_list is not None:
        listing = read_inputs(group.test_list)
        targets, problems, source = listing.targets, listing.problems, listing.source
    targets = [*targets, *(Target(value) for value in group.inputs)]
    return targets, problems, source


@dataclass
class RoundResult:
    round_id: str
    group: str
    started: float
    status: str
    run_id: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROUND_COUNTS, 0))
    """What the round counted (``ROUND_COUNTS``), as its heartbeat row keeps it."""
    error: str | None = None

    def describe(self) -> str:
        text = f"round {self.group} {self.round_id[:8]}: {self.status}"
        if self.error:
            return f"{text}: {self.error}"
        counts = self.counts
        return (
            f"{text}, {counts['measured']} of {counts['targets']} measured, {counts['failed']} failed, "
            f"{counts['reached']} reached"
        )


def run_round(
    db: Database,
    group: Group,
    config: Config,
    *,
    stop: threading.Event,
    clock: Clock = time.time,
    log: Log = lambda line: None,
    boot: str = "",
    first_of_daemon: bool = False,
) -> RoundResult:
    """Run one round of ``group``; its heartbeat row exists from the start, and is closed at the end. ``boot`` (the
    kernel's boot id) and ``first_of_daemon`` tell whether the machine or the daemon was off since the round
    before (``heartbeat.start_round``)."""
    result = RoundResult(uuid.uuid4().hex, group.name, clock(), heartbeat.FAILED)
    heartbeat.start_round(
        db,
        round_id=result.round_id,
        group=group.name,
        experiment=group.experiment,
        started_at=heartbeat.iso(result.started),
        every=group.every,
        boot=boot,
        first_of_daemon=first_of_daemon,
    )

    def link(measurement: Measurement, done: int, total: int) -> None:
        # So that a round cut short by a crash still names its run.
        if result.run_id is None:
            result.run_id = measurement.report_id
            heartbeat.link_run(db, result.round_id, result.run_id)

    try:
        targets, problems, source = group_targets(group, config)
        summary = run_targets(
            get_experiment(group.experiment),
            targets,
            config,
            db,
            test_list=source,
            problems=problems,
            on_measurement=link,
            stop=stop,
        )
        result.status, result.run_id = summary.status, summary.run_id
        result.counts.update(
            targets=summary.total,
            measured=summary.done,
            failed=summary.done - summary.reached,
            reached=summary.reached,
            probe_errors=len(summary.probe_errors),
        )
        for line in summary.probe_errors:
            log(f"probe error in round {group.name}: {line}")
        if summary.network is not None and summary.network.source == "unknown":
            log(f"round {group.name}: {summary.network.line()}")
    except ProbeError as exc:
        result.error = str(exc)
    except Exception as exc:  # a bug: keep the daemon measuring, and leave the traceback in the log
        result.error = f"probe error: {type(exc).__name__}: {exc}"
        log(traceback.format_exc())
    heartbeat.finish_round(
        db,
        result.round_id,
        finished_at=heartbeat.iso(clock()),
        status=result.status,
        run_id=result.run_id,
        error=result.error,
        **result.counts,
    )
    return result
