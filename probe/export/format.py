"""What an export format is: a name, one line for the help, and a writer to a stream or to a directory."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

Rows = Iterable[dict[str, Any]]


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
