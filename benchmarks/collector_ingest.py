"""How many measurements a second does the collector ingest from many probes at once?

Builds, in memory, P probes (each its own Ed25519 key) with N chained measurements each
(realistic web measurements: a DNS query, a TCP connect, an HTTP transaction with a 2 KiB
body), encodes their signed batches, then, for each store (a fresh SQLite file; a fresh database
on a private PostgreSQL cluster on a unix socket, durable: fsync on), starts a collector on
loopback as operators run it (``probe collector serve``, a process of its own, with ``--workers N``
processes for PostgreSQL) and has C client threads post all batches at once (keep-alive
connections, signed headers as probes send them, signed before the clock starts). Checks that every
measurement was stored once and every chain verifies, sends everything again (all duplicates) and
times that too, and prints both stores in one table, with the CPU time each part took a measurement: the
collector (all its processes), the database server (PostgreSQL on this machine: its postmaster and every
process under it) and the clients (this process). Loopback only; every loop is bounded. Not a
timed test: run it by hand.

    .venv/bin/python benchmarks/collector_ingest.py [--probes 8] [--records 500] [--batch 100] [--clients 32]
                                                    [--store sqlite,postgres] [--pg URI] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from probe.collector import registry
from probe.config import Config
from probe.experiments.base import Context, Outcome, measure
from probe.identity import Identity
from probe.integrity.heads import register_self
from probe.integrity.verify import verify_connection
from probe.model import (
    DNSAnswer,
    DNSQuery,
    HTTPRequestInfo,
    HTTPResponseInfo,
    HTTPTransaction,
    Measurement,
    TCPConnect,
    TCPConnectStatus,
    WebTestKeys,
    utc_now_iso,
)
from probe.storage import open_database
from probe.storage.store import open_store
from probe.upload.protocol import encode_batch, upload_headers
from probe.upload.queue import mark_acked, next_batch

BODY = "<html><head><title>Жаңаөзен</title></head><body>" + "x" * 2000 + "</body></html>"


class _Synthetic:
    name = "web"
    version = "0.1.0"
    test_name = "web_connectivity"

    def check_input(self, value: str) -> str | None:
        return None

    def run(self, value: str, ctx: Context) -> Measurement:
        keys = WebTestKeys(
            queries=[
                DNSQuery(
                    engine="udp",
                    resolver_address="198.18.0.53:53",
                    hostname="guljan.test",
                    query_type="A",
                    answers=[DNSAnswer(answer_type="A", ipv4="198.18.0.10", ttl=300)],
                    t0=0.001,
                    t=0.02,
                    transaction_id=1,
                )
            ],
            tcp_connect=[
                TCPConnect(
                    ip="198.18.0.10", port=80, status=TCPConnectStatus(success=True), t0=0.02, t=0.05, transaction_id=2
                )
            ],
            requests=[
                HTTPTransaction(
                    request=HTTPRequestInfo(url=value, headers={"Host": "guljan.test"}),
                    response=HTTPResponseInfo(
                        code=200, headers={"Content-Type": "text/html"}, body=BODY, x_title="Жаңаөзен"
                    ),
                    t0=0.05,
                    t=0.2,
                    transaction_id=3,
                )
            ],
        )
        return measure(self, value, ctx, lambda trace: Outcome(keys))


def build_probe(records: int, batch: int) -> tuple[Identity, list[bytes], int]:
    """A probe with ``records`` chained measurements; its identity, encoded batches and bytes."""
    db = open_database(":memory:")
    identity = Identity.generate()
    register_self(db, identity)
    run_id = "run-" + identity.probe_id[:8]
    db.start_run({"id": run_id, "started_at": utc_now_iso(), "experiment": "web"})
    ctx = Context(Config(), run_id, utc_now_iso())
    experiment = _Synthetic()
    for number in range(records):
        measurement = experiment.run(f"http://guljan.test/{number}", ctx)
        # As long as the transaction it records (a synthetic one takes microseconds, which no real one does).
        db.save(measurement.model_copy(update={"test_runtime": 0.2 + number % 1000 / 1e4}), run_id)
    db.finish_run(run_id, finished_at=utc_now_iso(), status="finished", measurements=records)
    bodies = []
    while (pending := next_batch(db, identity, "bench", batch_size=batch, max_bytes=4 << 20)) is not None:
        mark_acked(db, "bench", pending)
        bodies.append(encode_batch(pending.batch))
    db.close()
    return identity, bodies, sum(len(body) for body in bodies)


Signed = tuple[bytes, dict[str, str]]
"""A batch's body and its headers (signed once, before any clock starts: signing is the probe's work)."""


def post_all(url: str, bodies: list[Signed], clients: int) -> tuple[float, list[int]]:
    statuses: list[int] = []
    lock = threading.Lock()

    def client(share: list[Signed]) -> None:
        with requests.Session() as session:
            session.trust_env = False
            for body, headers in share:
                for _ in range(100):  # 503: the collector is busy, or lost a race to another worker; send again
                    response = session.post(url, data=body, headers=headers, timeout=120)
                    if response.status_code != 503:
                        break
                    time.sleep(0.05)
                with lock:
                    statuses.append(response.status_code)

    threads = [threading.Thread(target=client, args=(bodies[index::clients],)) for index in range(clients)]
    begin = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    return time.perf_counter() - begin, statuses


BENCH_SETTINGS = {"shared_buffers": "256MB"}
"""PostgreSQL as a small production server would run it: durable (fsync, full page writes), a bigger cache."""


@contextmanager
def postgres_database(url: str | None) -> Iterator[str]:
    """``url``, or a fresh database on a private cluster (tests/support/pgcluster.py) for the block."""
    if url is not None:
        yield url
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from support.pgcluster import private_cluster

    with private_cluster(BENCH_SETTINGS) as cluster:
        yield cluster.new_database()


@contextmanager
def store(kind: str, directory: Path, pg_url: str | None) -> Iterator[Path | str]:
    if kind == "sqlite":
        directory.mkdir()
        yield directory / "collector.db"
    else:
        with postgres_database(pg_url) as url:
            yield url


Probe = tuple[Identity, list[bytes], int]
PROBE_CLI = Path(sys.executable).with_name("probe")


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) used so far by process ``pid`` and every process under it (Linux /proc)."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:  # ended meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        todo += [int(child) for child in children]
    return total


def server_pid(target: Path | str) -> int | None:
    """The PostgreSQL server's own pid (its postmaster: every backend is its child), when it runs on this machine."""
    if not isinstance(target, str):
        return None
    db = open_store(target)
    try:
        directory = db.conn.execute("show data_directory").fetchone()[0]
        return int((Path(directory) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    finally:
        db.close()


@contextmanager
def collector_process(target: Path | str, workers: int, log: Path) -> Iterator[tuple[str, int]]:
    """``probe collector serve`` on a free loopback port, until the block ends (SIGTERM); its URL and pid."""
    command = [str(PROBE_CLI), "collector", "serve", "--db", str(target), "--port", "0", "--no-alerts",
               "--workers", str(workers)]  # fmt: skip
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=output)
    try:
        deadline = time.monotonic() + 60
        while (found := re.search(r"serving (http://\S+)/v1/batches", log.read_text())) is None:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the collector did not start: {log.read_text()[-500:]}")
            time.sleep(0.1)
        yield found[1], process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run(kind: str, target: Path | str, probes: list[Probe], bodies: list[Signed], clients: int, records: int,
        workers: int) -> list[tuple[str, ...]]:  # fmt: skip
    """Ingest every batch into a fresh collector on ``target``, then again; the table's rows."""
    total = sum(size for _, _, size in probes)
    db = open_store(target)
    for identity, _, _ in probes:
        registry.register(db, identity.public_key_b64)
    db.close()
    rows = []
    log = Path(tempfile.mkstemp(prefix="collector-", suffix=".log")[1])
    server = server_pid(target)
    with collector_process(target, workers, log) as (url, pid):
        for label in ("new", "duplicates"):
            load, cpu = os.getloadavg()[0], cpu_seconds(pid)
            server_cpu = cpu_seconds(server) if server is not None else 0.0
            own = time.process_time()
            seconds, statuses = post_all(f"{url}/v1/batches", bodies, clients)
            own = time.process_time() - own
            cpu = cpu_seconds(pid) - cpu
            server_cpu = cpu_seconds(server) - server_cpu if server is not None else float("nan")
            bad = len(statuses) - statuses.count(200)
            rate, megabytes = f"{records / seconds:,.0f}", f"{total / seconds / 1e6:.1f}"
            per = [f"{part / records * 1e6:.0f}" if part == part else "-" for part in (cpu, server_cpu, own)]
            rows.append((kind, str(workers), label, str(clients), f"{seconds:.2f}", rate, megabytes, str(bad), *per,
                         f"{load:.1f}"))  # fmt: skip
    log.unlink()
    db = open_store(target)
    stored = db.conn.execute("select count(*), count(distinct id) from measurements").fetchone()
    verification = verify_connection(db.conn, str(target), sqlite=kind == "sqlite")
    db.close()
    chains = "verified" if verification.ok else "NOT verified"
    print(f"{kind}: stored {stored[0]} of {records} (distinct {stored[1]}); chains: {chains}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=8)
    parser.add_argument("--records", type=int, default=500, help="measurements per probe")
    parser.add_argument("--batch", type=int, default=100, help="measurements per batch")
    parser.add_argument("--clients", type=int, default=32, help="concurrent submitters")
    parser.add_argument("--store", default="sqlite,postgres", help="stores to compare: sqlite, postgres or both")
    parser.add_argument("--pg", help="a PostgreSQL database to use (default: a private cluster, made and removed)")
    parser.add_argument("--workers", default="1", help="collector processes to try, e.g. 1,2,4 (SQLite: 1 only)")
    args = parser.parse_args()
    workers = [int(number) for number in args.workers.split(",")]
    if args.pg and len(workers) > 1:
        parser.error("--pg takes one --workers value: a second run on the same database would find everything stored")

    print(f"building {args.probes} probes x {args.records} measurements ...", flush=True)
    probes = [build_probe(args.records, args.batch) for _ in range(args.probes)]
    # Interleave the probes' batches, as many probes uploading at once would.
    signed = [
        [(body, {"Content-Type": "application/json", **upload_headers(identity, body)}) for body in probe_bodies]
        for identity, probe_bodies, _ in probes
    ]
    rounds = itertools.zip_longest(*signed)
    bodies = [one for group in rounds for one in group if one is not None]
    total = args.probes * args.records
    size = sum(size for _, _, size in probes)
    print(f"{len(bodies)} batches, {total} measurements, {size / 1e6:.1f} MB ({size // total} bytes a measurement)")

    rows = []
    with tempfile.TemporaryDirectory() as directory:
        for kind, number in itertools.product(args.store.split(","), workers):
            if kind == "sqlite" and number > 1:
                print(f"sqlite: --workers {number} skipped: SQLite takes one writer")
                continue
            try:
                with store(kind, Path(directory) / f"{kind}-{number}", args.pg) as target:
                    rows += run(kind, target, probes, bodies, args.clients, total, number)
            except RuntimeError as exc:
                print(f"{kind}: skipped: {exc}")
    headers = ("store", "workers", "pass", "clients", "seconds", "measurements/s", "MB/s", "refused", "CPU µs/m")
    headers += ("server CPU µs/m", "clients CPU µs/m", "load")  # server: PostgreSQL ("-": SQLite is in the collector)
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
