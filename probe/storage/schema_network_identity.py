"""Migration 7, for the network identity of a run (told by the test helper when ``probe_asn = "auto"``).

    runs   + probe_network_name (the network's name, e.g. "JSC Kazakhtelecom"; "" when unknown),
             network_source (config: the volunteer's values; helper: a test helper told them;
             unknown: some "auto" value nobody could tell, kept as AS0/ZZ)

``probe_asn`` and ``probe_cc`` exist since migration 1: they now hold what was resolved, per run, so a
SIM swap or a VPN between two runs shows as two networks. The address itself is never stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from probe.storage.tables import apply_sqlite

if TYPE_CHECKING:
    import sqlite_utils


def network_identity_columns(db: sqlite_utils.Database) -> None:
    apply_sqlite(db.conn, 7)  # runs + probe_network_name, network_source
