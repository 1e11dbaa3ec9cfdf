"""A provisional window folded into a wider shutdown is alerted as revised (naming the wider one), not dropped.

While a cut is known from silence alone, the places whose probes upload most often show first: a country's
shutdown can first be found as one area's cut, then as the country's, which names the area's window in its
``revises`` (``probe.analysis.regional.runs``). The look is given the windows (``found``), as the alert worker
gives it what ``find_regional`` found: the detection itself is tested in tests/test_regional_provisional.py.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from probe.analysis.regional import RegionalWindow
from probe.analysis.times import iso
from probe.collector.alerts import AlertState
from probe.collector.regional_alerts import group_of, look_regional
from probe.config import AlertsSection

START = 1_765_000_000.0
HOOK = "http://127.0.0.1:9/hook"


def window(kind: str, scope: str, area: str, revises: tuple[str, ...] = ()) -> RegionalWindow:
    return RegionalWindow(
        kind=kind,
        scope=scope,
        country="KZ",
        area=area,
        district="",
        network_type="",
        start=START + 300,
        start_min=START,
        start_max=START + 600,
        end=None,
        end_min=None,
        end_max=None,
        probes=("a", "b", "c"),
        probes_total=3,
        provisional=True,
        confidence=0.99,
        basis="3 of 3 probes silent",
        revises=revises,
    )


def test_an_areas_provisional_cut_folded_into_a_national_shutdown_is_revised_into_it_not_dropped(
    tmp_path: Path,
) -> None:
    state = AlertState(tmp_path / "alerts.db")
    settings = AlertsSection(webhooks=[HOOK])
    conn = sqlite3.connect(":memory:")
    area = window("regional_shutdown", "area", "KZ-47")
    first = look_regional(conn, state, settings, now=iso(START + 1800), collector="c" * 32, found=[area])
    assert [(transition, body["kind"]) for transition, body in first] == [("opened", "regional_shutdown")]
    national = window("national_shutdown", "country", "", revises=(group_of(area),))
    second = look_regional(conn, state, settings, now=iso(START + 3600), collector="c" * 32, found=[national])
    assert sorted((transition, body["kind"]) for transition, body in second) == [
        ("opened", "national_shutdown"),
        ("revised", "regional_shutdown"),
    ]
    [revised] = [body for transition, body in second if transition == "revised"]
    assert revised["revised_into"] == group_of(national) and revised["revised_place"] == "KZ"
    assert "dropped" not in revised
    bodies = [json.loads(body) for (body,) in state.conn.execute("select body from alerts order by id")]
    assert sorted(body["transition"] for body in bodies) == ["opened", "opened", "revised"]
    assert look_regional(conn, state, settings, now=iso(START + 3700), collector="c" * 32, found=[national]) == []
    state.close()


def test_an_areas_provisional_cut_no_wider_window_names_is_still_dropped(tmp_path: Path) -> None:
    state = AlertState(tmp_path / "alerts.db")
    settings = AlertsSection(webhooks=[HOOK])
    conn = sqlite3.connect(":memory:")
    area = window("regional_shutdown", "area", "KZ-47")
    look_regional(conn, state, settings, now=iso(START + 1800), collector="c" * 32, found=[area])
    other = window("national_shutdown", "country", "", revises=("regional_shutdown|area|KZ|KZ-75|||",))
    made = look_regional(conn, state, settings, now=iso(START + 3600), collector="c" * 32, found=[other])
    assert sorted(transition for transition, _ in made) == ["dropped", "opened"]
    state.close()
