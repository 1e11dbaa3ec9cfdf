"""Does the probe's final HTTP response look like the control's?

Method (OONI web_connectivity; ``../shared/docs/methodology.md``, "Control: the view from outside"), each
test ``None`` when it cannot be made:

- status: equal codes, judged only when the control's code is 2xx;
- body: ``min(a, b) / max(a, b)`` of the two body lengths, a match above 0.7 (a probe body cut
  at ``max_body_bytes`` is not held against the page);
- headers: the two sets of header names are equal, or they share a header that is not common
  (``COMMON_HEADERS``: what any server sends);
- title: the titles share a word of 5 or more characters.

OONI calls the page the same when the status matches and any of body, headers or title does.
One change here: a header match does not outweigh titles that *conflict* (both have long words
and share none): a blockpage served by a vendor's box can carry the same uncommon headers as the
site it replaces, but not its title.

Known false positives: dynamic pages (parked domains, ads, geo-targeted content) differ in
length from one fetch to the next, and localized sites serve other titles to other countries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from probe.verdict.observation import ControlHTTP, HTTPHop

BODY_MATCH_THRESHOLD = 0.7
TITLE_WORD_MIN_CHARS = 5
COMMON_HEADERS = frozenset(
    {
        "accept-ranges",
        "age",
        "cache-control",
        "cf-ray",
        "connection",
        "content-encoding",
        "content-language",
        "content-length",
        "content-type",
        "date",
        "etag",
        "expires",
        "keep-alive",
        "last-modified",
        "link",
        "location",
        "p3p",
        "pragma",
        "server",
        "set-cookie",
        "strict-transport-security",
        "transfer-encoding",
        "vary",
        "via",
        "x-content-type-options",
        "x-frame-options",
        "x-powered-by",
        "x-varnish",
        "x-xss-protection",
    }
)
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class HTTPComparison:
    status_match: bool | None
    body_proportion: float | None
    body_match: bool | None
    headers_match: bool | None
    title_match: bool | None
    title_conflict: bool

    @property
    def same_page(self) -> bool:
        """OONI's rule, with conflicting titles overriding a header match."""
        if self.status_match is not True:
            return False
        return bool(self.body_match or self.title_match or (self.headers_match and not self.title_conflict))

    def summary(self) -> str:
        parts = []
        if self.status_match is not None:
            parts.append("status " + ("matches" if self.status_match else "differs"))
        if self.body_proportion is not None:
            parts.append(f"body proportion {self.body_proportion:.2f}")
        if self.headers_match is not None:
            parts.append("headers " + ("match" if self.headers_match else "differ"))
        if self.title_conflict:
            parts.append("titles conflict")
        elif self.title_match is not None:
            parts.append("titles " + ("match" if self.title_match else "differ"))
        return ", ".join(parts) or "nothing to compare"


def title_words(title: str | None) -> set[str]:
    return {word.lower() for word in _WORD.findall(title or "") if len(word) >= TITLE_WORD_MIN_CHARS}


def _status_match(probe: int | None, control: int | None) -> bool | None:
    if probe is None or control is None or not 200 <= control < 300:
        return None
    return probe == control


def _body_proportion(final: HTTPHop, control: ControlHTTP) -> float | None:
    mine, theirs = final.body_length, control.body_length
    if not mine or not theirs:
        return None
    if final.truncated and theirs >= mine:
        return 1.0
    return min(mine, theirs) / max(mine, theirs)


def _headers_match(mine: dict[str, str], theirs: dict[str, str]) -> bool | None:
    if not mine or not theirs:
        return None
    my_names = {name.lower() for name in mine}
    their_names = {name.lower() for name in theirs}
    if my_names == their_names:
        return True
    return bool((my_names - COMMON_HEADERS) & (their_names - COMMON_HEADERS))


def compare(final: HTTPHop, control: ControlHTTP) -> HTTPComparison:
    proportion = _body_proportion(final, control)
    mine, theirs = title_words(final.title), title_words(control.title)
    both_titled = bool(mine and theirs)
    return HTTPComparison(
        status_match=_status_match(final.code, control.status),
        body_proportion=proportion,
        body_match=None if proportion is None else proportion > BODY_MATCH_THRESHOLD,
        headers_match=_headers_match(final.headers, control.headers),
        title_match=bool(mine & theirs) if both_titled else None,
        title_conflict=both_titled and not (mine & theirs),
    )
