"""In the namespace lab: a censor that cuts the SMS gateway and the SMSC, while the web stays up.

Needs root and network namespaces (``probe.lab``); skipped with the reason otherwise. The lab's
SMSC answers any PDU with generic_nack and its gateway API is a web server, so the SMS inputs are
measured without accounts: reachability, which is what a cut takes away.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from probe.lab import plan
from probe.lab.lab import Lab, unavailable_reason
from probe.storage import open_database

pytestmark = pytest.mark.root

SMSC = f"{plan.SMSC.name}:{plan.SMPP_PORT}"
API = f"http://{plan.SMS_API.name}/cgi-bin/sendsms"
WEB = "http://twitter.com/"
NUMBER = "+77001234567"
RUN_LIMIT = 60.0


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"namespace lab unavailable: {reason}")
    with Lab() as made:
        yield made
        made.scenario("clean")


def sms_config(lab: Lab, directory: Path) -> Path:
    path = lab.probe_config(directory, timeout=2.0)
    with path.open("a", encoding="utf-8") as config:
        config.write(
            f"""
[sms]
backends = ["smpp", "http_gateway"]

[sms.recipients]
self-loop = {{ number = "{NUMBER}" }}
"""
        )
    return path


def measure(lab: Lab, config: Path, db: Path, experiment: str, *inputs: str) -> dict[str, dict[str, object]]:
    args = ["run", "--accept", "--config", str(config), "--db", str(db), "-e", experiment]
    for value in inputs:
        args += ["--url", value]
    done = lab.run_probe(args, timeout=RUN_LIMIT)
    assert done.returncode == 0, done.stderr
    database = open_database(db)
    rows = {str(row["input"]): row for row in database.measurement_rows()}
    database.close()
    assert sorted(rows) == sorted(inputs)
    return rows


def test_clean_lab_reaches_the_smsc_and_the_gateway(lab: Lab, tmp_path: Path) -> None:
    lab.scenario("clean")
    rows = measure(lab, sms_config(lab, tmp_path), tmp_path / "probe.db", "sms", SMSC, API)
    for value in (SMSC, API):
        assert (rows[value]["failure"], rows[value]["verdict"]) == (None, "accessible")
        assert rows[value]["blocking_detail"] == "sms:gateway_reachable"
    assert '"smpp_answer":"generic_nack"' in str(rows[SMSC]["test_keys"])


def test_cut_gateway_is_gateway_unreachable_while_web_verdicts_are_unaffected(lab: Lab, tmp_path: Path) -> None:
    config = sms_config(lab, tmp_path)
    lab.scenario("clean")
    web_before = measure(lab, config, tmp_path / "before.db", "web", WEB)[WEB]
    lab.scenario("sms_gateway_cut", [plan.SMS_API.name, plan.SMSC.name])
    try:
        sms = measure(lab, config, tmp_path / "sms.db", "sms", SMSC, API)
        web = measure(lab, config, tmp_path / "web.db", "web", WEB)[WEB]
    finally:
        lab.scenario("clean")
    for value in (SMSC, API):
        row = sms[value]
        assert (row["failure"], row["failed_step"]) == ("generic_timeout_error", "tcp")
        assert (row["verdict"], row["blocking_detail"]) == ("inconclusive", "sms:gateway_unreachable:tcp")
    assert web["failure"] is None
    assert (web["verdict"], web["blocking"], web["blocking_detail"]) == (
        web_before["verdict"],
        web_before["blocking"],
        web_before["blocking_detail"],
    )
    assert NUMBER.lstrip("+").encode() not in (tmp_path / "sms.db").read_bytes()
