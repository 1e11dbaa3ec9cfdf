# ruff: noqa: F811  (pytest fixtures imported from other test modules are parameters here)
"""``probe report`` on a collector whose probes declared their places: the map of Kazakhstan's subdivisions shaded
by the regional windows, over the whole period and over time, the per-area timeline, the table (issue 21).

The collector is filled as tests/test_regional_collector.py fills it (twelve probes' rounds uploaded over
loopback): Zhanaozen (KZ-47) cut off in hours 4-7, KZ-47's mobile probes cut in hours 8-10, a laptop in Almaty
(KZ-75) off in hours 5-8. The page is checked as XML and rendered in headless Chromium.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.pgcluster import pg_cluster, pg_url  # noqa: F401  (fixtures)
from support.regional_live import gone_silent
from test_regional_collector import World, postgres_collector, sqlite_collector, world  # noqa: F401  (fixture)
from test_report import assert_self_contained, chromium, render, rgb, screenshot_colors, timeline_db, xml_body

from probe.analysis import times
from probe.analysis.regional import RegionalWindow
from probe.cli.main import cli
from probe.collector.service import running_collector
from probe.report import boundaries
from probe.report.build import ReportData, ReportQuery, gather
from probe.report.page import build_report
from probe.report.page import render as render_page
from probe.report.regional import Place, Regional
from probe.report.regional_map import STATE_COLORS
from probe.report.regional_page import section
from probe.report.svg import Axis
from probe.storage.store import open_store

SVG = "{http://www.w3.org/2000/svg}"
HTML = "{http://www.w3.org/1999/xhtml}"
KZ_AREAS = {
    f"KZ-{n}" for n in (10, 11, 15, 19, 23, 27, 31, 33, 35, 39, 43, 47, 55, 59, 61, 62, 63, 71, 75, 79)
}  # ISO 3166-2:KZ since 2020 and 2022, as pycountry has them


@pytest.fixture(scope="module")
def collector(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("collector") / "collector.db"
    sqlite_collector(world, path)
    return path


@pytest.fixture(scope="module")
def report(collector: Path) -> Iterator[tuple[ReportData, str]]:
    db = open_store(collector, read_only_ok=True)
    try:
        data = gather(db.conn, ReportQuery(verify=False))
        yield data, render_page(data)
    finally:
        db.close()


def svg_by_id(root: ET.Element, ident: str) -> ET.Element:
    [found] = [svg for svg in root.iter(f"{SVG}svg") if svg.get("id") == ident]
    return found


def area_states(svg: ET.Element) -> dict[str, str]:
    states: dict[str, set[str]] = {}
    for group in svg.iter(f"{SVG}g"):
        if group.get("class") == "area":
            states.setdefault(group.get("data-area", ""), set()).add(group.get("data-state", ""))
    assert all(len(found) == 1 for found in states.values()), states  # an outline and its symbol agree
    return {area: found.pop() for area, found in states.items()}


def test_the_shipped_map_has_every_subdivision_of_kazakhstan_and_is_small() -> None:
    boundary = boundaries.load("KZ")
    assert boundary is not None and set(boundary.areas) == KZ_AREAS
    assert "Natural Earth" in boundary.source and "public domain" in boundary.source
    drawn = {code for code, area in boundary.areas.items() if area.rings}
    assert {"KZ-10", "KZ-33", "KZ-62", "KZ-79"}.isdisjoint(drawn)  # formed after the edition: symbols
    assert {code for code, area in boundary.areas.items() if area.symbol} >= {"KZ-10", "KZ-33", "KZ-62", "KZ-79"}
    assert boundary.areas["KZ-10"].within == "KZ-63" and boundary.areas["KZ-10"].centre == "Semey"
    assert len(drawn) == 16
    shipped = Path(boundaries.__file__).parent / "maps" / "KZ.json"
    assert shipped.stat().st_size < 40_000
    assert boundaries.load("UZ") is None and boundaries.load("../x") is None


def test_a_collectors_report_shades_the_cut_area_and_leaves_the_working_ones_and_the_laptop_unshaded(
    report: tuple[ReportData, str],
) -> None:
    data, page = report
    assert data.regional is not None
    assert_self_contained(page)
    root = xml_body(page)
    states = area_states(svg_by_id(root, "map-KZ"))
    assert set(states) == KZ_AREAS
    assert states["KZ-47"] == "district"  # Zhanaozen cut off: a district of Mangystau (and its mobile cut after)
    assert states["KZ-75"] == "up"  # Almaty's probes worked; its laptop off is no shutdown
    assert {state for area, state in states.items() if area not in ("KZ-47", "KZ-75")} == {"none"}
    paths = [
        element
        for group in svg_by_id(root, "map-KZ").iter(f"{SVG}g")
        if group.get("data-area") == "KZ-47"
        for element in group.iter(f"{SVG}path")
    ]
    assert paths and paths[0].get("fill") == STATE_COLORS["district"]
    labels = {label.text: label.findtext(f"{SVG}tspan") for label in svg_by_id(root, "map-KZ").iter(f"{SVG}text")}
    assert labels["Mangystau"] == "7 probe(s)" and labels["Almaty"] == "5 probe(s)" and labels["Aktobe"] is None
    assert "Natural Earth" in "".join(root.itertext())


def test_the_small_multiples_show_the_district_cut_then_the_mobile_cut_then_neither(
    world: World, report: tuple[ReportData, str]
) -> None:
    data, page = report
    root = xml_body(page)
    panels = [svg for svg in root.iter(f"{SVG}svg") if (svg.get("id") or "").startswith("map-KZ-")]
    assert len(panels) == 8
    start, end = times.seconds(data.since), times.seconds(data.until)
    step = (end - start) / 8
    for number, panel in enumerate(panels):
        middle = start + (number + 0.5) * step
        expected = (
            "district"
            if world.hour(4) < middle < world.hour(7)
            else "mobile"
            if world.hour(8) < middle < world.hour(10)
            else None
        )
        if expected is not None:
            assert area_states(panel)["KZ-47"] == expected, number
    assert area_states(panels[0])["KZ-47"] == "up" and area_states(panels[-1])["KZ-47"] == "up"
    captions = [figure.findtext(f"{HTML}figcaption") for figure in root.iter(f"{HTML}figure")]
    assert len(captions) == 8 and all(caption and "–" in caption for caption in captions)


def test_the_timeline_has_a_row_per_area_and_district_with_the_windows_as_bars_where_they_were(
    world: World, report: tuple[ReportData, str]
) -> None:
    data, page = report
    timeline = svg_by_id(xml_body(page), "timeline-KZ")
    rows = [g for g in timeline.iter(f"{SVG}g") if g.get("class") == "row"]
    assert [row.get("data-row") for row in rows] == ["KZ-47", "KZ-47/Aktau", "KZ-47/Zhanaozen", "KZ-75", "KZ-75/Almaty"]
    bars = {row.get("data-row"): [bar for bar in row.iter(f"{SVG}g") if bar.get("class") == "bar"] for row in rows}
    kinds = {key: [bar.get("data-kind") for bar in found] for key, found in bars.items()}
    assert kinds == {
        "KZ-47": ["mobile_shutdown"],
        "KZ-47/Aktau": [],
        "KZ-47/Zhanaozen": ["regional_shutdown"],
        "KZ-75": [],
        "KZ-75/Almaty": ["device_off"],
    }
    [cut] = bars["KZ-47/Zhanaozen"]
    tip = cut.findtext(f"{SVG}title") or ""
    assert "3 of 3 probe(s)" in tip and "chance of that many failing together" in tip and "provisional" not in tip
    assert cut.get("data-provisional") == "false"
    [sure] = [rect for rect in cut.iter(f"{SVG}rect") if rect.get("class") == "sure"]
    axis = Axis(data.since, data.until)
    per_round = axis.x(axis.start + 600) - axis.x(axis.start)
    left, width = float(sure.get("x", "0")), float(sure.get("width", "0"))
    assert abs(left - axis.x(world.hour(4))) <= per_round + 1
    assert abs(left + width - axis.x(world.hour(7))) <= 2 * per_round + 1
    rows_text = ["".join(row.itertext()) for row in xml_body(page).iter(f"{HTML}tr")]
    assert sum("Regional shutdown" in text and "Zhanaozen" in text for text in rows_text) == 1


def test_a_postgres_collector_gives_the_same_regional_section_as_a_sqlite_one(
    world: World, report: tuple[ReportData, str], pg_url: str
) -> None:
    data, _ = report
    postgres_collector(world, pg_url)
    db = open_store(pg_url, read_only_ok=True)
    try:
        found = gather(db.conn, ReportQuery(since=data.since, until=data.until, verify=False))
    finally:
        db.close()
    assert data.regional is not None and found.regional is not None
    assert [w.to_dict() for w in found.regional.windows] == [w.to_dict() for w in data.regional.windows]
    assert found.regional.probes == data.regional.probes
    axis = Axis(data.since, data.until)
    assert section(found.regional, axis) == section(data.regional, axis)


def report_of(path: Path) -> ET.Element:
    db = open_store(path, read_only_ok=True)
    try:
        return xml_body(build_report(db.conn, ReportQuery(verify=False)))
    finally:
        db.close()


def bars_by_row(root: ET.Element) -> dict[str, list[tuple[str, str]]]:
    """Row -> its bars' (kind, provisional)."""
    rows = [g for g in svg_by_id(root, "timeline-KZ").iter(f"{SVG}g") if g.get("class") == "row"]
    return {
        row.get("data-row", ""): [
            (bar.get("data-kind", ""), bar.get("data-provisional", ""))
            for bar in row.iter(f"{SVG}g")
            if bar.get("class") == "bar"
        ]
        for row in rows
    }


