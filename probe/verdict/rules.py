"""The decision rules, in order: the first rule that applies gives the verdict.

The order starts from OONI web_connectivity's (v0.4) and departs from it where that is known to
fail (``../shared/docs/methodology.md``, "Control: the view from outside"; ``README.md`` "Verdicts"):

     1 dns_injection          two different answers to one DNS query: on-path injection
     2 network_down           the target failed while the round's controls say the network is dark
     3 degraded_network       the target failed while the controls fail here and there: never "blocked"
     4 nxdomain_at_control    the name does not exist outside: there is nothing to block, whatever the scheme
     5 blockpage_fingerprint  a known blockpage (HTTP body/header, or a DNS answer the control lacks)
     6 encrypted_dns          port 53 fails or lies where DNS over HTTPS/TLS resolves the name
     7 control_unavailable    no control to compare with (none configured, or it was unreachable)
     8 site_down              the control cannot fetch the page either
     9 dns_failure            no address here, or none for a redirect's target, while the control has one
    10 dns_inconsistent       other addresses than the control's (bogons it does not see), and no page
    11 tcp_blocked            every connection to the site's addresses fails; the control connects
    12 tls_interception       a certificate the control does not see (failed or trusted), for the same name
    13 tls_blocked            the TLS handshake is reset, dropped or cut; the control completes it
    14 throttled              the page arrives far slower than at the control
    15 redirect_to_private    the site "redirects" to a private address: a local middlebox's portal
    16 probe_error            the failure is the probe's own, not the network's
    17 http_failure           the request is reset, dropped or cut; the control fetches the page
    18 server_refusal         over verified TLS the site itself refuses (another status, a CAPTCHA)
    19 http_diff              a page unlike the control's
    20 accessible             the page, as the control sees it (or over verified TLS)
    21 unexplained            nothing above fits

The attempt judged is the first that fetched the page, else the first one: a failure that does
not repeat is not a block. Only ``blocked`` names a blocking method (``blocking``,
``blocking_detail``); what an ``inconclusive`` or ``site_down`` verdict suspects is ``suspected``.
Each verdict carries the deciding rule's id (its name here, never reused) and ``RULES_VERSION``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from probe import failures
from probe.addresses import is_bogon, is_ip
from probe.fingerprints import Match
from probe.verdict.dns_consistency import DNSConsistency
from probe.verdict.http_compare import HTTPComparison
from probe.verdict.network import DOWN_STATES
from probe.verdict.observation import Attempt, Control, Observation, encrypted_name
from probe.verdict.throttling import throttling

RULES_VERSION = "3"
"""Bumped whenever a rule's order, scope or outcome changes; stored with every verdict."""

VerdictName = Literal["accessible", "blocked", "site_down", "network_down", "inconclusive"]
VERDICTS: tuple[VerdictName, ...] = ("accessible", "blocked", "site_down", "network_down", "inconclusive")
BLOCKING_METHODS = ("dns", "tcp_ip", "tls", "http-failure", "http-diff")

CERTIFICATE_FAILURES = frozenset(
    {failures.SSL_UNKNOWN_AUTHORITY, failures.SSL_INVALID_HOSTNAME, failures.SSL_INVALID_CERTIFICATE}
)
INTERFERENCE_FAILURES = frozenset(
    {
        failures.CONNECTION_RESET,
        failures.CONNECTION_REFUSED,
        failures.CONNECTION_ABORTED,
        failures.TIMEOUT,
        failures.EOF_ERROR,
        failures.HOST_UNREACHABLE,
        failures.NETWORK_UNREACHABLE,
        failures.SSL_FAILED_HANDSHAKE,
        *CERTIFICATE_FAILURES,
    }
)
"""Failures a network can cause. Anything else (``unknown_failure ...``, a malformed redirect) is not evidence."""

