"""Blockpage fingerprints in OONI's CSV format, loaded at run time from the files the config names.

Columns: ``name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,
expected_countries,source,exp_url,notes`` (the format of ooni/blocking-fingerprints). Used here:

- ``location_found``: ``dns`` (an address or CNAME in a DNS answer), ``body`` (the response body),
  ``header.<name>`` (that response header, e.g. ``header.location``, ``header.server``).
- ``pattern_type``: ``full`` (equal), ``prefix``, ``contains``, ``regexp`` (``re.search``).
- ``scope``: ``fp`` marks a *known false positive*: a pattern that looks like a blockpage but is
  not one. Its matches are reported apart and never confirm a block.

Matching is case-sensitive, as in OONI's pipeline; header names are not. Bodies are matched as
text: UTF-8, else the charset of ``Content-Type``, else Latin-1. Regular expressions come from the
operator's own files and are trusted; bodies are already capped by ``[http] max_body_bytes``.

A row that cannot be used (unknown location or pattern type, bad regular expression, empty
pattern) is reported as a problem with its line number and skipped; a file that cannot be read
at all is a ``ConfigError``.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from probe.errors import ConfigError

FALSE_POSITIVE_SCOPE = "fp"
PATTERN_TYPES = ("full", "prefix", "contains", "regexp")
REQUIRED_COLUMNS = ("name", "scope", "location_found", "pattern_type", "pattern")
_HEADER_PREFIX = "header."
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]{1,40})", re.IGNORECASE)


@dataclass(frozen=True)
class Fingerprint:
    name: str
    scope: str
    location: str
    """``dns``, ``body`` or ``header.<lower-case name>``."""
    pattern_type: str
    pattern: str
    confidence: int | None = None
    countries: tuple[str, ...] = ()
    source: str = ""
    regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @property
    def false_positive(self) -> bool:
        return self.scope == FALSE_POSITIVE_SCOPE

    def matches(self, value: str) -> bool:
        if self.pattern_type == "full":
            return value == self.pattern
        if self.pattern_type == "prefix":
            return value.startswith(self.pattern)
        if self.pattern_type == "contains":
            return self.pattern in value
        return self.regex is not None and self.regex.search(value) is not None


@dataclass(frozen=True)
class Match:
    fingerprint: Fingerprint
    where: str
    """What matched: ``dns``, ``body`` or ``header.location`` ..., with the hop's URL when known."""

    @property
    def name(self) -> str:
        return self.fingerprint.name


@dataclass
class Fingerprints:
    """A set of fingerprints, indexed by where they are looked for."""

    items: list[Fingerprint] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)

    def extend(self, other: Fingerprints) -> None:
        self.items.extend(other.items)
        self.problems.extend(other.problems)

    def match_dns(self, values: Iterable[str]) -> list[Match]:
        """Fingerprints matching any address or CNAME of a DNS answer."""
        found: list[Match] = []
        for value in values:
            for fingerprint in self.items:
                if fingerprint.location == "dns" and fingerprint.matches(value):
                    found.append(Match(fingerprint, f"dns {value}"))
        return found

    def match_http(self, body: bytes | str | None, headers: Mapping[str, str], *, where: str = "") -> list[Match]:
        """Fingerprints matching one HTTP response: its body and its headers."""
        suffix = f" of {where}" if where else ""
        lowered = {name.lower(): value for name, value in headers.items()}
        text: str | None = None
        found: list[Match] = []
        for fingerprint in self.items:
            if fingerprint.location == "body":
                if body is None:
                    continue
                if text is None:
                    text = body_text(body, lowered.get("content-type"))
                if fingerprint.matches(text):
                    found.append(Match(fingerprint, "body" + suffix))
            elif fingerprint.location.startswith(_HEADER_PREFIX):
                value = lowered.get(fingerprint.location[len(_HEADER_PREFIX) :])
                if value is not None and fingerprint.matches(value):
                    found.append(Match(fingerprint, fingerprint.location + suffix))
        return found


def body_text(body: bytes | str, content_type: str | None = None) -> str:
    """A body as text for matching: UTF-8, else its declared charset, else Latin-1 (never fails)."""
    if isinstance(body, str):
        return body
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = _CHARSET.search(content_type or "")
    if declared:
        try:
            return body.decode(codecs.lookup(declared.group(1)).name, errors="replace")
        except LookupError:
            pass
    return body.decode("latin-1")


def _fingerprint(row: Mapping[str, str | None]) -> Fingerprint:
    def text(key: str) -> str:
        return (row.get(key) or "").strip()

    name, location, pattern_type = text("name"), text("location_found").lower(), text("pattern_type").lower()
    pattern = row.get("pattern") or ""  # kept as written: leading spaces can matter
    if not name:
        raise ValueError("no name")
    if not pattern:
        raise ValueError(f"{name}: empty pattern")
    if (
        location != "dns"
        and location != "body"
        and not (location.startswith(_HEADER_PREFIX) and len(location) > len(_HEADER_PREFIX))
    ):
        raise ValueError(f"{name}: unknown location_found {location!r}")
    if pattern_type not in PATTERN_TYPES:
        raise ValueError(f"{name}: unknown pattern_type {pattern_type!r}")
    regex = None
    if pattern_type == "regexp":
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{name}: bad regular expression: {exc}") from None
    confidence = text("confidence_no_fp")
    countries = tuple(code.strip() for code in text("expected_countries").split(",") if code.strip())
    return Fingerprint(
        name=name,
        scope=text("scope").lower(),
        location=location,
        pattern_type=pattern_type,
        pattern=pattern,
        confidence=int(confidence) if confidence.isdigit() else None,
        countries=countries,
        source=text("source"),
        regex=regex,
    )


def parse_fingerprints(text: str, source: str = "fingerprints") -> Fingerprints:
    """Fingerprints from the text of one CSV file; unusable rows become ``problems``."""
    result = Fingerprints()
    reader = csv.DictReader(text.splitlines(keepends=True))
    missing = [column for column in REQUIRED_COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        raise ConfigError(f"{source}: not a fingerprint file (missing columns: {', '.join(missing)})")
    for row in reader:
        try:
            result.items.append(_fingerprint(row))
        except ValueError as exc:
            result.problems.append(f"{source}:{reader.line_num}: {exc} (skipped)")
    return result


def load_fingerprints(paths: Sequence[Path]) -> Fingerprints:
    """Every fingerprint in ``paths``, in order; ``ConfigError`` for a file that cannot be read."""
    result = Fingerprints()
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(f"{path}: cannot read fingerprints: {reason}") from None
        result.extend(parse_fingerprints(text, str(path)))
    return result
