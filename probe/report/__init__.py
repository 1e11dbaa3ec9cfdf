"""Reports: one self-contained HTML page about a period, for readers who are not engineers.

    build   what a report shows, read from the database (windows, timeline, probes, verification)
    svg     the charts: each network's reachability, each target's status strip, windows with bounds
    words   kinds, methods and statuses in plain language; the method for a lay reader
    page    the page: inline CSS and SVG, no script, nothing loaded from anywhere

``build_report(conn, query, db_path)`` returns the page; ``probe report`` writes it to a file.
"""

from __future__ import annotations

from pathlib import Path

from probe.report.build import ReportQuery, gather
from probe.report.page import render
from probe.storage.connection import Connection


def build_report(conn: Connection, query: ReportQuery, db_path: Path | str | None = None) -> str:
    """The report's HTML (``db_path``: the database file, to verify its chains and name it; or a
    PostgreSQL database's label, its chains verified on ``conn``)."""
    return render(gather(conn, query, db_path))


__all__ = ["ReportQuery", "build_report"]