_DNS_DETAILS = {
    failures.DNS_NXDOMAIN: "dns_nxdomain",
    failures.ANDROID_DNS_NO_DATA: "dns_no_answer",
    failures.TIMEOUT: "dns_timeout",
    failures.DNS_SERVFAIL: "dns_servfail",
    failures.DNS_REFUSED: "dns_refused",
    failures.DNS_NO_ANSWER: "dns_no_answer",
    failures.DNS_BOGON: "dns_bogon",
}
_TCP_DETAILS = {
    failures.TIMEOUT: "tcp_timeout",
    failures.CONNECTION_RESET: "tcp_reset",
    failures.CONNECTION_REFUSED: "tcp_reset",  # a RST in answer to the SYN
    failures.CONNECTION_ABORTED: "tcp_reset",
    failures.HOST_UNREACHABLE: "tcp_unreachable",
    failures.NETWORK_UNREACHABLE: "tcp_unreachable",
}
_TLS_DETAILS = {
    failures.CONNECTION_RESET: "tls_reset",
    failures.TIMEOUT: "tls_timeout",
    failures.EOF_ERROR: "tls_eof",
}
_HTTP_DETAILS = {
    failures.CONNECTION_RESET: "http_reset",
    failures.TIMEOUT: "http_timeout",
    failures.EOF_ERROR: "http_eof",
    failures.CONNECTION_REFUSED: "http_refused",
}


@dataclass(frozen=True)
class Verdict:
    verdict: VerdictName
    blocking: str | None = None
    blocking_detail: str | None = None
    confirmed: bool = False
    reason: str = ""
    rule: str = ""
    fingerprints: tuple[str, ...] = ()
    suspected: str | None = None
    """The blocking method a verdict other than ``blocked`` suspects (e.g. ``http-diff``), else None."""
    rules_version: str = RULES_VERSION
    network_state: str | None = None
    """The round's network state it was judged in (``probe.verdict.network``; None without controls)."""

    def __post_init__(self) -> None:
        if self.verdict != "blocked" and (self.blocking or self.blocking_detail or self.confirmed):
            raise ValueError(f"only a blocked verdict names a blocking method ({self.rule}: {self.verdict})")

    def columns(self) -> dict[str, Any]:
        """The measurement columns this verdict fills (``Database.set_verdict``'s arguments)."""
        return {
            "verdict": self.verdict,
            "blocking": self.blocking,
            "blocking_detail": self.blocking_detail,
            "confirmed": self.confirmed,
            "reason": self.reason,
            "rule": self.rule,
            "rules_version": self.rules_version,
            "suspected": self.suspected,
            "network_state": self.network_state,
        }

    def as_row(self) -> dict[str, Any]:
        """The measurement columns this verdict fills, as stored (``confirmed`` 0 or 1)."""
        return {**self.columns(), "confirmed": int(self.confirmed)}


@dataclass
class Evidence:
    """Everything the rules look at, computed once (see ``probe.verdict.engine.gather``)."""

    obs: Observation
    attempt: Attempt
    """The attempt judged: the first that fetched the page, else the first."""
    earlier_failures: list[str]
    """Failures of the tries before it (a failure that did not repeat)."""
    control: Control | None
    dns: DNSConsistency
    comparison: HTTPComparison | None
    http_matches: list[Match] = field(default_factory=list)
    dns_matches: list[Match] = field(default_factory=list)
    false_positives: list[Match] = field(default_factory=list)
    network_state: str | None = None
    network_summary: str = ""
    dns_reference: str = "the control"
    """Whose DNS answer ``dns`` compares with: the control's, or (without one) an encrypted resolver's."""

    @property
    def failed(self) -> bool:
        return not self.attempt.fetched

    @property
    def tries(self) -> int:
        return len(self.obs.attempts)

    def tcp_on_port(self) -> list[tuple[str, bool, str | None]]:
        port = self.obs.port
        return [(t.endpoint, t.ok, t.failure) for t in self.attempt.tcp if t.port == port]

    def control_fetched(self) -> bool:
        return self.control is not None and self.control.http is not None and self.control.http.ok


Rule = Callable[[Evidence], Verdict | None]


def _blocked(
    method: str, detail: str, reason: str, rule: str, *, confirmed: bool = False, fingerprints: tuple[str, ...] = ()
) -> Verdict:
    return Verdict("blocked", method, detail, confirmed, reason, rule, fingerprints)


