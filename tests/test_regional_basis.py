"""What regional detection's confidence and groups rest on: the chance of failing together, and where a probe is."""

from __future__ import annotations

import dataclasses
import math

from support.regional import Fleet, at

from probe.analysis.regional import Batch, Declaration, detect
from probe.analysis.regional.chance import tail
from probe.analysis.regional.query import usual_bin


def test_the_chance_of_failing_together_is_the_poisson_binomial_tail() -> None:
    assert tail([0.5, 0.5], 2) == 0.25
    assert math.isclose(tail([0.1, 0.2, 0.3], 1), 1 - 0.9 * 0.8 * 0.7)
    assert math.isclose(tail([0.1] * 5, 3), sum(math.comb(5, k) * 0.1**k * 0.9 ** (5 - k) for k in (3, 4, 5)))
    assert tail([0.3], 0) == 1.0 and tail([0.3], 2) == 0.0


def test_a_probe_that_moved_counts_where_its_run_declared_it() -> None:
    fleet = Fleet()
    zhanaozen = fleet.district("KZ-47", "Zhanaozen", fixed=2, mobile=0)
    fleet.district("KZ-47", "Aktau", fixed=3, mobile=3)
    fleet.district("KZ-75", "Almaty", fixed=3, mobile=3)
    fleet.happen([*zhanaozen, "Aktau-f0"], "network_down", 10, 14)
    moved = [
        dataclasses.replace(batch, declaration=dataclasses.replace(batch.declaration, district="Zhanaozen"))
        if batch.probe == "Aktau-f0" and batch.covers_to > at(6)
        else batch
        for batch in fleet.batches(24)
    ]
    [cut] = [w for w in detect(moved, at(24)) if w.kind.endswith("shutdown")]
    assert (cut.district, cut.probes) == ("Zhanaozen", ("Aktau-f0", *zhanaozen))
    without_move: list[Batch] = fleet.batches(24)
    assert {w.kind for w in detect(without_move, at(24))} == {"probe_dark", "too_few_probes"}


def test_the_usual_bin_is_the_median_of_the_probes_round_intervals_at_most_ten_minutes() -> None:
    fleet = Fleet()
    for name in ("a", "b", "c"):
        fleet.add(name, "KZ-47")
    hourly = [dataclasses.replace(b, declaration=_every(b.declaration, 3600.0)) for b in fleet.batches(4)]
    assert usual_bin(hourly) == 600.0 and usual_bin([]) == 600.0
    fast = [dataclasses.replace(b, declaration=_every(b.declaration, 6.0)) for b in hourly if b.probe != "c"]
    assert usual_bin([*fast, *(b for b in hourly if b.probe == "c")]) == 6.0


def _every(declaration: Declaration, seconds: float) -> Declaration:
    schedule = dataclasses.replace(declaration.schedule, round_interval=seconds)
    return dataclasses.replace(declaration, schedule=schedule)
