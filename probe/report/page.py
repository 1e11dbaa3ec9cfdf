"""The report as one self-contained HTML page: inline CSS and SVG, no script, nothing fetched.

The markup is also well-formed XML (every element closed, every attribute quoted), so that it
survives copying into other tools and can be checked by a parser.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from html import escape
from pathlib import Path

from probe.analysis import kinds, times
from probe.analysis.windows import Window
from probe.report import regional_page, svg
from probe.report.build import ChainRow, ReportData, ReportQuery, gather
from probe.report.in_short import extent_words, network_target, regional_lines
from probe.report.words import BASIS_WORDS, VERIFY_HTML, blocking_words, kind_words, method_html
from probe.storage.connection import Connection

CSS = """
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #1a1a1a; margin: 0; background: #fff; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 34px 0 10px; border-bottom: 2px solid #e4e4e4; padding-bottom: 4px; }
p, li { line-height: 1.5; font-size: 15px; }
.sub { color: #555; margin: 0 0 18px; }
.chart { width: 100%; height: auto; display: block; margin: 6px 0 4px; }
.chart text { fill: #222; font-family: inherit; }
.chart .grid { stroke: #d8d8d8; stroke-width: 1; }
.chart .share { fill: none; stroke: #0072B2; stroke-width: 2; }
.chart .point { fill: #0072B2; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 8px 0; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 5px 6px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; white-space: nowrap; }
td.when { white-space: nowrap; font-variant-numeric: tabular-nums; }
code, .hash { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; word-break: break-all; }
.legend { font-size: 13px; margin: 4px 0; }
.key { display: inline-block; margin-right: 12px; white-space: nowrap; }
.key svg { vertical-align: -1px; }
.ok { color: #006b4f; }
.bad { color: #b14500; font-weight: bold; }
.where { color: #666; font-size: 12px; }
.badge { display: inline-block; padding: 1px 6px; border-radius: 3px; color: #fff; font-size: 12px; }
footer { color: #666; font-size: 12px; margin-top: 40px; }
@media print { main { max-width: none; } h2 { break-after: avoid; } svg { break-inside: avoid; } }
"""


def _between(low: str | None, high: str | None, ongoing_text: str = "ongoing") -> str:
    if high is None:
        return ongoing_text
    if low is None:
        return f"by {times.short(high)}"
    return f"{times.short(low)}<br/>and {times.short(high)}"


def _badge(kind: str) -> str:
    color = svg.KIND_COLORS.get(kind, "#555")
    text = "#111" if kind in (kinds.DEGRADED, kinds.SITE_DOWN) else "#fff"
    return f'<span class="badge" style="background:{color};color:{text}">{escape(kind_words(kind))}</span>'


def _network_line(window: Window) -> str:
    """One window for "In short": what, where, how, when, how sure; and how far it reached, where places tell."""
    how = blocking_words(window.blocking, None)
    where = f" in {escape(window.network)}" if window.network else ""
    ended = "and is still ongoing" if window.ongoing else f"until about {times.short(window.end_min)}"
    via = f", by {escape(how)}" if how else ""
    reach = extent_words(window)
    return (
        f"<strong>{escape(network_target(window))}</strong>{where}: {escape(kind_words(window.kind).lower())}{via}, "
        f"from about {times.short(window.start_max)} {ended} ({window.confidence_label} confidence)"
        + (f"; {escape(reach)}." if reach else ".")
    )


def summary(data: ReportData) -> str:
    """The period in a few lines. On a collector whose probes declared places, the regional windows lead (what was
    cut, where, when) and each window per network says how far it reached."""
    windows = data.windows
    networks = sorted({probe.network for probe in data.probes if probe.network})
    measured = sum(sum(counts.values()) for bins in data.timeline.networks.values() for counts in bins)
    lines = [
        f"{measured:,} measurements by {len({p.probe for p in data.probes})} probe(s) in "
        f"{len(networks)} network(s) ({escape(', '.join(networks)) or 'unknown'})."
    ]
    if data.regional is not None:
        lines.append(f"By area and district (the map below): {escape(regional_page.summary(data.regional))}")
        lines += regional_lines(data.regional)
    per = " per network" if data.regional is not None else ""
    if not windows:
        lines.append(f"No outage window{per} was found in this period.")
    else:
        counts = Counter(window.kind for window in windows)
        listed = ", ".join(f"{count} × {escape(kind_words(kind).lower())}" for kind, count in counts.most_common())
        lines.append(f"{len(windows)} outage window(s){per}: {listed}.")
        lines += [_network_line(window) for window in sorted(windows, key=lambda w: -w.severity)[:5]]
    return "<ul>" + "".join(f"<li>{line}</li>" for line in lines) + "</ul>"


def windows_table(windows: Sequence[Window]) -> str:
    if not windows:
        return "<p>No outage window: no target and no network went wrong for long enough to open one.</p>"
    rows = []
    for window in windows:
        where = " ".join(part for part in (window.network, window.region) if part)
        reach = f'<br/><span class="where">{escape(extent_words(window))}</span>' if extent_words(window) else ""
        rows.append(
            "<tr>"
            f'<td>{escape(network_target(window))}<br/><span class="where">{escape(where)}</span>{reach}</td>'
            f"<td>{_badge(window.kind)}</td>"
            f"<td>{escape(blocking_words(window.blocking, window.blocking_detail))}</td>"
            f'<td class="when">{_between(window.start_min, window.start_max)}</td>'
            f'<td class="when">{_between(window.end_min, window.end_max)}</td>'
            f'<td class="num">{window.failing} bad of {window.measurements}<br/>'
            f"{window.probes} of {window.probes_total} probe(s)</td>"
            f"<td>{escape(window.confidence_label)} ({window.confidence:.2f})<br/>"
            f'<span class="where">{escape(BASIS_WORDS.get(window.basis, window.basis))}</span></td>'
            f'<td class="num">{window.severity:g}</td>'
            "</tr>"
        )
    head = (
        "<tr><th>What</th><th>Kind</th><th>How</th><th>Started between</th><th>Ended between</th>"
        "<th>Evidence</th><th>Confidence</th><th>Severity</th></tr>"
    )
    return f'<table id="windows">{head}{"".join(rows)}</table>'


def probes_table(data: ReportData) -> str:
    if not data.probes:
        return "<p>No probe measured in this period.</p>"
    rows = "".join(
        "<tr>"
        f'<td><span class="hash">{escape(probe.probe[:16] or "?")}</span> {escape(probe.name)}</td>'
        f"<td>{escape(probe.network)}</td><td>{escape(probe.region)}</td>"
        f'<td class="num">{probe.runs:,}</td><td class="num">{probe.measurements:,}</td>'
        f'<td class="when">{times.short(probe.first)}</td><td class="when">{times.short(probe.last)}</td>'
        "</tr>"
        for probe in data.probes
    )
    head = (
        "<tr><th>Probe</th><th>Network (ASN)</th><th>Region</th><th>Rounds</th><th>Measurements</th>"
        "<th>First</th><th>Last</th></tr>"
    )
    return f'<table id="probes">{head}{rows}</table>'


def _chain_row(chain: ChainRow) -> str:
    signed = escape(chain.signed_hash or "none")
    if chain.signed_at:
        signed += f"<br/>record {chain.last_signed}, signed {times.short(chain.signed_at)}"
    return (
        "<tr>"
        f'<td><span class="hash">{escape(chain.probe[:16] or "this probe")}</span></td>'
        f'<td class="num">{chain.records:,}</td>'
        f'<td class="num">{chain.first_seq or ""}–{chain.last_seq or ""}</td>'
        f'<td><span class="hash">{escape(chain.head_hash or "")}</span></td>'
        f'<td><span class="hash">{signed}</span></td>'
        f"<td>{escape(chain.problem or 'ok')}</td>"
        "</tr>"
    )


def verification_html(data: ReportData) -> str:
    if data.verification is None:
        return "<p>Not checked for this report (run <code>probe verify</code> on the database).</p>"
    result = data.verification
    status = (
        f'<p class="ok"><strong>Verified</strong>: {result.records:,} measurements in {len(result.chains)} chain(s), '
        "none altered, missing or reordered.</p>"
        if result.ok
        else '<p class="bad">NOT verified: the data was changed after it was recorded (details below).</p>'
    )
    rows = "".join(_chain_row(chain) for chain in data.chains)
    problems = "".join(f"<li>{escape(str(problem))}</li>" for problem in result.problems)
    table = (
        '<table id="chains"><tr><th>Probe</th><th>Records</th><th>Sequence</th><th>Hash of the last record</th>'
        f"<th>Last signed head</th><th>Check</th></tr>{rows}</table>"
    )
    return f"{VERIFY_HTML}{status}{table}{'<ul>' + problems + '</ul>' if problems else ''}"


def render(data: ReportData) -> str:
    axis = svg.Axis(data.since, data.until)
    targets, hidden = svg.targets_chart(data.timeline, data.windows, axis)
    more = f"<p>{hidden} more target(s) not drawn; they are in the table below.</p>" if hidden else ""
    title = data.title or "Internet blocking and outages"
    period = f"{times.short(data.since)} to {times.short(data.until)}"
    size = data.timeline.bin
    bin_text = f"each column is {size:,} seconds" if size < 3600 else f"each column is {size / 3600:g} hour(s)"
    partial = " (a window of some of a network's probes only, as the areas and districts tell: that share of the band)"
    partial = partial if data.regional else ""
    return f"""<!DOCTYPE html>
<html lang="en" xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<meta name="generator" content="zhanaozen-probe {escape(data.version)}"/>
<title>{escape(title)}: {escape(period)}</title>
<style>{CSS}{regional_page.CSS if data.regional else ""}</style>
</head>
<body>
<main>
<h1>{escape(title)}</h1>
<p class="sub">{escape(period)} (UTC) · made {escape(times.short(data.generated_at))} from {escape(data.source)}</p>
<h2 id="summary">In short</h2>
{summary(data)}
{regional_page.section(data.regional, axis) if data.regional else ""}
<h2 id="network">The networks over time</h2>
<p>For each network, the share of measured sites that could be reached ({escape(bin_text)}); shaded: whole-network
windows{escape(partial)}.</p>
{svg.network_chart(data.timeline, data.windows, axis)}
<h2 id="targets">Each target over time</h2>
<p>One strip per site or service; under it, its windows.</p>
{svg.legend()}
{targets}
{more}
<h2 id="windows-title">Outage windows</h2>
{windows_table(data.windows)}
<h2 id="method">How this was measured, in plain words</h2>
{method_html(data.hysteresis)}
<h2 id="probes-title">Probes and networks</h2>
{probes_table(data)}
<h2 id="verification">Verification</h2>
{verification_html(data)}
<footer>Made with zhanaozen-probe {escape(data.version)}. Times are UTC. This page needs nothing but a browser: it
loads no script, font or image from anywhere.</footer>
</main>
</body>
</html>
"""


def build_report(conn: Connection, query: ReportQuery, db_path: Path | str | None = None) -> str:
    """The report's HTML (``db_path``: the database file, to verify its chains and name it; or a
    PostgreSQL database's label, its chains verified on ``conn``)."""
    return render(gather(conn, query, db_path))