def _inconclusive(reason: str, rule: str, suspected: str | None = None) -> Verdict:
    return Verdict("inconclusive", reason=reason, rule=rule, suspected=suspected)


def _repeated(e: Evidence) -> str:
    """How the tries went: " (on all 3 tries)", or the residual block that held the tries after the first."""
    if e.tries < 2:
        return ""
    return _residual(e) or f" (on all {e.tries} tries)"


def _residual(e: Evidence) -> str:
    """Stateful (residual) censorship: the first try was interfered with once connected (a reset, a dropped
    ClientHello, a blockpage), and the tries after it could not even connect, their SYNs dropped. The block
    is the first try's mechanism; the dead port is the censor holding the server after the trigger (60-180 s
    in the wild), not a flaky link or a site gone down."""
    first, later = e.obs.attempts[0], e.obs.attempts[1:]
    if e.attempt is not first or first.failed_step not in ("tls", "http") or not later:
        return ""
    if not all(attempt.failed_step == "tcp" and attempt.failure == failures.TIMEOUT for attempt in later):
        return ""
    held = sorted({t.endpoint for attempt in later for t in attempt.tcp if t.port == e.obs.port and not t.ok})
    count = f"the {len(later)} tries" if len(later) > 1 else "the try"
    return (
        f" on the first try; {count} after it could not even connect to {', '.join(held) or 'the server'} "
        "(SYN dropped): residual censorship, the censor holding the server's port after the trigger"
    )


# --- 1-3: injection and network context -------------------------------------------------------------------


def dns_injection(e: Evidence) -> Verdict | None:
    for attempt in e.obs.attempts:
        for found in attempt.injections:
            resolver = found.resolver or "the resolver"
            return _blocked(
                "dns",
                "dns_injection",
                f"two different answers to one query via {resolver}: {', '.join(found.first)} first, "
                f"then {', '.join(found.late)}: an on-path injector",
                "dns_injection",
            )
    return None


def network_down(e: Evidence) -> Verdict | None:
    if e.failed and e.network_state in DOWN_STATES:
        return Verdict(
            "network_down",
            reason=f"{_failure_text(e)} while the network is down ({e.network_summary})",
            rule="network_down",
        )
    return None


def degraded_network(e: Evidence) -> Verdict | None:
    if e.failed and e.network_state == "degraded":
        return _inconclusive(
            f"{_failure_text(e)} while controls fail here and there ({e.network_summary}): a flaky network",
            "degraded_network",
        )
    return None


# --- 4-7: a name that does not exist, fingerprints, control, site down ------------------------------------


def nxdomain_at_control(e: Evidence) -> Verdict | None:
    """The control finds no such name. Whatever answers here (an ISP's NXDOMAIN rewriting, a censor's
    blockpage address) leads to no site: ``site_down``, the same over http and https (the blockpage
    is seen over http only, so it cannot decide), with the lie as ``suspected`` and named in the reason."""
    control_dns = e.control.dns if e.control is not None else None
    if control_dns is None or not control_dns.nxdomain or is_ip(e.obs.host):
        return None
    addresses = e.attempt.dns.addresses
    if not addresses:
        mine = e.attempt.dns.failure or e.attempt.dns_failure or "no address"
        return Verdict(
            "site_down",
            reason=f"no such name: this network's resolver answers {mine}, the control's NXDOMAIN",
            rule="nxdomain_at_control",
        )
    matches = e.dns_matches + e.http_matches
    if e.attempt.fetched and _https_final(e) and not matches:
        return Verdict(
            "accessible",
            reason="fetched over verified TLS, though the name exists only inside this network",
            rule="nxdomain_at_control",
        )
    if matches:
        how = f"{matches[0].where} matches the blockpage fingerprint {matches[0].name}: a censor lists the name"
    else:
        how = f"{_led_to(e)} (NXDOMAIN rewriting by the ISP, a censor, or a name that exists only inside this network)"
    return Verdict(
        "site_down",
        reason=f"the control gets NXDOMAIN: the name does not exist outside, there is no site to block; "
        f"this network's resolver answered {', '.join(addresses)} instead, and {how}",
        rule="nxdomain_at_control",
        fingerprints=tuple(dict.fromkeys(m.name for m in matches)),
        suspected="dns",
    )


