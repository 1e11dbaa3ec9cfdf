"""The blockpage rule: a known blockpage fingerprint (HTTP body or header, or a DNS answer the control lacks)."""

from __future__ import annotations

from probe.addresses import is_ip
from probe.verdict.rules.common import blocked
from probe.verdict.rules.evidence import Evidence
from probe.verdict.rules.verdict import Verdict


def blockpage_fingerprint(e: Evidence) -> Verdict | None:
    if e.dns_matches:
        match = e.dns_matches[0]
        return blocked(
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
    return blocked(
        method,
        detail,
        f"{how}: {match.where} matches fingerprint {match.name}",
        "blockpage_fingerprint",
        confirmed=True,
        fingerprints=names,
    )
