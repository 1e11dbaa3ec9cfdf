"""Test lists that stay current: Citizen Lab's global and country lists, cached in ``<data_dir>/lists/``.

``update`` fetches ``<source>global.csv`` and ``<source><cc>.csv`` (``[lists] source``; lower-case country
code, as Citizen Lab names them). A download that fails, is larger than ``max_bytes``, is not a Citizen
Lab CSV list, or holds no measurable URL leaves the last good copy in place, untouched: the new copy is
written beside it and renamed over it only once it has been checked. So does a list that is not whole,
even in a complete HTTP answer (a source or a proxy that served part of the file): its last row cut (no
line end after it, or fewer columns than the header), a row without the header's columns, or fewer than
two thirds of the last good copy's URLs at once (``MAX_SHRINK``; ``allow_shrink`` takes it all the same).
Each copy has a ``<name>.json`` beside it recording where it came from, when, its licence, its SHA-256 and
its number of URLs.

``cached_lists`` returns the copies that ``probe run`` measures besides the shipped list.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from probe import SOFTWARE_NAME, __version__
from probe.config import Config
from probe.errors import TestListError
from probe.model import utc_now_iso
from probe.testlist import Problem, TestList, load_test_list, parse_test_list

LISTS_DIRNAME = "lists"
GLOBAL = "global"
MAX_SHRINK = 1 / 3
"""The share of the last good copy's URLs a new copy may lose at once; more looks like a list cut short."""


@dataclass(frozen=True)
class ListUpdate:
    """What happened to one list: ``updated`` (with its URL count), or kept (and why)."""

    name: str
    url: str
    updated: bool
    detail: str

    def __str__(self) -> str:
        state = "updated" if self.updated else "kept the last good copy"
        return f"{self.name}: {state} ({self.detail})"


def lists_dir(config: Config) -> Path:
    return config.probe.data_dir / LISTS_DIRNAME


def _download(url: str, *, timeout: float, max_bytes: int) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": f"{SOFTWARE_NAME}/{__version__}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        data: bytes = response.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"larger than {max_bytes} bytes")
    return data


def _check(data: bytes, url: str) -> int:
    """The number of URLs in a good Citizen Lab list; ValueError saying why it is not one."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    if not text.lstrip("\ufeff").startswith("url,"):
        raise ValueError("not a Citizen Lab CSV list (no 'url,...' header)")
    _check_whole(text)
    parsed = parse_test_list(text, url)
    if not parsed.targets:
        raise ValueError("no measurable URL in it")
    if len(parsed.problems) > len(parsed.targets):
        raise ValueError(
            f"more bad rows than good ones ({len(parsed.problems)} of {len(parsed.problems) + len(parsed.targets)})"
        )
    return len(parsed.targets)


def _check_whole(text: str) -> None:
    """ValueError when the list is not whole: its last row cut, or a row without the header's columns."""
    if not text.endswith("\n"):
        raise ValueError("its last row is cut (no line end after it): a download cut short")
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    width = len(next(reader))
    rows: list[tuple[int, int]] = []
    try:
        rows = [(reader.line_num, len(row)) for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise ValueError(f"an unreadable row near line {reader.line_num} ({exc}): a download cut short?") from None
    for index, (line, found) in enumerate(rows):
        if found == width:
            continue
        if index == len(rows) - 1:
            raise ValueError(f"its last row is cut ({found} of the header's {width} columns): a download cut short")
        raise ValueError(f"row {line} has {found} columns where the header has {width}")


def _shrunk(count: int, record: Path) -> str | None:
    """Why ``count`` URLs cannot replace the last good copy recorded in ``record``, if they lose too many."""
    try:
        previous = json.loads(record.read_text(encoding="utf-8")).get("urls")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(previous, int) or count >= previous * (1 - MAX_SHRINK):
        return None
    return (
        f"{count} URLs where the last good copy has {previous}: it shrank by more than a third at once, "
        "as a list cut short does (--allow-shrink takes it)"
    )


def update_one(config: Config, name: str, *, allow_shrink: bool = False) -> ListUpdate:
    """Fetch one list (``global`` or a country code) into the cache, or keep the last good copy."""
    settings = config.lists
    url = f"{settings.source}{name.lower()}.csv"
    try:
        data = _download(url, timeout=settings.timeout, max_bytes=settings.max_bytes)
        count = _check(data, url)
    except (OSError, urllib.error.URLError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return ListUpdate(name.lower(), url, False, f"{url}: {reason}")
    directory = lists_dir(config)
    target = directory / f"{name.lower()}.csv"
    shrunk = None if allow_shrink else _shrunk(count, target.with_suffix(".json"))
    if shrunk is not None:
        return ListUpdate(name.lower(), url, False, f"{url}: {shrunk}")
    directory.mkdir(parents=True, exist_ok=True)
    record = {
        "source": url,
        "fetched_at": utc_now_iso(),
        "licence": settings.licence,
        "sha256": hashlib.sha256(data).hexdigest(),
        "urls": count,
    }
    for path, content in ((target, data), (target.with_suffix(".json"), json.dumps(record, indent=2).encode())):
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(content)
        os.replace(partial, path)
    return ListUpdate(name.lower(), url, True, f"{count} URLs from {url}")


def update(config: Config, country: str, *, allow_shrink: bool = False) -> list[ListUpdate]:
    """The global list and ``country``'s (``allow_shrink``: even if one loses more than ``MAX_SHRINK`` of its URLs)."""
    return [
        update_one(config, GLOBAL, allow_shrink=allow_shrink),
        update_one(config, country, allow_shrink=allow_shrink),
    ]


def cached_lists(config: Config) -> list[Path]:
    """The cached copies, global first; a copy without its record (an interrupted update) is left out."""
    directory = lists_dir(config)
    if not directory.is_dir():
        return []
    found = [path for path in directory.glob("*.csv") if path.with_suffix(".json").exists()]
    return sorted(found, key=lambda path: (path.stem != GLOBAL, path.stem))


def add_cached_lists(test_list: TestList, paths: list[Path]) -> None:
    """Append the cached lists' URLs not already in ``test_list`` (first seen wins), naming every source."""
    seen = {target.input for target in test_list.targets}
    sources = [test_list.source]
    for path in paths:
        try:
            cached = load_test_list(path)
        except TestListError as exc:
            test_list.problems.append(Problem(0, str(exc)))
            continue
        sources.append(str(path))
        for target in cached.targets:
            if target.input not in seen:
                seen.add(target.input)
                test_list.targets.append(target)
    test_list.source = " + ".join(sources)