def blockpage_fingerprint(e: Evidence) -> Verdict | None:
    if e.dns_matches:
        match = e.dns_matches[0]
        return _blocked(
            "dns",
            "dns_blockpage_ip",
            f"the DNS answer is a known blocking address ({match.where}, fingerprint {match.name})",
            "blockpage_fingerprint",
            confirmed=True,
            fingerprints=tuple(m.name for m in e.dns_matches),
        )
    if not e.http_matches:
        return None
    match = e.http_matches[0]
    names = tuple(dict.fromkeys(m.name for m in e.http_matches))
    if e.dns.consistent is False and not is_ip(e.obs.host):
        method, detail = "dns", "dns_blockpage_ip"
        how = f"the resolver sends it to a blockpage ({e.dns.why})"
    else:
        method = "http-failure" if e.failed else "http-diff"
        detail, how = f"http_blockpage:{match.name}", "the response is a blockpage"
    return _blocked(
        method,
        detail,
        f"{how}: {match.where} matches fingerprint {match.name}",
        "blockpage_fingerprint",
        confirmed=True,
        fingerprints=names,
    )


def encrypted_dns(e: Evidence) -> Verdict | None:
    """An encrypted resolver (``[dns] resolvers`` https:// or tls://) is a path no one can rewrite: where it
    resolves the name, a port-53 answer of no address is a lie; without a control's answer, so are other
    addresses that no verified TLS vouches for."""
    clean = e.attempt.encrypted_answer
    if clean is None or is_ip(e.obs.host) or e.attempt.dns.encrypted:
        return None
    mine = e.attempt.dns
    theirs = f"{encrypted_name(clean)} resolves {', '.join(clean.addresses)}"
    if not mine.addresses:
        failure = mine.failure or e.attempt.dns_failure or failures.DNS_NO_ANSWER
        if not (failures.is_dns_failure(failure) or failure == failures.TIMEOUT):
            return None
        return _blocked(
            "dns",
            _DNS_DETAILS.get(failure, "dns_failure"),
            f"the resolver answers {failure} for {e.obs.host}{_repeated(e)}; {theirs}",
            "encrypted_dns",
        )
    if e.dns.consistent is not False or e.dns_reference == "the control":
        return None  # a control's answer decides (dns_inconsistent), or the answers agree
    if e.attempt.fetched and _https_final(e):
        return None  # other addresses, but verified TLS: the same site (a CDN)
    what = _failure_text(e) if e.failed else "a page no verified TLS vouches for"
    return _blocked(
        "dns",
        "dns_bogon" if e.dns.probe_bogons else "dns_inconsistent",
        f"the resolver answers {', '.join(mine.addresses)}, {theirs}: nothing shared; {what}",
        "encrypted_dns",
    )


def control_unavailable(e: Evidence) -> Verdict | None:
    if e.control is not None:
        return None
    why = e.obs.control_failure or e.obs.control_after_failure
    source = f"the control was unreachable ({why})" if why else "no control to compare with"
    if e.attempt.fetched and _https_final(e):
        return Verdict("accessible", reason=f"fetched over verified TLS; {source}", rule="control_unavailable")
    what = _failure_text(e) if e.failed else "fetched, but a blockpage cannot be told from the page"
    return Verdict("inconclusive", reason=f"{what}; {source}", rule="control_unavailable")


def site_down(e: Evidence) -> Verdict | None:
    control = e.control
    if control is None or control.http is None or control.http.ok:
        return None
    theirs = control.http.failure or "no response"
    if e.attempt.fetched:
        if _https_final(e):
            return Verdict(
                "accessible", reason=f"fetched over verified TLS; the control could not ({theirs})", rule="site_down"
            )
        return Verdict(
            "inconclusive",
            reason=f"fetched here, but the control could not fetch it to compare ({theirs})",
            rule="site_down",
        )
    detail = ""
    if control.dns is not None and not control.dns.addresses:
        names = f" (only {', '.join(control.dns.cnames)})" if control.dns.cnames else ""
        detail = f"; the control resolves no address{names}"
    return Verdict(
        "site_down",
        reason=f"{_failure_text(e)}, and the control cannot fetch it either ({theirs}{detail}): "
        "the site is down everywhere",
        rule="site_down",
    )


