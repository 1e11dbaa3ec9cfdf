"""Migration 8, for verdicts that can be traced: which rule gave each verdict, in which version of the rules.

    measurements  + rule (the deciding rule's id, ``probe.verdict.rules.RULES``), rules_version
                    (``RULES_VERSION`` when it was judged), suspected (the blocking method a verdict other
                    than ``blocked`` suspects; ``blocking`` is set for ``blocked`` only)

Like the other verdict columns (migration 4), these are not part of the hash chain: a measurement is
judged again when the rules change, and the version says which rules judged it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from probe.storage.columns import VERDICT_RULE_COLUMNS, add_missing_columns

if TYPE_CHECKING:
    import sqlite_utils


def rule_columns(db: sqlite_utils.Database) -> None:
    add_missing_columns(db.table("measurements"), VERDICT_RULE_COLUMNS)
    db.execute("create index if not exists measurements_rule on measurements (rule)")
