"""Migration 10: passwords in collector and helper URLs masked where older versions stored them.

A ``user:password@`` in ``[upload] url`` (or ``[control] url``) used to be written into each run's
``config``, the consent record's ``upload_url``, and the upload queue's marks (``upload_acks``,
``upload_quarantine``), which name the collector by its URL. Now they hold the URL with its password
masked (``probe.config.without_password``); this step rewrites what older versions left. Runs are
not chained, so their hash chain is untouched.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from probe.config import without_password

if TYPE_CHECKING:
    import sqlite_utils


def _masked_config(text: str) -> str:
    try:
        config = json.loads(text)
    except ValueError:
        return text
    if not isinstance(config, dict):
        return text
    upload: Any = config.get("upload")
    if isinstance(upload, dict) and isinstance(upload.get("url"), str):
        upload["url"] = without_password(upload["url"])
    control: Any = config.get("control")
    if isinstance(control, dict):
        urls = control.get("url")
        if isinstance(urls, str):
            control["url"] = without_password(urls)
        elif isinstance(urls, list):
            control["url"] = [without_password(url) if isinstance(url, str) else url for url in urls]
    return json.dumps(config)


def mask_stored_passwords(db: sqlite_utils.Database) -> None:
    """Migration 10."""
    conn = db.conn
    # Overwrite what is rewritten, instead of leaving the old bytes in free space in the file.
    conn.execute("pragma secure_delete = on")
    tables = set(db.table_names())
    for run_id, config in conn.execute("select id, config from runs where config like '%@%'").fetchall():
        masked = _masked_config(config)
        if masked != config:
            conn.execute("update runs set config = ? where id = ?", (masked, run_id))
    if "consent" in tables:
        for row_id, url in conn.execute("select id, upload_url from consent where upload_url like '%@%'").fetchall():
            conn.execute("update consent set upload_url = ? where id = ?", (without_password(url), row_id))
    for table in ("upload_acks", "upload_quarantine"):
        if table not in tables:
            continue
        rows = conn.execute(f"select distinct collector from {table} where collector like '%@%'").fetchall()
        for (collector,) in rows:
            masked = without_password(collector)
            if masked == collector:
                continue
            # Marks already kept under the masked name (written since) win; the old ones go.
            conn.execute(f"update or ignore {table} set collector = ? where collector = ?", (masked, collector))
            conn.execute(f"delete from {table} where collector = ?", (collector,))