# --- 8-9: DNS ---------------------------------------------------------------------------------------------


def dns_failure(e: Evidence) -> Verdict | None:
    if is_ip(e.obs.host):
        return None
    if e.attempt.dns.addresses:
        return _redirect_dns_failure(e)
    failure = e.attempt.dns.failure or e.attempt.dns_failure or failures.DNS_NO_ANSWER
    control_dns = e.control.dns if e.control is not None else None
    if control_dns is not None and not control_dns.addresses and not e.control_fetched():
        return None
    if not (failures.is_dns_failure(failure) or failure == failures.TIMEOUT):
        return None  # not a DNS answer at all: probe_error decides
    theirs = "the control fetches the page"
    if control_dns is not None and control_dns.addresses:
        theirs = f"the control resolves {', '.join(control_dns.addresses)}"
    return _blocked(
        "dns",
        _DNS_DETAILS.get(failure, "dns_failure"),
        f"the resolver answers {failure} for {e.obs.host}{_repeated(e)}; {theirs}",
        "dns_failure",
    )


def _redirect_dns_failure(e: Evidence) -> Verdict | None:
    """The site redirects to another name, which does not resolve here while the control follows it."""
    final, failure = e.attempt.final, e.attempt.failure
    if not e.failed or not failures.is_dns_failure(failure) or final is None or len(e.attempt.http) < 2:
        return None
    if final.host == e.obs.host or not e.control_fetched():
        return None
    assert failure is not None and e.control is not None and e.control.http is not None
    theirs = e.control.http.final_url or f"a page (status {e.control.http.status})"
    return _blocked(
        "dns",
        _DNS_DETAILS.get(failure, "dns_failure"),
        f"{e.attempt.http[-2].url} redirects to {final.host}, for which the resolver answers {failure}"
        f"{_repeated(e)}; the control follows the redirect to {theirs}",
        "dns_failure",
    )


def dns_inconsistent(e: Evidence) -> Verdict | None:
    if e.dns.consistent is not False or not e.attempt.dns.addresses:
        return None
    if e.attempt.fetched and (_https_final(e) or (e.comparison is not None and e.comparison.same_page)):
        return None  # other addresses, same site: a CDN
    detail = "dns_bogon" if e.dns.probe_bogons else "dns_inconsistent"
    return _blocked(
        "dns", detail, f"{e.dns.why}; {_failure_text(e) if e.failed else 'another page'}", "dns_inconsistent"
    )


# --- 10-12: TCP and TLS -----------------------------------------------------------------------------------


def tcp_blocked(e: Evidence) -> Verdict | None:
    tried = e.tcp_on_port()
    if not tried or any(ok for _, ok, _ in tried):
        return None
    control = e.control
    assert control is not None  # control_unavailable came first
    seen = [control.tcp[endpoint] for endpoint, _, _ in tried if endpoint in control.tcp]
    endpoints = ", ".join(endpoint for endpoint, _, _ in tried)
    failure = tried[0][2] or failures.TIMEOUT
    if seen and not any(ok for ok, _ in seen):
        return Verdict(
            "inconclusive",
            reason=f"no connection to {endpoints} ({failure}), and the control cannot connect to them either",
            rule="tcp_blocked",
        )
    if not seen and not e.control_fetched():
        return None
    theirs = "the control connects to them" if seen else "the control fetches the page"
    return _blocked(
        "tcp_ip",
        _TCP_DETAILS.get(failure, "tcp_failure"),
        f"every connection to {endpoints} fails ({failure}){_repeated(e)}; {theirs}",
        "tcp_blocked",
    )


