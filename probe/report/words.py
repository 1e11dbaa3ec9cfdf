"""The report's words: kinds, methods and statuses in plain language, and the method for a lay reader."""

from __future__ import annotations

from html import escape

from probe.analysis import kinds
from probe.analysis.hysteresis import Hysteresis

KIND_WORDS = {
    kinds.TARGETED_BLOCK: "Blocked (this target only)",
    kinds.SITE_DOWN: "Down everywhere (not censorship)",
    kinds.NETWORK_SHUTDOWN: "Network shutdown",
    kinds.INTERNATIONAL_CUT: "International connections cut",
    kinds.LOCAL_FAULT: "Local fault (the probe's own link)",
    kinds.DEGRADED: "Degraded network",
}
BLOCKING_WORDS = {
    "dns": "DNS (the name)",
    "tcp_ip": "IP (connections)",
    "tls": "TLS (the handshake)",
    "http-failure": "HTTP (cut or slowed)",
    "http-diff": "HTTP (another page)",
    "sms": "SMS",
}
STATUS_WORDS = {
    "ok": "reached",
    "blocked": "blocked",
    "failed": "failed (no verdict)",
    "site_down": "down everywhere",
    "network_down": "network down",
    "inconclusive": "inconclusive",
    "nodata": "no measurement",
}
BASIS_WORDS = {
    kinds.CONFIRMED: "a blockpage was recognised",
    kinds.VERDICT: "compared with a vantage point outside",
    kinds.CONTROLS: "the network's control sites",
    kinds.FAILURE: "failures only (no outside comparison)",
    kinds.HEARTBEAT: "every site of a round failed",
}


def kind_words(kind: str) -> str:
    return KIND_WORDS.get(kind, kind)


def blocking_words(blocking: str | None, detail: str | None) -> str:
    if detail in kinds.STATE_KINDS:  # a network window's state says no more than its kind
        detail = None
    if blocking is None and detail is None:
        return ""
    text = BLOCKING_WORDS.get(blocking or "", blocking or "")
    if detail and detail != blocking:
        text = f"{text} ({detail})" if text else detail
    return text


def method_html(rules: Hysteresis) -> str:
    """The method, in plain words, as HTML paragraphs."""
    opened, closed = rules.open_after, rules.close_after
    rounds = "round" if opened == 1 else f"{opened} rounds"
    good = "round" if closed == 1 else f"{closed} rounds"
    items = "".join(
        f"<li><strong>{escape(KIND_WORDS[kind])}</strong>: {escape(text)}</li>"
        for kind, text in (
            (kinds.TARGETED_BLOCK, "one site fails (or shows a blockpage) while the network and other sites work."),
            (kinds.SITE_DOWN, "the site fails from outside the country too: it is down, not censored."),
            (kinds.NETWORK_SHUTDOWN, "control sites at home and abroad all fail: nothing gets through."),
            (kinds.INTERNATIONAL_CUT, "sites abroad fail while sites inside the country still work."),
            (kinds.LOCAL_FAULT, "everything fails and the probe's own router does not answer: a local problem."),
            (kinds.DEGRADED, "some control sites fail, with no pattern: an unreliable connection."),
        )
    )
    return f"""
<p>A <strong>probe</strong> is a small program a volunteer runs on an ordinary internet connection. Every round
(for example every hour) it tries to open each site on its list, step by step: looking up the site's address
(DNS), connecting to it (TCP), the secure handshake (TLS) and fetching the page (HTTP). It also tries a few
<strong>control sites</strong> inside and outside the country. Everything it sees is kept, failures included.</p>
<p><strong>How a site is blocked</strong>, in the order a browser meets it: <em>DNS</em>, the name is not
found or points elsewhere; <em>IP</em>, connections to the site's address fail; <em>TLS</em>, the secure handshake
that names the site is cut (SNI filtering) or intercepted with a false certificate; <em>HTTP</em>, the request is
cut, slowed to a crawl, or answered with another page (a blockpage).</p>
<p><strong>Blocked, or just down?</strong> A failure alone proves nothing. Where a <em>test helper</em> outside the
country is configured, it tries the same site at the same time: if it can open the site and the probe cannot, the
site is blocked for the probe's network; if neither can, the site is down. When the control sites fail too, the
whole network is cut, and single sites are not judged during that time.</p>
<p><strong>From measurements to windows.</strong> One failure can be a glitch. A window opens only after
{rounds} in a row went wrong, and closes after {good} in a row went right (SMS need one round more, because phone
networks lose a few messages on a normal day). Times are given as ranges, because nobody saw the exact moment:
a window <em>started</em> after the last good measurement and no later than the first bad one, and <em>ended</em>
no earlier than the last bad measurement and before the first good one. <em>Ongoing</em> means it had not ended
when the data stops. Kinds of window:</p>
<ul>{items}</ul>
<p><strong>Confidence</strong> (0 to 1) grows with the number of bad measurements and of probes that agree, and
with the strength of the evidence: a recognised blockpage counts most, a comparison with the outside or the control
sites next, a bare failure least. A window seen by only some of the probes in a network counts less.
<strong>Severity</strong> follows IODA's practice: how far reachability fell below normal, times the duration in
minutes (a total loss for an hour scores 60).</p>
<p><strong>Limits.</strong> Without a test helper, a site that is down everywhere looks like a block (with low
confidence). Sites served differently by country can look altered. A block that happens during a shutdown cannot be
seen until the network is back, so its end is given with a wide range. Gaps in the charts are times the probe was
not running: no data is not the same as no censorship.</p>
"""


VERIFY_HTML = """
<p>Every measurement is chained to the one before it by a cryptographic hash (SHA-256), and the probe signs the head
of its chain with its own key after every round. Changing, removing or reordering any measurement breaks the chain.
The hashes below are what the data was when this report was made: anyone holding the data (or a copy sent to a
collector) can run <code>probe verify</code> and compare.</p>
"""