def test_districts_silent_together_are_hatched_until_their_late_batches_confirm_one_cut_and_drop_the_other(
    tmp_path: Path,
) -> None:
    """tests/support/regional_live.py's fleet: Zhanaozen's and Beineu's probes stop uploading together 90 minutes
    ago; Zhanaozen's late batches then show its network down, Beineu's that it worked all along."""
    path, fleet = gone_silent(tmp_path)
    live = report_of(path)
    [mangystau] = [
        g for g in svg_by_id(live, "map-KZ").iter(f"{SVG}g") if g.get("data-area") == "KZ-47" and g.find(f"{SVG}path")
    ]
    assert (mangystau.get("data-state"), mangystau.get("data-provisional")) == ("district", "true")
    assert [path.get("class") for path in mangystau.iter(f"{SVG}path")] == [None, "provisional"]
    bars = bars_by_row(live)
    assert bars["KZ-47/Zhanaozen"] == bars["KZ-47/Beineu"] == [("regional_shutdown", "true")]
    assert bars["KZ-47/Aktau"] == [] and area_states(svg_by_id(live, "map-KZ"))["KZ-75"] == "up"
    with running_collector(path) as server:
        fleet.upload(server, "late")
    later = report_of(path)
    bars = bars_by_row(later)
    assert bars["KZ-47/Zhanaozen"] == [("regional_shutdown", "false")] and bars["KZ-47/Beineu"] == []
    assert [kind for kind, _ in bars["KZ-75/Almaty"]] == ["device_off"]  # the laptop: off, then rebooted
    assert area_states(svg_by_id(later, "map-KZ"))["KZ-47"] == "district"
    assert 'data-provisional="true"' not in ET.tostring(svg_by_id(later, "map-KZ"), encoding="unicode")