def tls_interception(e: Evidence) -> Verdict | None:
    if e.obs.scheme != "https":
        return None
    control = e.control
    assert control is not None
    for handshake in e.attempt.tls:
        theirs = control.tls.get(handshake.address)
        if handshake.failure in CERTIFICATE_FAILURES:
            if (theirs is not None and theirs.failure is None) or (theirs is None and e.control_fetched()):
                issuer = f" issued by {handshake.issuer}" if handshake.issuer else ""
                return _blocked(
                    "tls",
                    "tls_mitm",
                    f"the certificate for {handshake.server_name}{issuer} fails ({handshake.failure}); "
                    "the control validates the name: interception",
                    "tls_interception",
                )
        elif handshake.failure is None and theirs is not None and theirs.failure is None:
            mine, their_issuer = _organization(handshake.issuer), _organization(theirs.issuer)
            if mine and their_issuer and mine != their_issuer:
                return _blocked(
                    "tls",
                    "tls_mitm",
                    f"the certificate for {handshake.server_name} comes from {handshake.issuer}, the control's "
                    f"from {theirs.issuer}: a trusted interception root",
                    "tls_interception",
                )
    return None


def tls_blocked(e: Evidence) -> Verdict | None:
    if e.obs.scheme != "https" or e.attempt.fetched or not e.attempt.tls:
        return None
    if any(h.failure is None for h in e.attempt.tls):
        return None
    control = e.control
    assert control is not None
    seen = [control.tls[h.address] for h in e.attempt.tls if h.address in control.tls]
    failure = e.attempt.tls[0].failure or failures.SSL_FAILED_HANDSHAKE
    if seen and all(h.failure for h in seen):
        return Verdict(
            "inconclusive",
            reason=f"the TLS handshake fails ({failure}), and the control's fails too",
            rule="tls_blocked",
        )
    if not seen and not e.control_fetched():
        return None
    return _blocked(
        "tls",
        _TLS_DETAILS.get(failure, "tls_failure"),
        f"the TLS handshake with {e.attempt.tls[0].server_name} fails ({failure}){_repeated(e)} after TCP "
        "connected; the control completes it",
        "tls_blocked",
    )


# --- 13-16: transfer --------------------------------------------------------------------------------------


