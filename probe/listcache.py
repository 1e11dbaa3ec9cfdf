"""Test lists that stay current: Citizen Lab's global and country lists, cached in ``<data_dir>/lists/``.

``update`` fetches ``<source>global.csv`` and ``<source><cc>.csv`` (``[lists] source``; lower-case country
code, as Citizen Lab names them). A download that fails, is larger than ``max_bytes``, is not a Citizen
Lab CSV list, or holds no measurable URL leaves the last good copy in place, untouched: the new copy is
written beside it and renamed over it only once it has been checked. Each copy has a ``<name>.json``
beside it recording where it came from, when, its licence, its SHA-256 and its number of URLs.

``cached_lists`` returns the copies that ``probe run`` measures besides the shipped list.
"""

from __future__ import annotations

import hashlib
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
    parsed = parse_test_list(text, url)
    if not parsed.targets:
        raise ValueError("no measurable URL in it")
    if len(parsed.problems) > len(parsed.targets):
        raise ValueError(
            f"more bad rows than good ones ({len(parsed.problems)} of {len(parsed.problems) + len(parsed.targets)})"
        )
    return len(parsed.targets)


def update_one(config: Config, name: str) -> ListUpdate:
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
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{name.lower()}.csv"
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


def update(config: Config, country: str) -> list[ListUpdate]:
    """The global list and ``country``'s."""
    return [update_one(config, GLOBAL), update_one(config, country)]


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
