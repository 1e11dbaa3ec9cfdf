# ruff: noqa: F811  (pytest fixtures imported from another module are parameters here)
"""A probe database that lost records a collector holds goes on under a new chain epoch, and says so.

A restored backup is the loss: the database is copied with SQLite's backup API, uploads go on, then the
copy replaces the database (files swapped with no connection open). Real collector on loopback.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from support.pgcluster import pg_cluster, pg_url  # noqa: F401  (fixtures)
from support.unattended import fill, probe_identity

from probe.cli.main import cli
from probe.collector import registry
from probe.collector.service import running_collector
from probe.config import UploadSection
from probe.identity import Identity, load_or_create
from probe.integrity.heads import local_epoch, sign_local_head
from probe.integrity.signing import sign_head
from probe.storage import Database, open_database
from probe.storage.own_chain import local_chain_tail
from probe.storage.store import open_store
from probe.upload.epochs import go_on_under_new_epoch
from probe.upload.quarantine import quarantine_count
from probe.upload.queue import measurement_pending, queued
from probe.upload.uploader import collector_key, make_session, upload_pending


def settings(url: str) -> UploadSection:
    return UploadSection.model_validate({"enabled": True, "url": url, "timeout": 10, "batch_size": 100})


def rows(store: Path | str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read a probe's or a collector's database (a SQLite file, or PostgreSQL's URL)."""
    db = open_store(store)
    try:
        return [tuple(row) for row in db.conn.execute(sql, params).fetchall()]
    finally:
        db.close()


def back_up(db: Database, to: Path) -> None:
    """A backup as an operator takes one: SQLite's backup API, beside the probe's open connection."""
    copy = sqlite3.connect(to)
    try:
        db.db.conn.backup(copy)
    finally:
        copy.close()


def restore(path: Path, backup: Path) -> None:
    """The backup put back in the database's place (no connection to it is open)."""
    for name in (path.name + "-wal", path.name + "-shm"):
        (path.parent / name).unlink(missing_ok=True)
    backup.replace(path)


