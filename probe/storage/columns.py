"""The ``measurements`` table's columns, named once: the schema, the hash chain and the exports read them here.

A measurement row is its own bookkeeping (``id``, ``run_id``, ``experiment``, ...), the OONI envelope, the
verdict and the test keys. The chain covers what never changes once stored; verdicts stay out of it because
a measurement can be judged again later. Migrations that add columns add them to ``SCHEMA`` here too; the
columns of a step already released are never renamed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ENVELOPE_COLUMNS = (
    "probe_asn",
    "probe_cc",
    "test_name",
    "test_version",
    "report_id",
    "software_name",
    "software_version",
)
"""The OONI envelope fields kept as columns (copied from ``Measurement`` as they are)."""

VERDICT_COLUMNS = ("verdict", "blocking", "blocking_detail")
"""The verdict, since migration 1; not chained."""

VERDICT_DETAIL_COLUMNS: dict[str, type] = {"confirmed": int, "reason": str, "network_state": str}
"""Why a verdict was given and in which network state, since migration 4; not chained."""

VERDICT_RULE_COLUMNS: dict[str, type] = {"rule": str, "rules_version": str, "suspected": str}
"""The deciding rule's id, the rules' version, and the method a verdict other than ``blocked`` suspects, since
migration 8; not chained."""

VERDICT_STAGE_COLUMNS: dict[str, type] = {**VERDICT_DETAIL_COLUMNS, **VERDICT_RULE_COLUMNS}
"""The verdict stage's columns that ``Measurement`` has no field for."""

VERDICT_ROW_COLUMNS = (*VERDICT_COLUMNS, *VERDICT_STAGE_COLUMNS)
"""Every column a verdict fills: the keys of ``probe.verdict``'s ``Verdict.as_row()``, which ``set_verdict`` takes."""


def verdict_update(
    measurement_id: str, row: Mapping[str, Any], *, only_if_changed: bool = False
) -> tuple[str, list[Any]]:
    """The ``update`` that replaces a measurement's verdict with ``row`` (every column of ``VERDICT_ROW_COLUMNS``).

    ``?`` placeholders (both engines' connections take them). A row that is not a whole verdict is a bug in
    the caller, refused rather than half-written. ``only_if_changed``: a row whose verdict already is ``row``
    is left alone (the statement's row count then says whether the verdict changed; SQLite's ``is not``)."""
    if set(row) != set(VERDICT_ROW_COLUMNS):
        wrong = sorted(set(row) ^ set(VERDICT_ROW_COLUMNS))
        raise ValueError(f"a verdict row has exactly the columns {VERDICT_ROW_COLUMNS}; these differ: {wrong}")
    assignments = ", ".join(f"{column} = ?" for column in VERDICT_ROW_COLUMNS)
    values = [row[column] for column in VERDICT_ROW_COLUMNS]
    if not only_if_changed:
        return f"update measurements set {assignments} where id = ?", [*values, measurement_id]
    differs = " or ".join(f"{column} is not ?" for column in VERDICT_ROW_COLUMNS)
    return f"update measurements set {assignments} where id = ? and ({differs})", [*values, measurement_id, *values]


INITIAL_SCHEMA: dict[str, type] = {
    "id": str,
    "run_id": str,
    "experiment": str,
    "input": str,
    "category_code": str,
    "started_at": str,
    "test_start_time": str,
    "runtime": float,
    "failure": str,
    "failed_step": str,
    **dict.fromkeys(VERDICT_COLUMNS, str),
    **dict.fromkeys(ENVELOPE_COLUMNS, str),
    "annotations": str,
    "test_keys": str,
}
"""The table as migration 1 creates it."""

CHAIN_COLUMNS: dict[str, type] = {"probe_id": str, "chain_seq": int, "chain_prev": str, "chain_hash": str}
"""The probe a row came from (NULL for a probe's own rows) and its place in that probe's hash chain, since
migration 2."""

CHAIN_EPOCH_COLUMNS: dict[str, type] = {"chain_epoch": str}
"""Which of its probe's chains a collector's row belongs to, since migration 6."""

MEASUREMENT_COLUMNS: dict[str, type] = {
    **INITIAL_SCHEMA,
    **CHAIN_COLUMNS,
    **VERDICT_DETAIL_COLUMNS,
    **CHAIN_EPOCH_COLUMNS,
    **VERDICT_RULE_COLUMNS,
}
"""Every column of the table after the latest migration, in SQLite's order. A collector's PostgreSQL table has
the same ones (``probe.storage.postgres.schema``; a test compares the two stores)."""

CHAINED_COLUMNS = tuple(name for name in INITIAL_SCHEMA if name not in VERDICT_COLUMNS)
"""A measurement's immutable columns, covered by the hash chain. An allow-list: columns added later stay out."""

CHAIN_RECORD_COLUMNS = (*CHAINED_COLUMNS, "chain_seq", "chain_prev", "chain_hash")
"""What a chained record carries: its content and its place in the chain (uploads, bundles, verification)."""

EXPORT_COLUMNS = (
    "id",
    "probe_id",
    "run_id",
    "experiment",
    "input",
    "category_code",
    "started_at",
    "runtime",
    "failure",
    "failed_step",
    *VERDICT_COLUMNS,
    "confirmed",
    "suspected",
    "reason",
    "rule",
    "rules_version",
    "network_state",
    *ENVELOPE_COLUMNS,
    "chain_seq",
    "chain_hash",
)
"""The flat columns every export format carries, in this order (a database without a column exports it empty)."""


def add_missing_columns(table: Any, columns: dict[str, type]) -> None:
    """Add each column ``table`` (a sqlite-utils table) lacks: a step that is run again completes, never fails."""
    existing = set(table.columns_dict)
    for column, kind in columns.items():
        if column not in existing:
            table.add_column(column, kind)
