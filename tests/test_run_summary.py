"""The end of a run: targets grouped by verdict, and one line saying what to fix when nothing was concluded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from support.servers import http_server, page, tcp_refusing_port

from probe.cli.main import cli
from probe.report.run_summary import group_verdicts, render

HELPERS = ["http://127.0.0.1:9/"]


def row(
    target: str, verdict: str | None, *, failure: str | None = None, control_failure: str | None = None, **more: Any
) -> dict[str, Any]:
    keys = {"control_failure": control_failure}
    return {"input": target, "verdict": verdict, "failure": failure, "test_keys": json.dumps(keys), **more}


def test_targets_are_grouped_by_verdict_with_how_and_why() -> None:
    rows = [
        row("https://a.kz/", "accessible"),
        row("https://twitter.com/", "blocked", failure="connection_reset", blocking_detail="tls_reset"),
        row("http://gone.example/", "site_down", failure="dns_nxdomain_error", reason="the name does not exist"),
        row("http://b.example/", "inconclusive", failure="generic_timeout_error", reason="the control failed too"),
    ]
    groups = group_verdicts(rows, helpers=HELPERS, network_states=["ok"])
    text = render(groups)
    assert groups.advice is None
    assert "accessible: 1" in text and "blocked: 1\n  https://twitter.com/  (tls_reset)" in text
    assert "down everywhere" in text and "the name does not exist" in text
    assert "inconclusive: 1\n  http://b.example/  (the control failed too)" in text


def test_no_network_at_all_says_to_check_the_connection() -> None:
    rows = [
        row(f"http://s{i}.kz/", "inconclusive", failure="dns_lookup_error", control_failure="dns_lookup_error")
        for i in range(7)
    ]
    advice = group_verdicts(rows, helpers=HELPERS).advice
    assert advice is not None and "online" in advice


def test_no_helper_configured_says_to_set_one() -> None:
    rows = [
        row("http://a.kz/", "inconclusive", failure="connection_reset", control_failure="unknown_failure no_helper")
    ]
    advice = group_verdicts(rows, helpers=[], network_states=["ok"]).advice
    assert advice is not None and "[control] url" in advice and "no test helper is configured" in advice


def test_a_local_fault_is_one_line_saying_this_machine_is_not_connected() -> None:
    rows = [row(f"http://s{i}.kz/", "network_down", failure="network_unreachable") for i in range(3)]
    groups = group_verdicts(rows, helpers=HELPERS, network_states=["local_fault", "local_fault"])
    text = render(groups)
    assert groups.local_fault and len(text.splitlines()) == 1
    assert text.startswith("this machine is not connected") and "http://s0.kz/" not in text


def test_a_run_whose_helper_is_unreachable_ends_with_one_line_saying_so(tmp_path: Path) -> None:
    with http_server({"/": page("<title>ok</title>")}) as web, tcp_refusing_port() as shut:
        config = tmp_path / "probe.toml"
        config.write_text(
            f'[probe]\ndata_dir = "{tmp_path / "data"}"\n[dns]\nresolvers = ["udp://127.0.0.1:9"]\ntimeout = 1.0\n'
            f'[tcp]\ntimeout = 1.0\n[control]\nurl = ["http://127.0.0.1:{shut.port}/"]\nretries = 0\n',
            encoding="utf-8",
        )
        result = CliRunner().invoke(cli, ["run", "--accept", "--config", str(config), "--url", web.url("/")])
    assert result.exit_code == 0, result.output
    assert "inconclusive: 1" in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("nothing could be concluded")]
    assert len(lines) == 1 and "no test helper answered (connection_refused)" in lines[0]
