"""Issue 21's lab proof: real ``probe daemon``s, each in a network namespace of its own, behind their districts' ISP
routers, uploading to one ``probe collector serve``; the collector's regional windows as ``probe outages --by
district --format json`` prints them, live while a district is cut and once its late batches are in.

The scenario is ``probe.lab.regional_proof``'s: Zhanaozen (2 fixed, 2 mobile) cut at its ISP's router, Aktau's 2
mobile probes cut while its 2 fixed ones work, a Beineu probe's machine off (its daemon SIGKILLed, started again
later); rounds every 8 s, uploads every 4 s. The windows' bounds are held to when the cuts were applied and lifted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from probe.analysis.times import seconds
from probe.cli.main import cli
from probe.lab import regional_proof
from probe.lab.regional_proof import CUT, KILLED, MOBILE_CUT, Rows

from .labsupport import skip_reason

pytestmark = [pytest.mark.root, pytest.mark.slow, pytest.mark.timeout(900)]
"""About two minutes on a quiet machine; every wait of the scenario is bounded well within the timeout."""


def windows(db: Path) -> Rows:
    """``probe outages --by district --format json`` on the collector's database, as an analyst runs it."""
    done = CliRunner().invoke(cli, ["outages", "--by", "district", "--db", str(db), "--format", "json"])
    assert done.exit_code == 0, done.output
    found: Rows = json.loads(done.output)
    return found


def of_kind(found: Rows, kind: str) -> Rows:
    return [window for window in found if window["kind"] == kind]


def bounds(window: dict[str, Any], edge: str) -> tuple[float, float]:
    return seconds(window[f"{edge}_min"]), seconds(window[f"{edge}_max"])


def test_a_district_cut_its_neighbours_mobile_cut_and_a_machine_off_are_told_apart_live_and_after_the_uploads(
    tmp_path: Path,
) -> None:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    proof = regional_proof.run(tmp_path / "country", windows, log=print)
    (cut_from, cut_to), (lift_from, lift_to) = proof.cut, proof.lifted

    live = json.dumps(proof.live, indent=1)
    [regional] = of_kind(proof.live, "regional_shutdown")
    assert (regional["district"], regional["provisional"], regional["ongoing"]) == (CUT, True, True), live
    low, high = bounds(regional, "start")
    assert low <= cut_from and high >= cut_to, live
    assert not of_kind(proof.live, "national_shutdown"), live
    assert not [window for window in proof.live if window["district"] not in (CUT, MOBILE_CUT)], live

    final = json.dumps(proof.final, indent=1)
    print(f"live, {proof.live_after:.0f} s after the cut: {live}\nfinal: {final}")
    assert sorted(window["kind"] for window in proof.final) == [
        "device_off",
        "mobile_shutdown",
        "regional_shutdown",
    ], final
    [regional] = of_kind(proof.final, "regional_shutdown")
    assert (regional["scope"], regional["district"], regional["provisional"]) == ("district", CUT, False), final
    assert len(regional["probes"]) == 4 and regional["network_type"] == "", final
    low, high = bounds(regional, "start")
    assert low <= cut_from and high >= cut_to, final
    low, high = bounds(regional, "end")
    assert low <= lift_from and high >= lift_to, final
    [mobile] = of_kind(proof.final, "mobile_shutdown")
    assert (mobile["scope"], mobile["district"], mobile["network_type"]) == ("district", MOBILE_CUT, "mobile"), final
    assert len(mobile["probes"]) == 2 and not mobile["provisional"], final
    low, high = bounds(mobile, "start")
    assert low <= cut_from and high >= cut_to, final
    low, high = bounds(mobile, "end")
    assert low <= lift_from and high >= lift_to, final
    [off] = of_kind(proof.final, "device_off")
    assert off["probe"] == proof.probe_ids[KILLED], final
    low, high = bounds(off, "start")
    assert low <= cut_from and high >= cut_to, final
    assert seconds(off["end_max"]) >= proof.restarted, final
