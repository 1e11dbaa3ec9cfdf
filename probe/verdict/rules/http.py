"""Rules on the HTTP transfer and the page: throttling, redirects to a private address, failed requests, a
page unlike the control's, and a server's own refusal."""

from __future__ import annotations

from urllib.parse import urlsplit

from probe import failures
from probe.addresses import is_bogon
from probe.verdict.rules.common import INTERFERENCE_FAILURES, blocked, https_final, inconclusive, repeated
from probe.verdict.rules.evidence import Evidence
from probe.verdict.rules.verdict import Verdict
from probe.verdict.throttling import throttling

_HTTP_DETAILS = {
    failures.CONNECTION_RESET: "http_reset",
    failures.TIMEOUT: "http_timeout",
    failures.EOF_ERROR: "http_eof",
    failures.CONNECTION_REFUSED: "http_refused",
}


def throttled(e: Evidence) -> Verdict | None:
    control_http = e.control.http if e.control is not None else None
    found = throttling(e.attempt.final, control_http)
    if found is None:
        return None
    return blocked(
        "http-diff" if found.complete else "http-failure",
        "throttled",
        f"the page arrives at {found.describe()}",
        "throttled",
    )


def redirect_to_private(e: Evidence) -> Verdict | None:
    if is_bogon(e.obs.host):
        return None
    own = set(e.attempt.dns.addresses)
    if e.control is not None and e.control.dns is not None:
        own |= set(e.control.dns.addresses)
    for hop in e.attempt.http:
        location = hop.header("location")
        target = (urlsplit(location).hostname or "") if location else ""
        if target and is_bogon(target) and target not in own:
            return blocked(
                "http-failure" if e.failed else "http-diff",
                "http_redirect_private",
                f"{hop.url} redirects to the private address {target} ({location[:120] if location else ''}): "
                "a local middlebox's block portal",
                "redirect_to_private",
            )
    return None


def http_failure(e: Evidence) -> Verdict | None:
    failure = e.attempt.failure
    if not e.failed or failure not in INTERFERENCE_FAILURES or not e.control_fetched():
        return None
    return blocked(
        "http-failure",
        _HTTP_DETAILS.get(failure, "http_failure"),
        f"the HTTP request fails ({failure}){repeated(e)}; the control fetches the page",
        "http_failure",
    )


def server_refusal(e: Evidence) -> Verdict | None:
    """Over verified TLS the answer is the site's own: a refusal by the site (or its CDN) is not the network's.

    Verdict: ``accessible`` (the network carried the site's answer, untouched), the rule and reason naming
    the refusal; OONI's ``blocking`` for it is ``false``. Not ``blocked``: nothing on the path interfered.
    """
    if not e.attempt.fetched or not https_final(e):
        return None
    final = e.attempt.final
    assert final is not None
    if e.false_positives:
        known = e.false_positives[0]
        return Verdict(
            "accessible",
            reason=f"over verified TLS the site's own server answers {final.code} with a known non-censorship page "
            f"({known.where} matches {known.name}, a false-positive fingerprint): a refusal by the site or its CDN "
            "(a CAPTCHA, a challenge), not the network's",
            rule="server_refusal",
        )
    comparison, control = e.comparison, e.control
    if comparison is None or comparison.status_match is not False or control is None or control.http is None:
        return None
    return Verdict(
        "accessible",
        reason=f"over verified TLS the site itself answers {final.code}, the control gets {control.http.status}: "
        "the site refuses this network (a server-side refusal: geoblock, CAPTCHA, rate limit), not the network's "
        "block",
        rule="server_refusal",
    )


def http_diff(e: Evidence) -> Verdict | None:
    comparison = e.comparison
    if not e.attempt.fetched or comparison is None or comparison.same_page or https_final(e):
        return None  # over verified TLS the content is the site's own (server_refusal came first)
    final = e.attempt.final
    assert final is not None and e.control is not None and e.control.http is not None
    theirs = e.control.http
    if e.false_positives:
        return inconclusive(
            f"a page unlike the control's ({comparison.summary()}), but {e.false_positives[0].where} matches the "
            f"known false positive {e.false_positives[0].name}: a page sites serve themselves, not a blockpage",
            "http_diff",
        )
    where = f" from {final.host}" if final.host and final.host != e.obs.host else ""
    if comparison.status_match is False or comparison.title_conflict:
        mine = f"title {final.title!r}" if comparison.title_conflict else f"status {final.code}"
        theirs_text = f"title {theirs.title!r}" if comparison.title_conflict else f"status {theirs.status}"
        return blocked(
            "http-diff",
            "http_diff",
            f"another page{where} ({mine}; the control's {theirs_text}; {comparison.summary()}); "
            "no blockpage fingerprint matches",
            "http_diff",
        )
    return inconclusive(
        f"the page differs from the control's only in size or headers ({comparison.summary()}) and matches "
        "no blockpage fingerprint: dynamic pages (parked domains, ads) differ too",
        "http_diff",
        suspected="http-diff",
    )