def throttled(e: Evidence) -> Verdict | None:
    control_http = e.control.http if e.control is not None else None
    found = throttling(e.attempt.final, control_http)
    if found is None:
        return None
    return _blocked(
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
            return _blocked(
                "http-failure" if e.failed else "http-diff",
                "http_redirect_private",
                f"{hop.url} redirects to the private address {target} ({location[:120] if location else ''}): "
                "a local middlebox's block portal",
                "redirect_to_private",
            )
    return None


def probe_error(e: Evidence) -> Verdict | None:
    failure = e.attempt.failure
    if not e.failed or failure is None:
        return None
    if failure in INTERFERENCE_FAILURES or failures.is_dns_failure(failure):
        return None
    return _inconclusive(
        f"the {e.attempt.failed_step or 'measurement'} step failed with {failure!r}, which is not a network "
        "failure: the probe's own error, or a response it could not read",
        "probe_error",
    )


def http_failure(e: Evidence) -> Verdict | None:
    failure = e.attempt.failure
    if not e.failed or failure not in INTERFERENCE_FAILURES or not e.control_fetched():
        return None
    return _blocked(
        "http-failure",
        _HTTP_DETAILS.get(failure, "http_failure"),
        f"the HTTP request fails ({failure}){_repeated(e)}; the control fetches the page",
        "http_failure",
    )


# --- 17-19: pages -----------------------------------------------------------------------------------------


def server_refusal(e: Evidence) -> Verdict | None:
    """Over verified TLS the answer is the site's own: a refusal by the site (or its CDN) is not the network's.

    Verdict: ``accessible`` (the network carried the site's answer, untouched), the rule and reason naming
    the refusal; OONI's ``blocking`` for it is ``false``. Not ``blocked``: nothing on the path interfered.
    """
    if not e.attempt.fetched or not _https_final(e):
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
    if not e.attempt.fetched or comparison is None or comparison.same_page or _https_final(e):
        return None  # over verified TLS the content is the site's own (server_refusal came first)
    final = e.attempt.final
    assert final is not None and e.control is not None and e.control.http is not None
    theirs = e.control.http
    if e.false_positives:
        return _inconclusive(
            f"a page unlike the control's ({comparison.summary()}), but {e.false_positives[0].where} matches the "
            f"known false positive {e.false_positives[0].name}: a page sites serve themselves, not a blockpage",
            "http_diff",
        )
    where = f" from {final.host}" if final.host and final.host != e.obs.host else ""
    if comparison.status_match is False or comparison.title_conflict:
        mine = f"title {final.title!r}" if comparison.title_conflict else f"status {final.code}"
        theirs_text = f"title {theirs.title!r}" if comparison.title_conflict else f"status {theirs.status}"
        return _blocked(
            "http-diff",
            "http_diff",
            f"another page{where} ({mine}; the control's {theirs_text}; {comparison.summary()}); "
            "no blockpage fingerprint matches",
            "http_diff",
        )
    return _inconclusive(
        f"the page differs from the control's only in size or headers ({comparison.summary()}) and matches "
        "no blockpage fingerprint: dynamic pages (parked domains, ads) differ too",
        "http_diff",
        suspected="http-diff",
    )


def accessible(e: Evidence) -> Verdict | None:
    if not e.attempt.fetched:
        return None
    if _https_final(e):
        reason = "fetched over verified TLS"
    elif e.comparison is not None and e.comparison.same_page:
        reason = f"the page matches the control's ({e.comparison.summary()})"
    else:
        return None
    if e.earlier_failures:
        reason += f"; it failed before ({', '.join(e.earlier_failures)}) but not again: not a block"
    return Verdict("accessible", reason=reason, rule="accessible")


def unexplained(e: Evidence) -> Verdict:
    what = _failure_text(e) if e.failed else "fetched, but nothing to compare it with"
    return Verdict("inconclusive", reason=f"{what}; no rule explains it", rule="unexplained")


RULES: tuple[tuple[str, Rule], ...] = (
    ("dns_injection", dns_injection),
    ("network_down", network_down),
    ("degraded_network", degraded_network),
    ("nxdomain_at_control", nxdomain_at_control),
    ("blockpage_fingerprint", blockpage_fingerprint),
    ("encrypted_dns", encrypted_dns),
    ("control_unavailable", control_unavailable),
    ("site_down", site_down),
    ("dns_failure", dns_failure),
    ("dns_inconsistent", dns_inconsistent),
    ("tcp_blocked", tcp_blocked),
    ("tls_interception", tls_interception),
    ("tls_blocked", tls_blocked),
    ("throttled", throttled),
    ("redirect_to_private", redirect_to_private),
    ("probe_error", probe_error),
    ("http_failure", http_failure),
    ("server_refusal", server_refusal),
    ("http_diff", http_diff),
    ("accessible", accessible),
    ("unexplained", unexplained),
)


def decide(evidence: Evidence) -> Verdict:
    """The verdict of the first rule that applies (``unexplained`` always does)."""
    for _, rule in RULES:
        verdict = rule(evidence)
        if verdict is not None:
            return verdict
    raise AssertionError("unexplained always applies")


# --- helpers ----------------------------------------------------------------------------------------------


def _https_final(e: Evidence) -> bool:
    """The page came over TLS that the probe verified (every https hop of the chain)."""
    final = e.attempt.final
    if final is None or urlsplit(final.url).scheme.lower() != "https":
        return False
    return not any(h.no_tls_verify for h in e.attempt.tls)


def _failure_text(e: Evidence) -> str:
    attempt = e.attempt
    step = attempt.failed_step or "the measurement"
    return f"{step} fails ({attempt.failure or 'no response'}){_repeated(e)}"


def _led_to(e: Evidence) -> str:
    """What the answer led to: a redirect, a page, or the failure."""
    for hop in e.attempt.http:
        location = hop.header("location")
        if location:
            return f"it redirects to {location[:100]}"
    final = e.attempt.final
    if e.attempt.fetched and final is not None:
        return f"it serves a page (status {final.code})"
    return f"{_failure_text(e)}"


def _organization(issuer: str | None) -> str | None:
    """The ``O=`` of an RFC 4514 issuer name (its ``CN=`` when it has none)."""
    if not issuer:
        return None
    parts = dict(part.split("=", 1) for part in issuer.split(",") if "=" in part)
    return parts.get("O") or parts.get("CN")
