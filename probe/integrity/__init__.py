"""Tamper evidence: a hash chain over every measurement, a signed chain head, and their check.

    signing   the probe's Ed25519 key signs chain heads ("the chain was this at seq N")
    heads     signed chain heads kept in a database
    verify    re-derive a database's chains and report the first record that was altered, is
              missing, or was moved (bundles: ``probe.upload.bundle``)

The chain itself (each record's hash covers its immutable content and the previous record's hash)
is ``probe.storage.chain``: the database writes it with every measurement.

Only what a measurement was when it was taken is chained; the verdict columns, filled in
later by the verdict stage, are not. Known limit: whoever holds a probe's key and database
can rewrite and re-sign its chain; a copy of the signed heads held elsewhere (a collector,
a bundle handed over) is what shows such a rewrite.
"""
