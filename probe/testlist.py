"""Test lists: Citizen Lab's CSV format, or plain text with one URL a line.

A malformed row is reported with its line number and skipped; the rest of the list is
still measured. Only a list that cannot be read at all raises ``TestListError``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from probe.errors import TestListError

CITIZENLAB_COLUMNS = ("url", "category_code", "category_description", "date_added", "source", "notes")
WEB_SCHEMES = ("http", "https")
InputCheck = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Target:
    """One input of a test list, with Citizen Lab's metadata when the list had it."""

    input: str
    category_code: str = ""
    category_description: str = ""
    notes: str = ""


@dataclass(frozen=True)
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class TestList:
    __test__ = False  # not a pytest test class

    source: str
    targets: list[Target] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def check_url(url: str) -> str | None:
    """Why ``url`` cannot be measured by the web experiment, or None if it can."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"not a URL ({exc})"
    if parts.scheme not in WEB_SCHEMES:
        return f"scheme must be http or https: {url!r}"
    if not parts.hostname:
        return f"no host in {url!r}"
    return None


def _parse_csv(text: str, source: str, check: InputCheck) -> TestList:
    result = TestList(source)
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [h.strip() for h in header[:1]] != ["url"]:
        raise TestListError(f"{source}: not a Citizen Lab CSV list (first column must be 'url')")
    columns = [h.strip() for h in header]
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            result.problems.append(Problem(reader.line_num, f"unreadable row ({exc})"))
            continue
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            result.problems.append(Problem(line, f"expected {len(columns)} columns, found {len(row)}"))
            continue
        record = dict(zip(columns, (cell.strip() for cell in row), strict=True))
        reason = check(record["url"])
        if reason:
            result.problems.append(Problem(line, reason))
            continue
        result.targets.append(
            Target(
                record["url"],
                record.get("category_code", ""),
                record.get("category_description", ""),
                record.get("notes", ""),
            )
        )
    return result


def _parse_text(text: str, source: str, check: InputCheck) -> TestList:
    result = TestList(source)
    for line, raw in enumerate(text.splitlines(), start=1):
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        reason = check(entry)
        if reason:
            result.problems.append(Problem(line, reason))
            continue
        result.targets.append(Target(entry))
    return result


def parse_test_list(text: str, source: str = "list", check: InputCheck = check_url) -> TestList:
    """Parse a list given as text: Citizen Lab CSV when its header says so, else one input a line.

    ``check`` says why an input cannot be measured (default: the web experiment's URL check);
    pass another experiment's ``check_input`` for lists of host names or ``host:port``.
    """
    first = text.lstrip("\ufeff").split("\n", 1)[0].strip()
    if first.startswith("url,") or first == "url":
        return _parse_csv(text.lstrip("\ufeff"), source, check)
    return _parse_text(text, source, check)


def load_test_list(path: Path, check: InputCheck = check_url) -> TestList:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TestListError(f"{path}: cannot read test list: {exc}") from None
    return parse_test_list(text, str(path), check)
