"""``probe report``: a self-contained HTML page with the charts, the windows, the method and the verification.

The page is checked as text (nothing external, well-formed, the windows and hashes in it) and, where
Chromium is installed, rendered headless (a file:// URL only, in a network namespace of its own when
root) and its screenshot's pixels and DOM checked for the charts.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.unattended import fill, probe_identity
from test_outages import GULJAN, RIDUS, TWITTER, Series, t

from probe.analysis import Hysteresis
from probe.cli.main import cli
from probe.integrity.heads import sign_local_head
from probe.report.build import ReportQuery
from probe.report.page import build_report
from probe.report.svg import STATUS_COLORS
from probe.storage import open_database

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
RENDER_TIMEOUT = 60.0


def timeline_db(path: Path | None = None) -> Series:
    """A block of twitter.com, then a shutdown, then ridus.ru down everywhere."""
    series = Series(open_database(path or ":memory:"))
    series.rounds(
        {
            TWITTER: "oooo dddodd nnnnn oooooo",
            GULJAN: "oooo oooooo nnnnn oooooo",
            RIDUS: "oooo oooooo nnnnn ooxxxo",
            "network": "oooo oooooo sssss oooooo",
        }
    )
    return series


def xml_body(page: str) -> ET.Element:
    assert page.startswith("<!DOCTYPE html>\n")
    return ET.fromstring(page.split("\n", 1)[1])


def test_report_is_self_contained_and_well_formed() -> None:
    assert_self_contained(build_report(timeline_db().db.db.conn, ReportQuery()))


def assert_self_contained(page: str) -> None:
    """Well-formed, and nothing in it that runs or fetches: no script, no link, no image, no URL in a style."""
    root = xml_body(page)  # every element closed, every attribute quoted
    assert root.tag == "{http://www.w3.org/1999/xhtml}html"
    fetching = {"src", "href", "srcset", "poster", "action", "{http://www.w3.org/1999/xlink}href"}
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        assert tag not in ("script", "link", "img", "iframe", "object", "embed", "image", "use"), tag
        assert not fetching & set(element.attrib), (tag, element.attrib)
        assert "url(" not in element.get("style", ""), element.attrib
    style = "".join(element.text or "" for element in root.iter("{http://www.w3.org/1999/xhtml}style"))
    assert "url(" not in style and "@import" not in style and "@font-face" not in style


def test_report_shows_the_windows_charts_and_method() -> None:
    page = build_report(timeline_db().db.db.conn, ReportQuery(title="Zhanaozen, test period"))
    root = xml_body(page)
    ns = {"h": "http://www.w3.org/1999/xhtml", "s": "http://www.w3.org/2000/svg"}
    charts = {svg.get("id") for svg in root.iter("{http://www.w3.org/2000/svg}svg")}
    assert {"chart-network", "chart-targets"} <= charts
    strips = [g.get("data-target") for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "strip"]
    assert strips == [RIDUS, TWITTER, GULJAN]  # targets with windows first
    rows = root.findall(".//h:table[@id='windows']/h:tr", ns)[1:]
    cells = ["".join(row.itertext()) for row in rows]
    assert len(cells) == 3
    assert "http://twitter.com/" in cells[0] and "Blocked (this target only)" in cells[0] and "DNS" in cells[0]
    assert "the whole network" in cells[1] and "Network shutdown" in cells[1]
    assert "Down everywhere" in cells[2] and "ongoing" in cells[2]
    # Bounds are shown as "between" two times.
    assert "2026-11-21 00:30:01Z" in cells[0] and "and 2026-11-21 00:40:01Z" in cells[0]
    text = " ".join("".join(root.itertext()).split())
    assert "Zhanaozen, test period" in text
    assert "after 2 rounds in a row went wrong" in text and "probe verify" in text
    assert "Not checked for this report" in text  # no database file: nothing to verify


def test_report_method_follows_the_hysteresis_asked_for() -> None:
    page = build_report(timeline_db().db.db.conn, ReportQuery(hysteresis=Hysteresis(3, 4)))
    assert "after 3 rounds in a row went wrong, and closes after 4 rounds in a row went right" in " ".join(page.split())


def test_report_of_a_period_without_data_is_refused() -> None:
    from probe.errors import ProbeError

    series = timeline_db()
    with pytest.raises(ProbeError, match="empty"):
        build_report(series.db.db.conn, ReportQuery(since=t(5), until=t(4)))
    with pytest.raises(ProbeError, match="no measurements"):
        build_report(open_database(":memory:").db.conn, ReportQuery())


def test_report_verification_shows_the_chain_hashes(tmp_path: Path) -> None:
    path = tmp_path / "probe.db"
    db = open_database(path)
    fill(db, 3)
    identity = probe_identity(db)
    sign_local_head(db, identity)
    head = db.db.execute("select chain_hash from measurements where chain_seq = 3").fetchone()[0]
    page = build_report(db.db.conn, ReportQuery(), path)
    assert "Verified" in page and "3 measurements in 1 chain(s)" in page
    assert page.count(head) == 2  # the last record's hash, and the signed head's
    db.db.execute("update measurements set failure = 'forged' where chain_seq = 2")
    db.db.conn.commit()
    tampered = build_report(db.db.conn, ReportQuery(), path)
    assert "NOT verified" in tampered and "ALTERED: record 2" in tampered
    db.close()


def test_report_command_writes_the_page(tmp_path: Path) -> None:
    path = tmp_path / "probe.db"
    timeline_db(path).db.close()
    out = tmp_path / "report.html"
    args = ["report", "--db", str(path), "--since", "2026-11-21", "--until", "2026-11-21", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    xml_body(page)
    assert 'id="chart-targets"' in page and "NOT verified" in page  # synthetic rows are not chained
    assert not list(tmp_path.glob(".report.html.*"))


# --- in a browser ----------------------------------------------------------------------------------


def chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def render(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Chromium on ``page`` alone; in a network namespace with no interface at all when we can make one."""
    exe = chromium()
    assert exe is not None
    argv = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()]
    if os.geteuid() == 0 and shutil.which("unshare"):
        argv = ["unshare", "--net", *argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=RENDER_TIMEOUT, check=False)


