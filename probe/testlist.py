"""Test lists: Citizen Lab's CSV format, or plain text with one URL a line.

A malformed row is reported with its line number and skipped; the rest of the list is
still measured. Only a list that cannot be read at all raises ``TestListError``.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
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


def _csv_targets(lines: Iterable[str], source: str, check: InputCheck, problems: list[Problem]) -> Iterator[Target]:
    reader = csv.reader(lines)
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
            problems.append(Problem(reader.line_num, f"unreadable row ({exc})"))
            continue
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            problems.append(Problem(line, f"expected {len(columns)} columns, found {len(row)}"))
            continue
        record = dict(zip(columns, (cell.strip() for cell in row), strict=True))
        reason = check(record["url"])
        if reason:
            problems.append(Problem(line, reason))
            continue
        yield Target(
            record["url"],
            record.get("category_code", ""),
            record.get("category_description", ""),
            record.get("notes", ""),
        )


def _text_targets(lines: Iterable[str], check: InputCheck, problems: list[Problem]) -> Iterator[Target]:
    for line, raw in enumerate(lines, start=1):
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        reason = check(entry)
        if reason:
            problems.append(Problem(line, reason))
            continue
        yield Target(entry)


def _is_csv(first_line: str) -> bool:
    first = first_line.lstrip("\ufeff").strip()
    return first.startswith("url,") or first == "url"


def parse_test_list(text: str, source: str = "list", check: InputCheck = check_url) -> TestList:
    """Parse a list given as text: Citizen Lab CSV when its header says so, else one input a line.

    ``check`` says why an input cannot be measured (default: the web experiment's URL check);
    pass another experiment's ``check_input`` for lists of host names or ``host:port``.
    """
    result = TestList(source)
    lines = io.StringIO(text.lstrip("\ufeff"))
    if _is_csv(text.split("\n", 1)[0]):
        result.targets = list(_csv_targets(lines, source, check, result.problems))
    else:
        result.targets = list(_text_targets(lines, check, result.problems))
    return result


def load_test_list(path: Path, check: InputCheck = check_url) -> TestList:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TestListError(f"{path}: cannot read test list: {exc}") from None
    return parse_test_list(text, str(path), check)


def _decoded(stream: IO[bytes], problems: list[Problem]) -> Iterator[str]:
    """The file's lines as text; a line that is not UTF-8 is a problem of its own, read as empty."""
    for number, raw in enumerate(stream, start=1):
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(Problem(number, f"not UTF-8 text (byte {exc.start})"))
            yield "\n"


def stream_test_list(path: Path, check: InputCheck = check_url) -> StreamedTestList:
    """A list read as it is measured: the first target is ready at once, whatever the list's size.

    A list that cannot be opened, or a CSV list with a wrong header, raises ``TestListError`` here;
    bad rows are added to ``problems`` as they are read."""
    try:
        stream = path.open("rb")
        first = stream.readline(65536)
        stream.seek(0)
    except OSError as exc:
        raise TestListError(f"{path}: cannot read test list: {exc.strerror or exc}") from None
    listing = StreamedTestList(str(path), stream)
    decoded = _decoded(stream, listing.problems)
    lines = itertools.chain([next(decoded, "").lstrip("\ufeff")], decoded)
    if _is_csv(first.decode("utf-8", "replace")):
        header_checked = _csv_targets(lines, str(path), check, listing.problems)
        try:
            listing.pending = itertools.chain([next(header_checked)], header_checked)
        except StopIteration:
            listing.pending = iter(())
        except TestListError:
            stream.close()
            raise
    else:
        listing.pending = _text_targets(lines, check, listing.problems)
    return listing


class StreamedTestList:
    """A test list whose targets are read from its file while they are measured (``pending``);
    ``targets`` are measured after them (inputs given on the command line)."""

    __test__ = False  # not a pytest test class

    def __init__(self, source: str, stream: IO[bytes]) -> None:
        self.source = source
        self.targets: list[Target] = []
        self.problems: list[Problem] = []
        self.pending: Iterator[Target] = iter(())
        self._stream = stream

    def __iter__(self) -> Iterator[Target]:
        with self._stream:
            yield from self.pending
        yield from self.targets