def test_a_probes_own_database_has_no_regional_section() -> None:
    page = build_report(timeline_db().db.db.conn, ReportQuery())
    assert 'id="regional"' not in page and "map-KZ" not in page


def regional_window(kind: str, country: str, area: str, *, provisional: bool, start: float) -> RegionalWindow:
    return RegionalWindow(
        kind, "area", country, area, "", "", start, start - 300, start, None, start + 3000, None,
        ("p1", "p2", "p3"), 3, provisional, 0.99, "3 of 3 probes silent",
    )  # fmt: skip


def test_provisional_is_hatched_an_international_cut_has_its_shade_and_a_country_without_a_map_has_a_timeline() -> None:
    since, until = "2026-11-21T00:00:00.000000Z", "2026-11-21T06:00:00.000000Z"
    base = times.seconds(since)
    windows = [
        regional_window("regional_shutdown", "KZ", "KZ-47", provisional=True, start=base + 3600),
        regional_window("regional_shutdown", "UZ", "UZ-AN", provisional=False, start=base + 7200),
        regional_window("international_cut", "KZ", "KZ-75", provisional=False, start=base + 7200),
    ]
    regional = Regional(since, until, windows)
    for place in (Place("KZ", "KZ-47", ""), Place("KZ", "KZ-75", ""), Place("UZ", "UZ-AN", "")):
        regional.probes[place] = {"p1": "fixed", "p2": "fixed", "p3": "mobile"}
    html = section(regional, Axis(since, until))
    root = ET.fromstring(f'<div xmlns="http://www.w3.org/1999/xhtml">{html}</div>')
    states = area_states(svg_by_id(root, "map-KZ"))
    assert (states["KZ-47"], states["KZ-75"], states["KZ-11"]) == ("cut", "abroad", "none")
    hatched = [g.get("data-area") for g in root.iter(f"{SVG}g") if g.get("data-provisional") == "true"]
    assert "KZ-47" in hatched
    assert any(path.get("class") == "provisional" for path in svg_by_id(root, "map-KZ").iter(f"{SVG}path"))
    assert svg_by_id(root, "timeline-UZ") is not None
    assert not [svg for svg in root.iter(f"{SVG}svg") if svg.get("id") == "map-UZ"]
    text = " ".join("".join(root.itertext()).split())
    assert "No map: no boundary file of Uzbekistan's subdivisions ships" in text
    bars = [g for g in svg_by_id(root, "timeline-KZ").iter(f"{SVG}g") if g.get("class") == "bar"]
    assert [(bar.get("data-kind"), bar.get("data-provisional")) for bar in bars] == [
        ("regional_shutdown", "true"),
        ("international_cut", "false"),
    ]
    assert "provisional" in (bars[0].findtext(f"{SVG}title") or "")


