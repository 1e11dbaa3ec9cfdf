"""Rules on DNS: injected answers, names that exist nowhere, lies that an encrypted resolver or the control
contradicts."""

from __future__ import annotations

from probe import failures
from probe.addresses import is_ip
from probe.verdict.observation import encrypted_name
from probe.verdict.rules.common import blocked, failure_text, https_final, repeated
from probe.verdict.rules.evidence import Evidence
from probe.verdict.rules.verdict import Verdict

_DNS_DETAILS = {
    failures.DNS_NXDOMAIN: "dns_nxdomain",
    failures.ANDROID_DNS_NO_DATA: "dns_no_answer",
    failures.TIMEOUT: "dns_timeout",
    failures.DNS_SERVFAIL: "dns_servfail",
    failures.DNS_REFUSED: "dns_refused",
    failures.DNS_NO_ANSWER: "dns_no_answer",
    failures.DNS_BOGON: "dns_bogon",
}


def dns_injection(e: Evidence) -> Verdict | None:
    for attempt in e.obs.attempts:
        for found in attempt.injections:
            resolver = found.resolver or "the resolver"
            return blocked(
                "dns",
                "dns_injection",
                f"two different answers to one query via {resolver}: {', '.join(found.first)} first, "
                f"then {', '.join(found.late)}: an on-path injector",
                "dns_injection",
            )
    return None


def _nowhere(e: Evidence) -> bool:
    """The control finds no such name (NXDOMAIN), and the URL names a host, not an address."""
    control_dns = e.control.dns if e.control is not None else None
    return control_dns is not None and control_dns.nxdomain and not is_ip(e.obs.host)


def _verified_page(e: Evidence) -> bool:
    """An https page over verified TLS with no blockpage: the name exists inside this network (an intranet)."""
    return e.attempt.fetched and https_final(e) and not (e.dns_matches or e.http_matches)


def ghost_dns(e: Evidence) -> Verdict | None:
    """Ghost DNS (ooni/probe#2308): the control gets NXDOMAIN, yet this network's resolver answers an address.
    A censor lists the name, whether or not it exists: ``blocked``, ``dns``, over http and https alike,
    confirmed when what the answer leads to matches a blockpage fingerprint.

    Known false positives: a name that exists only inside this network (an intranet, split horizon: the
    reason says so when no fingerprint confirms), and an ISP that answers every NXDOMAIN with its own
    search page (NXDOMAIN rewriting) makes every dead name of a list look blocked this way."""
    addresses = e.attempt.dns.addresses
    if not _nowhere(e) or not addresses or _verified_page(e):
        return None
    matches = e.dns_matches + e.http_matches
    answered = (
        f"the control gets NXDOMAIN (the name exists nowhere outside), yet this network's resolver answers "
        f"{', '.join(addresses)}"
    )
    if matches:
        return blocked(
            "dns",
            "dns_blockpage_ip",
            f"{answered}, and {matches[0].where} matches the blockpage fingerprint {matches[0].name}: "
            "a censor lists the name (ghost DNS)",
            "ghost_dns",
            confirmed=True,
            fingerprints=tuple(dict.fromkeys(m.name for m in matches)),
        )
    return blocked(
        "dns",
        "dns_ghost",
        f"{answered}, and {_led_to(e)}: ghost DNS, a censor listing the name; the other explanation is a name "
        "that exists only inside this network (an intranet)",
        "ghost_dns",
    )


def nxdomain_at_control(e: Evidence) -> Verdict | None:
    """The control finds no such name, and neither does this network (``site_down``: there is no site), or
    this network serves it over verified TLS with no blockpage (``accessible``: an intranet's name)."""
    if not _nowhere(e):
        return None
    if _verified_page(e):
        return Verdict(
            "accessible",
            reason="fetched over verified TLS, though the name exists only inside this network",
            rule="nxdomain_at_control",
        )
    if e.attempt.dns.addresses:
        return None  # ghost_dns decides
    mine = e.attempt.dns.failure or e.attempt.dns_failure or "no address"
    return Verdict(
        "site_down",
        reason=f"no such name: this network's resolver answers {mine}, the control's NXDOMAIN",
        rule="nxdomain_at_control",
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
        return blocked(
            "dns",
            _DNS_DETAILS.get(failure, "dns_failure"),
            f"the resolver answers {failure} for {e.obs.host}{repeated(e)}; {theirs}",
            "encrypted_dns",
        )
    if e.dns.consistent is not False or e.dns_reference == "the control":
        return None  # a control's answer decides (dns_inconsistent), or the answers agree
    if e.attempt.fetched and https_final(e):
        return None  # other addresses, but verified TLS: the same site (a CDN)
    what = failure_text(e) if e.failed else "a page no verified TLS vouches for"
    return blocked(
        "dns",
        "dns_bogon" if e.dns.probe_bogons else "dns_inconsistent",
        f"the resolver answers {', '.join(mine.addresses)}, {theirs}: nothing shared; {what}",
        "encrypted_dns",
    )


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
    return blocked(
        "dns",
        _DNS_DETAILS.get(failure, "dns_failure"),
        f"the resolver answers {failure} for {e.obs.host}{repeated(e)}; {theirs}",
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
    return blocked(
        "dns",
        _DNS_DETAILS.get(failure, "dns_failure"),
        f"{e.attempt.http[-2].url} redirects to {final.host}, for which the resolver answers {failure}"
        f"{repeated(e)}; the control follows the redirect to {theirs}",
        "dns_failure",
    )


def dns_inconsistent(e: Evidence) -> Verdict | None:
    if e.dns.consistent is not False or not e.attempt.dns.addresses:
        return None
    if e.attempt.fetched and (https_final(e) or (e.comparison is not None and e.comparison.same_page)):
        return None  # other addresses, same site: a CDN
    detail = "dns_bogon" if e.dns.probe_bogons else "dns_inconsistent"
    return blocked("dns", detail, f"{e.dns.why}; {failure_text(e) if e.failed else 'another page'}", "dns_inconsistent")


def _led_to(e: Evidence) -> str:
    """What the answer led to: a redirect, a page, or the failure."""
    for hop in e.attempt.http:
        location = hop.header("location")
        if location:
            return f"it redirects to {location[:100]}"
    final = e.attempt.final
    if e.attempt.fetched and final is not None:
        return f"it serves a page (status {final.code})"
    return f"{failure_text(e)}"
