"""A network censorship measurement probe.

Layers, top to bottom; a package imports only from layers below its own, and packages on one line
not from each other (``[tool.importlinter]`` in ``pyproject.toml``; ``lint-imports`` checks it):

    cli/           thin command line: one library call per command
    daemon/        unattended rounds on a schedule, uploads, heartbeats
    collector/     receives signed batches from many probes into one database
    helper/        the test helper (control vantage point) as an HTTP service
    lab/           the namespace censorship lab (scenarios, censor, servers)
    manual_run     a run started by hand (probe run): its targets chosen, the run, its verdicts grouped
    upload/        signed batches to a collector, or a bundle file; checking a bundle
    report/        one self-contained HTML report about a period
    export/        ooni-jsonl, csv, json and parquet exports; a collector's shutdown events as STOP rows
    runner         one experiment over many inputs, concurrently, into storage
    integrity/     signing chain heads; checking a database's chains
    analysis/      outage windows from stored measurements
    consent        what the probe does, accepted once and recorded
    listcache      Citizen Lab's test lists, cached and kept current
    stage/         the measuring around an experiment: network controls, verdicts, forensic re-measurements
    experiments/   one module per experiment (web, dns, tcp, sms), same small interface
    forensics/     packet capture and ``probe trace``
    verdict/       pure judging: from what was measured to a verdict (no sockets)
    sms/           SMS back-ends: AT modem, SMPP, HTTP gateway
    identity       the probe's Ed25519 key and id
    net/           network primitives (DNS, TCP, TLS, HTTP, the test helper's client), typed observations
    server/        the HTTP/1.1 server core of the helper, the collector and the SMS report listener
    storage/       SQLite through sqlite-utils, a collector's PostgreSQL: tables declared once, migrations, chains
    testlist       test lists (Citizen Lab CSV, plain lines)
    fingerprints   blockpage and DNS fingerprints
    network_identity  the network a run measured from (ASN, country), never the address
    ed25519        Ed25519 signatures by the OpenSSL that ssl links (cryptography where it cannot)
    config, paths, defaults/, resolvers, addresses, model/, failures, limits, errors, processes, times: shared
                   concepts
    place          where a volunteer says the probe is (opt-in): ISO 3166-2 area, district, network type
"""

__version__ = "0.1.0"
SOFTWARE_NAME = "zhanaozen-probe"
