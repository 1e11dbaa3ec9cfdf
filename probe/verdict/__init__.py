"""Verdicts: from what a measurement saw to ``accessible``, ``blocked``, ``site_down``, ``network_down``
or ``inconclusive``, with the blocking method and a reason.

    observation      one web measurement (the probe's or OONI's) as the rules see it: typed records
    reader           OONI-shaped test keys (and a test helper's answer) into those records
    dns_consistency  do the probe's DNS answers agree with the control's?
    http_compare     does the probe's page look like the control's?
    throttling       did the page arrive far slower than at the control?
    network          this round's network context, classified (shutdown, international cut, ...)
    rules/           the decision rules, one module per concept, and their ordered registry (RULES)
    engine           evidence in, verdict out
    reasons          verdicts in OONI's words, and why they differ
    ooni             the engine on OONI's measurements, side by side with OONI's conclusion
    forensics        what a suspicious packet's TTL and IP-ID say (injected, or the server's own)

Nothing here opens a socket: the measuring (network controls, forensic re-measurements) is done by
``probe.stage``, and the verdict reads what was measured.
"""

from probe.verdict.engine import judge, judge_measurement, judge_test_keys
from probe.verdict.rules import RULES, Verdict

__all__ = ["RULES", "Verdict", "judge", "judge_measurement", "judge_test_keys"]
