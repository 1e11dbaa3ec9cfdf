"""A run with the verdict stage, on loopback: verdicts stored, network context, re-judging, forensics."""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import context, loopback_config
from support.dnsserver import NXDOMAIN, Answer, running_dns_server
from support.servers import Exchange, blockpage, http_server, page, reset_after_hello_server, tcp_refusing_port

from probe.cli.main import cli
from probe.config import Config
from probe.experiments import get_experiment
from probe.helper.server import HelperOptions, HelperServer
from probe.runner import run_targets
from probe.stage.verdicts import VerdictStage
from probe.storage import open_database
from probe.testlist import Target

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = [str(path) for path in sorted((ROOT / "configs" / "fingerprints").glob("*.csv"))]
WEB = get_experiment("web")
TITLE_PAGE = "<html><head><title>Guljan news portal</title></head><body>news of the day</body></html>"
LOOPBACK = Answer(("127.0.0.1",))


LOOPBACK_HELPER = HelperOptions(allow_private=True, test_loopback=True)
"""The test servers are on loopback, which a real helper never measures."""


def reset(exchange: Exchange) -> None:
    exchange.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    exchange.conn.close()


def config_for(dns_spec: str, **sections: dict[str, Any]) -> Config:
    sections.setdefault("fingerprints", {"files": SHIPPED})
    return loopback_config(dns_spec, **sections)


def test_a_run_stores_a_verdict_a_reason_and_the_network_context() -> None:
    probe_records = {"guljan.test": LOOPBACK, "ridus.test": NXDOMAIN}
    helper_records = {"guljan.test": LOOPBACK, "ridus.test": LOOPBACK}
    routes = {"/": page(TITLE_PAGE), "/blocked": blockpage()}
    with running_dns_server(probe_records) as probe_dns, running_dns_server(helper_records) as helper_dns:
        with http_server(routes) as web, http_server({"/": page("<title>gov.kz</title>")}) as domestic:
            helper = HelperServer(loopback_config(helper_dns.spec()), port=0, options=LOOPBACK_HELPER)
            with helper:
                config = config_for(
                    probe_dns.spec(),
                    control={"url": helper.url, "retries": 1, "retry_delay": 0.0},
                    network={"domestic_controls": [domestic.url("/")], "gateway": ""},
                )
                inputs = (("guljan.test", "/"), ("ridus.test", "/"), ("guljan.test", "/blocked"))
                targets = [Target(f"http://{name}:{web.port}{path}") for name, path in inputs]
                db = open_database(":memory:")
                summary = run_targets(WEB, targets, config, db)
    rows = {row["input"]: row for row in db.measurement_rows(summary.run_id)}
    columns = ("verdict", "blocking", "blocking_detail", "confirmed", "network_state")
    assert {url: tuple(row[c] for c in columns) for url, row in rows.items()} == {
        f"http://guljan.test:{web.port}/": ("accessible", None, None, 0, "ok"),
        f"http://ridus.test:{web.port}/": ("blocked", "dns", "dns_nxdomain", 0, "ok"),
        f"http://guljan.test:{web.port}/blocked": (
            "blocked",
            "http-diff",
            "http_blockpage:zp.kz_blocked_marker",
            1,
            "ok",
        ),
    }
    assert all(row["reason"] for row in rows.values())
    contexts = db.network_contexts(summary.run_id)
    assert [(c["phase"], c["network_state"]) for c in contexts] == [("start", "ok"), ("end", "ok")]


def test_during_a_shutdown_a_failing_target_is_network_down_not_blocked() -> None:
    with running_dns_server({"guljan.test": LOOPBACK}) as dns, tcp_refusing_port() as shut, tcp_refusing_port() as cut:
        config = config_for(
            dns.spec(), network={"international_controls": [f"http://{cut.address}/"], "gateway": "127.0.0.1"}
        )
        db = open_database(":memory:")
        summary = run_targets(WEB, [Target(f"http://guljan.test:{shut.port}/")], config, db)
    (row,) = db.measurement_rows(summary.run_id)
    assert (row["verdict"], row["blocking"], row["network_state"]) == ("network_down", None, "shutdown")
    assert "network is down" in row["reason"]