def verified(store: Path | str) -> str:
    result = CliRunner().invoke(cli, ["verify", str(store)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("verified"), result.output
    return result.output


def test_a_restored_backup_goes_on_under_a_new_epoch_and_every_new_record_is_delivered(tmp_path: Path) -> None:
    restored_backup_goes_on_under_a_new_epoch(tmp_path, tmp_path / "collector.db")


def test_a_restored_backup_goes_on_under_a_new_epoch_at_a_postgres_collector(tmp_path: Path, pg_url: str) -> None:
    restored_backup_goes_on_under_a_new_epoch(tmp_path, pg_url)


def restored_backup_goes_on_under_a_new_epoch(tmp_path: Path, collector: Path | str) -> None:
    path, backup = tmp_path / "probe" / "probe.db", tmp_path / "backup.db"
    db = open_database(path)
    identity = probe_identity(db)
    kept = fill(db, 5)
    log: list[str] = []
    with running_collector(collector, log=log.append) as server, make_session(settings(server.url)) as session:
        conf = settings(server.url)
        store = open_store(collector)
        registry.register(store, identity.public_key_b64)
        store.close()
        assert upload_pending(db, identity, conf, session).stored == 5
        kept += fill(db, 2)  # records 6 and 7: in the backup, not acknowledged in it
        back_up(db, backup)
        lost = fill(db, 3)  # records 8-10: uploaded, then lost with their acknowledgements
        assert upload_pending(db, identity, conf, session).stored == 5
        old_epoch = local_epoch(db)
        db.close()
        restore(path, backup)

        db = open_database(path)
        assert local_chain_tail(db.db.conn)[0] == 7
        new = fill(db, 4)  # they take seq 8-11 again, where the collector holds the lost records
        log.clear()
        report = upload_pending(db, identity, conf, session)
        # Found as a refused record is (halving the batch: 6 and 7 are held, 8 is not), then sent under the new epoch.
        refused = [line for line in log if "refused a batch (409): another record is stored at seq 8" in line]
        assert (len(log), len(refused)) == (8, 4), log
        assert report.error is None, report.describe()
        assert (report.stored, report.duplicates, report.quarantined, report.left) == (4, 2, 0, 0)
        said = report.describe().splitlines()[0]
        new_epoch = local_epoch(db)
        assert said == (
            f"upload: this database lost 3 records the collector at {collector_key(server.url)} had (seq 8-10); "
            f"its chain goes on under a new epoch {new_epoch[:16]} (4 records chained again; records 1-7 stay "
            f"under epoch {old_epoch[:16]})"
        )
        later = fill(db, 2)
        sign_local_head(db, identity)  # as the daemon does after a round
        after = upload_pending(db, identity, conf, session)
        assert (after.stored, after.quarantined, after.new_epochs, after.left) == (2, 0, [], 0)
        assert upload_pending(db, identity, conf, session).batches == 0  # nothing more, and no other epoch
    assert quarantine_count(db) == 0 and queued(db, collector_key(server.url)) == 0
    event = db.db.conn.execute(
        "select epoch, records, next_epoch, moved, lost_from, lost_to, quarantine_dropped from chain_epochs"
    ).fetchall()
    assert event == [(old_epoch, 7, new_epoch, 4, 8, 10, 0)]
    db.close()

    def held(where: Path | str, epoch: str | None) -> tuple[list[int], list[str]]:
        """The seqs of a chain, in order, and its measurements' ids, sorted (``fill`` returns them unordered)."""
        condition = "chain_epoch = ?" if epoch else "chain_epoch is null"
        found = rows(where, f"select chain_seq, id from measurements where {condition}", (epoch,) if epoch else ())
        return sorted(seq for seq, _ in found), sorted(id_ for _, id_ in found)

    def chain(ids: list[str]) -> tuple[list[int], list[str]]:
        return list(range(1, len(ids) + 1)), sorted(ids)

    # The probe: its old chain archived (records 1-7), the new one from record 1; each verifies on its own.
    assert held(path, old_epoch) == chain(kept)
    assert held(path, None) == chain(new + later)
    output = verified(path)
    assert f"(chain {old_epoch[:16]}): 7 records (seq 1-7)" in output and ": 6 records (seq 1-6)" in output
    # The collector: the old epoch with the lost records, the new epoch with every new one; nothing withheld.
    assert held(collector, old_epoch) == chain(kept + lost)
    assert held(collector, new_epoch) == chain(new + later)
    assert rows(collector, "select count(*) from withheld_records") == [(0,)]
    output = verified(collector)
    assert "10 records (seq 1-10)" in output and "6 records (seq 1-6)" in output


def test_a_refusal_whose_head_the_probe_did_not_sign_or_still_holds_starts_no_new_epoch(tmp_path: Path) -> None:
    db = open_database(tmp_path / "probe.db")
    identity = probe_identity(db)
    fill(db, 4)
    head = sign_local_head(db, identity)
    assert head is not None
    record = measurement_pending(db, after_seq=2, limit=1, max_bytes=1 << 20)
    other = load_or_create(tmp_path / "other.key")

    def answer(signer: Identity, seq: int, hash_: str) -> dict[str, Any]:
        """A collector's 409 for record 3, with ``signer``'s head at ``seq``."""
        signed = {"seq": seq, "hash": hash_, "signed_at": head.signed_at}
        signed["signature"] = sign_head(signer, seq, hash_, head.signed_at)
        chain = {"epoch": local_epoch(db), "seq": 3, "head": signed}
        return {"error": "another record is stored at seq 3 of this probe's chain", "chain": chain}

    before = rows(tmp_path / "probe.db", "select chain_seq, chain_hash, chain_epoch from measurements")
    db.db.conn.execute("insert into upload_acks values ('c', 'chain', '', '2', 'now')")
    db.db.conn.commit()
    lost = "f" * 64
    assert go_on_under_new_epoch(db, identity, "c", record, None) is None  # an older collector: no head
    assert go_on_under_new_epoch(db, identity, "c", record, {"error": "x", "chain": "y"}) is None
    assert go_on_under_new_epoch(db, identity, "c", record, answer(other, 9, lost)) is None  # not its signature
    assert go_on_under_new_epoch(db, identity, "c", record, answer(identity, 4, head.hash)) is None  # its own chain
    assert rows(tmp_path / "probe.db", "select chain_seq, chain_hash, chain_epoch from measurements") == before
    # The same refusal with a head it signed and no longer holds does start one.
    new = go_on_under_new_epoch(db, identity, "c", record, answer(identity, 9, lost))
    assert new is not None and (new.kept, new.moved, new.lost_from, new.lost_to) == (2, 2, 3, 9)
    db.close()
    assert "2 chains" in verified(tmp_path / "probe.db")  # the archived chain and the new one
