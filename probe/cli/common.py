"""Options and helpers shared by the commands (``--config``, ``--db``, ``--accept``, times, logs)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from probe.config import Config
from probe.errors import ProbeError
from probe.storage.db import DB_FILENAME
from probe.storage.store import is_postgres
from probe.times import db_time

F = TypeVar("F", bound=Callable[..., Any])
Entry = TypeVar("Entry")


def config_option(func: F) -> F:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Config file (default: $PROBE_CONFIG, your config file, the system's, or the packaged default: "
        "`probe paths` says which).",
    )(func)


class RegistryChoice(click.Choice):  # type: ignore[type-arg]
    """The names in a registry as they are when the command runs, not when it was defined: an entry
    registered after the CLI was imported is offered (and listed in the help) like the others."""

    def __init__(self, registry: Mapping[str, object]) -> None:
        self.registry = registry
        super().__init__(list(registry))

    @property  # type: ignore[override]
    def choices(self) -> Sequence[str]:
        return list(self.registry)

    @choices.setter
    def choices(self, value: Sequence[str]) -> None:
        pass  # click's __init__ sets it; the registry stays the one list


class _RegistryOption(click.Option):
    def __init__(self, *args: Any, describe: Callable[[], str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.describe = describe

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        self.help = self.describe()
        return super().get_help_record(ctx)


def registry_option(
    *decls: str, registry: Mapping[str, Entry], describe: Callable[[Entry], str], **kwargs: Any
) -> Callable[[F], F]:
    """An option naming one entry of ``registry`` (experiments, export formats); its choices and its help,
    one ``describe(entry)`` each, are the entries registered when the command is used."""
    return click.option(
        *decls,
        cls=_RegistryOption,
        type=RegistryChoice(registry),
        describe=lambda: "; ".join(describe(entry) for entry in registry.values()) + ".",
        **kwargs,
    )


class DatabaseTarget(click.ParamType):  # type: ignore[type-arg]
    """A SQLite file (a ``Path``), or a PostgreSQL URI kept as text (``postgresql:///probes?host=/run/postgresql``)."""

    name = "PATH|URI"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path | str:
        if isinstance(value, Path) or not is_postgres(str(value)):
            return Path(value)
        return str(value)


DATABASE = DatabaseTarget()


def db_option(func: F) -> F:
    return click.option(
        "--db",
        "db_path",
        type=DATABASE,
        help=f"Database (default: <data_dir>/{DB_FILENAME}); a collector's may be a postgresql:// URI.",
    )(func)


def accept_option(func: F) -> F:
    return click.option(
        "--accept",
        is_flag=True,
        help="Accept the consent notice without being asked (unattended installs); read `probe consent` first.",
    )(func)


def database_path(config: Config, db_path: Path | str | None) -> Path:
    """A probe's own database: always SQLite."""
    if isinstance(db_path, str):
        raise ProbeError("PostgreSQL holds a collector's measurements; this command needs a probe's SQLite database")
    return db_path or config.probe.data_dir / DB_FILENAME


def store_target(config: Config, db_path: Path | str | None) -> Path | str:
    """The database a reading command reads: a SQLite file, or a collector's PostgreSQL URI."""
    return db_path or config.probe.data_dir / DB_FILENAME


def log_line(line: str) -> None:
    """A daemon's log line on stderr, with the UTC time (journald adds its own too)."""
    click.echo(f"{datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')} {line}", err=True)


def parse_time(text: str | None, option: str) -> str | None:
    """A date or an ISO 8601 time (UTC unless it says otherwise) as the database's time text.

    A date alone for ``--until`` means the end of that day: ``--since 2026-11-01 --until 2026-11-30``
    is all of November.
    """
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ProbeError(
            f"{option}: not a date or ISO 8601 time: {text!r} (e.g. 2026-11-01 or 2026-11-01T08:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if option == "--until" and len(text.strip()) == 10:
        moment += timedelta(days=1)
    return db_time(moment)


def parse_since(text: str | None) -> str | None:
    """``--since`` as the database's time text."""
    return parse_time(text, "--since")