def test_a_network_that_goes_dark_during_the_round_turns_its_blocks_into_network_down() -> None:
    with running_dns_server({"ridus.test": NXDOMAIN}) as probe_dns, running_dns_server({"ridus.test": LOOPBACK}) as hd:
        with http_server({"/": page(TITLE_PAGE)}) as web, http_server({"/": page("<title>cdn</title>")}) as cdn:
            helper = HelperServer(loopback_config(hd.spec()), port=0, options=LOOPBACK_HELPER)
            with helper:
                config = config_for(
                    probe_dns.spec(),
                    control={"url": helper.url, "retries": 0},
                    network={"international_controls": [cdn.url("/")], "gateway": ""},
                )
                db = open_database(":memory:")

                def go_dark(*_: object) -> None:
                    cdn.routes["/"] = reset  # the control fails from now on

                summary = run_targets(
                    WEB, [Target(f"http://ridus.test:{web.port}/")], config, db, on_measurement=go_dark
                )
    (row,) = db.measurement_rows(summary.run_id)
    assert (row["verdict"], row["network_state"]) == ("network_down", "shutdown")
    assert [(c["phase"], c["network_state"]) for c in db.network_contexts(summary.run_id)] == [
        ("start", "ok"),
        ("end", "shutdown"),
    ]


def test_probe_verdict_judges_a_stored_run_again(tmp_path: Path) -> None:
    with running_dns_server({"guljan.test": LOOPBACK}) as dns, http_server({"/": blockpage()}) as web:
        db_path = tmp_path / "probe.db"
        db = open_database(db_path)
        run_targets(WEB, [Target(f"http://guljan.test:{web.port}/")], loopback_config(dns.spec()), db)
        db.close()
    (before,) = open_database(db_path).measurement_rows()
    assert before["verdict"] == "inconclusive"  # no fingerprints were configured for the run
    args = ["verdict", "--db", str(db_path)] + [arg for path in SHIPPED for arg in ("--fingerprints", path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "http_blockpage:zp.kz_blocked_marker" in result.output
    (after,) = open_database(db_path).measurement_rows()
    assert (after["verdict"], after["confirmed"]) == ("blocked", 1)


def reset_measurement(server_port: int, dns_spec: str) -> Any:
    """A request reset by the site while the control fetched the page: judged ``http_reset``."""
    measurement = WEB.run(f"http://guljan.test:{server_port}/", context(loopback_config(dns_spec)))
    control = {
        "dns": {"addrs": ["127.0.0.1"], "failure": None},
        "tcp_connect": {f"127.0.0.1:{server_port}": {"status": True, "failure": None}},
        "http_request": {"status_code": 200, "body_length": 100, "title": "x", "headers": {}, "failure": None},
    }
    measurement.test_keys.control = control  # type: ignore[attr-defined]
    return measurement


@pytest.mark.skipif(os.geteuid() != 0, reason="packet capture needs root")
def test_forensics_put_the_resets_ttl_and_ip_id_next_to_the_servers_packets() -> None:
    with running_dns_server({"guljan.test": LOOPBACK}) as dns, reset_after_hello_server() as server:
        judged = VerdictStage.start(loopback_config(dns.spec())).judge(reset_measurement(server.port, dns.spec()))
    assert (judged.verdict, judged.blocking_detail) == ("blocked", "http_reset")
    forensics = judged.test_keys.model_dump()["x_forensics"]
    assert forensics["status"] == "ok" and forensics["injected"] is False
    assert forensics["suspicious"][0]["flags"].startswith("R") and forensics["suspicious"][0]["ttl"] == 64
    assert any(p["flags"] == "SA" for p in forensics["genuine"])


def test_without_root_forensics_say_so_in_the_measurement(monkeypatch: pytest.MonkeyPatch) -> None:
    with running_dns_server({"guljan.test": LOOPBACK}) as dns, reset_after_hello_server() as server:
        measurement = reset_measurement(server.port, dns.spec())
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    judged = VerdictStage.start(loopback_config(dns.spec())).judge(measurement)
    assert judged.blocking_detail == "http_reset"
    assert judged.test_keys.model_dump()["x_forensics"] == {"status": "unavailable (no root)"}


def test_a_bug_in_the_verdict_stage_does_not_cost_the_measurement(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("engine bug")

    monkeypatch.setattr("probe.stage.verdicts.judge_measurement", broken)
    with running_dns_server({"guljan.test": LOOPBACK}) as dns, http_server({"/": page(TITLE_PAGE)}) as web:
        db = open_database(":memory:")
        summary = run_targets(WEB, [Target(f"http://guljan.test:{web.port}/")], loopback_config(dns.spec()), db)
    (row,) = db.measurement_rows(summary.run_id)
    assert summary.probe_errors == [] and row["failure"] is None
    assert row["verdict"] is None and row["reason"] == "no verdict: RuntimeError: engine bug"
