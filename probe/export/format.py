"""What an export format is: a name, one line for the help, what it reads, and a writer to a stream or a directory.

Most formats read the stored measurements (``measurements``, one run or all); a format that reads something else
(``stop``: a collector's shutdown windows) names its own reader and the filters it takes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from probe.config import RegionalSection
    from probe.storage.store import AnyDatabase

Rows = Iterable[dict[str, Any]]


@dataclass(frozen=True)
class Selection:
    """What to export, as ``probe export`` was asked (times as the database's ISO text)."""

    run_id: str | None = None
    since: str | None = None
    until: str | None = None
    area: str | None = None
    regional: RegionalSection | None = field(default=None, metadata={"filter": False})
    """``[collector.regional]``: the rules a collector's windows are found with (``stop``), as ``probe outages``
    and the alerts find them."""

    def given(self) -> tuple[str, ...]:
        """The names of the filters that were given."""
        return tuple(
            item.name
            for item in fields(self)
            if item.metadata.get("filter", True) and getattr(self, item.name) is not None
        )


def measurements(db: AnyDatabase, selection: Selection) -> Rows:
    """The stored measurements, of one run or all."""
    return db.measurement_rows(selection.run_id)


@dataclass(frozen=True)
class ExportFormat:
    name: str
    """As given to ``probe export --format``."""
    description: str
    """One line for ``probe export --help``."""
    to_stream: Callable[[Rows, TextIO], int] | None = None
    """Writes the rows to a text stream (a file or stdout); returns how many."""
    to_directory: Callable[[Rows, Path], int] | None = None
    """Writes the rows as a dataset under a new directory; returns how many."""
    reads: Callable[[AnyDatabase, Selection], Rows] = measurements
    """The rows it writes, from a database."""
    filters: tuple[str, ...] = ("run_id",)
    """The ``Selection`` fields it honours; any other given is refused."""
    unit: str = "measurements"
    """What a row is, for "N measurements written"."""
