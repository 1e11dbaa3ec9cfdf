"""The last rules: the probe's own errors, the page as the control sees it, and nothing that fits."""

from __future__ import annotations

from probe import failures
from probe.verdict.rules.common import INTERFERENCE_FAILURES, failure_text, https_final, inconclusive
from probe.verdict.rules.evidence import Evidence
from probe.verdict.rules.verdict import Verdict


def probe_error(e: Evidence) -> Verdict | None:
    failure = e.attempt.failure
    if not e.failed or failure is None:
        return None
    if failure in INTERFERENCE_FAILURES or failures.is_dns_failure(failure):
        return None
    return inconclusive(
        f"the {e.attempt.failed_step or 'measurement'} step failed with {failure!r}, which is not a network "
        "failure: the probe's own error, or a response it could not read",
        "probe_error",
    )


def accessible(e: Evidence) -> Verdict | None:
    if not e.attempt.fetched:
        return None
    if https_final(e):
        reason = "fetched over verified TLS"
    elif e.comparison is not None and e.comparison.same_page:
        reason = f"the page matches the control's ({e.comparison.summary()})"
    else:
        return None
    if e.earlier_failures:
        reason += f"; it failed before ({', '.join(e.earlier_failures)}) but not again: not a block"
    return Verdict("accessible", reason=reason, rule="accessible")


def unexplained(e: Evidence) -> Verdict:
    what = failure_text(e) if e.failed else "fetched, but nothing to compare it with"
    return Verdict("inconclusive", reason=f"{what}; no rule explains it", rule="unexplained")
