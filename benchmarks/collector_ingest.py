"""How many measurements a second does the collector ingest from many probes at once?

Builds, in memory, P probes (each its own Ed25519 key) with N chained measurements each
(realistic web measurements: a DNS query, a TCP connect, an HTTP transaction with a 2 KiB
body), encodes their signed batches, then starts a collector on loopback with a fresh SQLite
database and has C client threads post all batches at once (signed headers, as probes send them). Prints
measurements/s and MB/s, checks that every measurement was stored once and every chain
verifies, then sends everything again (all duplicates) and times that too. Loopback only;
every loop is bounded. Not a timed test: run it by hand.

    .venv/bin/python benchmarks/collector_ingest.py [--probes 8] [--records 500] [--batch 100] [--clients 8]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import threading
import time
from pathlib import Path

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from probe.collector import registry
from probe.collector.service import running_collector
from probe.config import Config
from probe.experiments.base import Context, Outcome, measure
from probe.identity import Identity
from probe.integrity.heads import register_self
from probe.integrity.verify import verify_database
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
    identity = Identity(Ed25519PrivateKey.generate())
    register_self(db, identity)
    run_id = "run-" + identity.probe_id[:8]
    db.start_run({"id": run_id, "started_at": utc_now_iso(), "experiment": "web"})
    ctx = Context(Config(), run_id, utc_now_iso())
    experiment = _Synthetic()
    for number in range(records):
        db.save(experiment.run(f"http://guljan.test/{number}", ctx), run_id)
    db.finish_run(run_id, finished_at=utc_now_iso(), status="finished", measurements=records)
    bodies = []
    while (pending := next_batch(db, identity, "bench", batch_size=batch, max_bytes=4 << 20)) is not None:
        mark_acked(db, "bench", pending)
        bodies.append(encode_batch(pending.batch))
    db.close()
    return identity, bodies, sum(len(body) for body in bodies)


def post_all(url: str, bodies: list[tuple[bytes, Identity]], clients: int) -> tuple[float, list[int]]:
    statuses: list[int] = []
    lock = threading.Lock()

    def client(share: list[tuple[bytes, Identity]]) -> None:
        with requests.Session() as session:
            session.trust_env = False
            for body, identity in share:
                headers = {"Content-Type": "application/json", **upload_headers(identity, body)}
                response = session.post(url, data=body, headers=headers, timeout=120)
                with lock:
                    statuses.append(response.status_code)

    threads = [threading.Thread(target=client, args=(bodies[index::clients],)) for index in range(clients)]
    begin = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    return time.perf_counter() - begin, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=8)
    parser.add_argument("--records", type=int, default=500, help="measurements per probe")
    parser.add_argument("--batch", type=int, default=100, help="measurements per batch")
    parser.add_argument("--clients", type=int, default=8, help="concurrent submitters")
    args = parser.parse_args()

    print(f"building {args.probes} probes x {args.records} measurements ...", flush=True)
    probes = [build_probe(args.records, args.batch) for _ in range(args.probes)]
    # Interleave the probes' batches, as many probes uploading at once would.
    signed = [[(body, identity) for body in probe_bodies] for identity, probe_bodies, _ in probes]
    rounds = itertools.zip_longest(*signed)
    bodies = [one for group in rounds for one in group if one is not None]
    total = args.probes * args.records
    size = sum(size for _, _, size in probes)
    print(f"{len(bodies)} batches, {total} measurements, {size / 1e6:.1f} MB ({size // total} bytes a measurement)")

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "collector.db"
        db = open_database(path)
        for identity, _, _ in probes:
            registry.register(db, identity.public_key_b64)
        db.close()
        with running_collector(path) as server:
            url = f"{server.url}/v1/batches"
            print(f"{'pass':<12}{'clients':>8}{'seconds':>9}{'measurements/s':>16}{'MB/s':>7}")
            for label in ("new", "duplicates"):
                seconds, statuses = post_all(url, bodies, args.clients)
                bad = len(statuses) - statuses.count(200)
                print(
                    f"{label:<12}{args.clients:>8}{seconds:>9.2f}{total / seconds:>16.0f}{size / seconds / 1e6:>7.1f}"
                )
                if bad:
                    print(f"  {bad} batches refused or failed")
        stored = open_database(path).db.execute("select count(*), count(distinct id) from measurements").fetchone()
        verification = verify_database(path)
        chains = "verified" if verification.ok else "NOT verified"
        print(f"stored {stored[0]} of {total} (distinct {stored[1]}); chains: {chains}")


if __name__ == "__main__":
    main()
