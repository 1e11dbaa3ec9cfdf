"""A run started by hand (``probe run``): what it measures, the run itself, and what it found.

    choose_targets  the inputs: the ones given alone, a list given (read while it is measured), or the
                    config's list (with Citizen Lab's cached lists for web), each with the inputs given
    measure_by_hand the run over them, then its verdicts grouped from what was stored: a ``ManualRun``

The command line asks for consent first (it may ask at the terminal), shows progress and prints the
``ManualRun``: its warnings, the summary, the verdicts, the network, and exits with its ``exit_code``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from probe.config import Config
from probe.errors import ProbeError
from probe.experiments import Experiment
from probe.listcache import add_cached_lists, cached_lists
from probe.report.run_summary import VerdictGroups, group_verdicts
from probe.runner import ProgressCallback, RunSummary, run_targets
from probe.storage import Database
from probe.testlist import Problem, StreamedTestList, Target, TestList, load_test_list, stream_test_list


def choose_targets(
    config: Config, experiment: Experiment, list_path: Path | None, inputs: Sequence[str]
) -> TestList | StreamedTestList:
    """What a run measures: ``inputs`` alone, or ``list_path`` (streamed: a list of any length starts at once),
    or the config's ``[probe] test_list`` (and, for web, the cached lists ``[lists] use_cached`` names),
    followed by ``inputs``; ``ProbeError`` when there is nothing to measure."""
    extra = [Target(value) for value in inputs]
    if inputs and list_path is None:
        return TestList("command line", extra)
    chosen: TestList | StreamedTestList
    if list_path is not None:
        chosen = stream_test_list(list_path, experiment.check_input)
    else:
        path = config.probe.test_list
        if path is None:
            raise ProbeError("nothing to measure: give --list, --url, or set [probe] test_list in the config")
        chosen = load_test_list(path, experiment.check_input)
        if experiment.name == "web" and config.lists.use_cached:
            add_cached_lists(chosen, cached_lists(config))
    chosen.targets.extend(extra)
    return chosen


@dataclass(frozen=True)
class ManualRun:
    """What a run by hand found: its summary, its verdicts by group, and the list it measured."""

    summary: RunSummary
    verdicts: VerdictGroups
    source: str
    problems: Sequence[Problem]
    """The list's rows that could not be read (a streamed list's, found as it was read)."""

    def warnings(self) -> list[str]:
        """One line each: the list's bad rows, the inputs not measured, the measurements saved with a field cut."""
        lines = [f"{self.source}: {problem} (skipped)" for problem in self.problems]
        lines += [f"{line} (not measured)" for line in self.summary.refused]
        if self.summary.cut:
            lines.append(
                f"{self.summary.cut} measurement(s) saved with a field cut to the limits a collector accepts "
                "(their annotations name it: limits.cut)"
            )
        return lines

    def exit_code(self) -> int:
        """0, or 1 when the probe itself failed on some input (a bug, not censorship); ``ProbeError`` when every
        input was refused and nothing was measured."""
        summary = self.summary
        if summary.refused and not summary.total:
            raise ProbeError(f"nothing measured: every input was refused ({len(summary.refused)}, named above)")
        return 1 if summary.probe_errors else 0


def measure_by_hand(
    experiment: Experiment,
    targets: TestList | StreamedTestList,
    config: Config,
    db: Database,
    *,
    on_measurement: ProgressCallback | None = None,
) -> ManualRun:
    """Run ``experiment`` over ``targets`` into ``db`` and group its verdicts from what was stored (with the
    network's state at each control, so that a machine that was offline is told from a blocking network)."""
    summary = run_targets(
        experiment,
        targets if isinstance(targets, StreamedTestList) else targets.targets,
        config,
        db,
        test_list=targets.source,
        problems=targets.problems,
        on_measurement=on_measurement,
    )
    states = [context.get("network_state") for context in db.network_contexts(summary.run_id)]
    verdicts = group_verdicts(db.measurement_rows(summary.run_id), helpers=config.control.url, network_states=states)
    return ManualRun(summary, verdicts, targets.source, targets.problems)