def test_a_national_shutdown_darkens_every_subdivision_and_has_the_countrys_row_on_top() -> None:
    since, until = "2026-11-21T00:00:00.000000Z", "2026-11-21T06:00:00.000000Z"
    national = regional_window("national_shutdown", "KZ", "", provisional=False, start=times.seconds(since) + 3600)
    regional = Regional(since, until, [replace(national, scope="country")])
    regional.probes[Place("KZ", "", "")] = {"p1": "fixed", "p2": "mobile"}
    regional.probes[Place("KZ", "KZ-47", "")] = {"p1": "fixed", "p2": "mobile"}
    root = ET.fromstring(f'<div xmlns="http://www.w3.org/1999/xhtml">{section(regional, Axis(since, until))}</div>')
    assert set(area_states(svg_by_id(root, "map-KZ")).values()) == {"cut"}
    rows = bars_by_row(root)
    assert list(rows) == ["KZ", "KZ-47"] and rows["KZ"] == [("national_shutdown", "false")] and rows["KZ-47"] == []
    assert "Kazakhstan, whole country" in "".join(svg_by_id(root, "timeline-KZ").itertext())


def test_report_command_on_a_collector_writes_the_regional_section(collector: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["report", "--db", str(collector), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    xml_body(page)
    assert 'id="map-KZ"' in page and 'id="timeline-KZ"' in page and 'id="regional-windows"' in page


# --- in a browser ----------------------------------------------------------------------------------

MEASURE = """<script>
var seen = [];
window.addEventListener("error", function (e) { seen.push("error: " + (e.message || e.target.outerHTML)); }, true);
window.addEventListener("securitypolicyviolation", function (e) { seen.push("csp: " + e.blockedURI); });
var said = console.error; console.error = function (m) { seen.push("console: " + m); said.apply(console, arguments); };
</script>"""
COLUMN = 1040.0
"""The page's column at a window 1100 pixels wide: ``main``'s max-width."""
REPORT_SIZES = """<script>
window.addEventListener("load", function () {  // after every resource: a failed load is an error event by then
  var box = function (id) {
    var r = document.getElementById(id).getBoundingClientRect(); return r.width + "x" + r.height;
  };
  var out = document.createElement("pre"); out.id = "measured";
  out.textContent = JSON.stringify({map: box("map-KZ"), panel: box("map-KZ-1"), timeline: box("timeline-KZ"),
    wide: document.documentElement.scrollWidth, errors: seen});
  document.body.appendChild(out);
});
</script>"""


def test_the_regional_report_renders_in_headless_chromium_with_its_map_at_full_width(
    report: tuple[ReportData, str], tmp_path: Path
) -> None:
    if chromium() is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium): the page is not rendered")
    import html
    import json

    _, page = report
    shown = tmp_path / "report.html"
    shown.write_text(page, encoding="utf-8")
    counts, _ = screenshot_colors(shown, tmp_path, (1100, 2100))  # "In short" names each regional window first
    assert counts[rgb(STATE_COLORS["district"])] > 3000  # Mangystau on the big map and in three panels
    assert counts[rgb(STATE_COLORS["mobile"])] > 300  # in the panels of the mobile cut, and its bar
    assert counts[rgb(STATE_COLORS["up"])] > 300
    # The same page, with a script of the test's own that records errors and measures what was laid out.
    measured = tmp_path / "measured.html"
    head, body = page.split("<head>", 1)
    measured.write_text(head + "<head>" + MEASURE + body.replace("</body>", REPORT_SIZES + "</body>"), encoding="utf-8")
    dom = render(measured, tmp_path / "profile-dom", "--dump-dom", "--window-size=1100,1700")
    assert dom.returncode == 0, dom.stderr[-2000:]
    _, found = dom.stdout.split('<pre id="measured">')
    sizes = json.loads(html.unescape(found.split("</pre>", 1)[0]))
    _, _, view_width, view_height = (
        float(part) for part in svg_by_id(xml_body(page), "map-KZ").get("viewBox", "").split()
    )
    assert sizes["errors"] == []
    map_width, map_height = (float(part) for part in sizes["map"].split("x"))
    # The column's width (main's max-width at this window), the shipped map's proportions.
    assert map_width == COLUMN and abs(map_height - COLUMN * view_height / view_width) < 1, sizes
    assert sizes["panel"].startswith("240x") and sizes["timeline"].startswith(f"{COLUMN:g}x")
    assert sizes["wide"] <= 1100  # nothing overflows the window sideways