def png_pixels(data: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """Decode an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium's screenshots are)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat = 8, b""
    width = height = channels = 0
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    pixels: list[tuple[int, int, int]] = []
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + predictor) & 0xFF
        pixels += [tuple(line[i : i + 3]) for i in range(0, stride, channels)]  # type: ignore[misc]
        previous = line
    return width, height, pixels


def rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def screenshot_colors(page: Path, tmp_path: Path, size: tuple[int, int]) -> tuple[Counter[tuple[int, int, int]], int]:
    """How many pixels of each colour a screenshot of ``page`` at ``size`` has, and how many in all."""
    shot = tmp_path / f"{page.stem}.png"
    done = render(page, tmp_path / "profile-shot", f"--screenshot={shot}", f"--window-size={size[0]},{size[1]}")
    assert shot.exists(), done.stderr[-2000:]
    width, height, pixels = png_pixels(shot.read_bytes())
    assert (width, height) == size
    return Counter(pixels), len(pixels)


def test_report_renders_with_its_charts_in_headless_chromium(tmp_path: Path) -> None:
    if chromium() is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium): the page is not rendered")
    page = tmp_path / "report.html"
    page.write_text(build_report(timeline_db().db.db.conn, ReportQuery()), encoding="utf-8")
    counts, pixels = screenshot_colors(page, tmp_path, (1100, 1200))
    # The strips and bars are drawn: reached (green), blocked (vermilion), network down (near black).
    for status in ("ok", "blocked", "network_down", "site_down"):
        assert counts[rgb(STATUS_COLORS[status])] > 200, status
    assert counts[(255, 255, 255)] < pixels * 0.9  # not a blank page
    dom = render(page, tmp_path / "profile-dom", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'id="chart-network"' in dom.stdout and 'id="chart-targets"' in dom.stdout
    assert dom.stdout.count('class="strip"') == 3
    assert dom.stdout.count('class="window"') >= 3
