"""The collector: receives signed batches from many probes into one database.

    registry  the probes an operator accepts: by public key, or by id (the key is learned then)
    ingest    one batch, checked (probe, signature, chain) and stored exactly once, or refused
    service   the HTTP service: size caps, 4xx for bad input, one writer thread
    importer  bundle files (USB hand-over), through the same ingest
    serving   serving until SIGTERM (one process, or workers under a supervisor) and the alerts beside it

The database has the probe's schema (``probe.storage.open_database``) plus the ``probes``
table, so every analysis command works on it; measurements keep their probe's chain fields as
sent, so ``probe verify`` checks each probe's chain there too. No client address is stored.
"""
