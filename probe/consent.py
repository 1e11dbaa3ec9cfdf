"""Consent: what the probe measures, stores and sends, and the risks, accepted once and recorded.

The notice is filled in from the configuration (resolvers, collector), so it names who gets
what. Acceptance is stored in the database's ``consent`` table: when, how (``prompt`` or
``--accept``), the text's version and SHA-256, and the collector upload was going to at the
time. Uploading needs an acceptance that named the collector currently configured: turning
upload on, or pointing it elsewhere, asks again.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from typing import Any

from probe.config import Config
from probe.errors import ProbeError, StorageError
from probe.model import utc_now_iso
from probe.storage import Database

CONSENT_VERSION = "2"
"""2: names the test helpers and network controls, and the network identity they tell."""

_TEMPLATE = """\
zhanaozen-probe: what it measures, stores and sends, and the risks (notice version {version})

WHAT IT MEASURES
  When you run it (probe run) or on a schedule (probe daemon), it tries to reach the web sites,
  names and servers on its lists the way a browser would: DNS look-ups, TCP connections, TLS
  handshakes, plain HTTP GETs. It records every step, failures included: a failure is the data.

WHAT IT STORES, ON THIS MACHINE
  Every measurement, in an SQLite database in {data_dir}: what was tried, when, and what each
  step returned (addresses, certificates, the first bytes of pages), with the network identity
  {identity}. It never stores your public IP address, a phone number or a device identifier.
  A key made for this probe signs the results so that others can check they were not altered;
  the key never leaves this machine.

WHAT IT SENDS, AND TO WHOM
  - DNS queries for the listed names to: {resolvers}; then connections to the addresses they
    return, as any visitor of those sites would make.
  - To the test helpers, which measure the same sites from outside this network so that a site
    down everywhere is not called blocked: {helpers}
  - Connections to the network controls at the start and end of every round, to tell a network
    cut from a block: {controls}
  - Measurements: {upload}
  - Nothing else: no analytics, no updates, no public IP.

THE RISKS
  Anyone who can watch this network (your ISP, an employer, the authorities) can see that this
  machine connects to the listed sites, some of which are blocked because they are political.
  In some places that is dangerous in itself. Read the lists before you accept. The test helpers
  see which sites you test, and from which address. A collector you
  upload to sees the IP address the upload comes from (unless you use a proxy), although the
  probe does not send it and the collector does not store it.
  You can stop at any time (Ctrl-C, or systemctl stop); what was measured stays on this machine
  until you delete it.
"""
TEXT_SHA256 = hashlib.sha256(_TEMPLATE.encode()).hexdigest()


class ConsentRequired(ProbeError):
    """The volunteer has not accepted the notice (or not for the collector now configured)."""


@dataclass(frozen=True)
class Acceptance:
    accepted_at: str
    how: str
    text_version: str
    upload_url: str | None


def upload_target(config: Config) -> str | None:
    """The collector uploads go to, as consent records it (a password in its URL masked), or None."""
    return config.upload.public_url if config.upload.enabled else None


def notice(config: Config) -> str:
    """The notice, filled in with this configuration's resolvers and collector."""
    resolvers = ", ".join("your system resolver" if spec == "system" else spec for spec in config.dns.resolvers)
    target = upload_target(config)
    if target is None:
        upload = "not sent anywhere (upload is off until you set [upload] enabled and url)."
    else:
        via = " through your proxy" if config.upload.proxy is not None else ""
        upload = f"sent in signed batches to the collector at {target}{via}; copies stay here."
    return _TEMPLATE.format(
        version=CONSENT_VERSION,
        data_dir=config.probe.data_dir,
        identity=_identity(config),
        resolvers=resolvers,
        helpers=_helpers(config),
        controls=_controls(config),
        upload=upload,
    )


def _identity(config: Config) -> str:
    asn, cc = config.probe.probe_asn, config.probe.probe_cc
    if "auto" not in (asn, cc):
        return f"you set yourself (ASN {asn}, country {cc})"
    return (
        "(ASN, network name, country) that the test helper tells from the address it sees, or AS0/ZZ "
        f"(unknown) when none can; set in the config: ASN {asn}, country {cc}"
    )


def _helpers(config: Config) -> str:
    if not config.control.url:
        return "none configured ([control] url), so failures stay inconclusive."
    return (
        f"{', '.join(config.control.url)} (in this order). Each receives every URL tested and the "
        "addresses your resolver returned for it, and sees this machine's public IP address, as any "
        "server does (it may answer your network's ASN and country; the probe never stores the address)."
    )


def _controls(config: Config) -> str:
    network = config.network
    if not network.domestic_controls and not network.international_controls:
        return "none configured ([network])."
    domestic = ", ".join(network.domestic_controls) or "none"
    abroad = ", ".join(network.international_controls) or "none"
    return f"in the country {domestic}; abroad {abroad}."


def accepted(db: Database) -> Acceptance | None:
    """The latest acceptance of the current notice version, if any."""
    row = db.db.conn.execute(
        "select accepted_at, how, text_version, upload_url from consent where text_version = ? "
        "order by id desc limit 1",
        (CONSENT_VERSION,),
    ).fetchone()
    return Acceptance(*row) if row else None


def record(db: Database, config: Config, *, how: str) -> Acceptance:
    acceptance = Acceptance(utc_now_iso(), how, CONSENT_VERSION, upload_target(config))
    try:
        with db.db.conn:
            db.db.conn.execute(
                "insert into consent (text_version, text_sha256, accepted_at, how, upload_url) values (?, ?, ?, ?, ?)",
                (acceptance.text_version, TEXT_SHA256, acceptance.accepted_at, how, acceptance.upload_url),
            )
    except sqlite3.Error as exc:
        raise StorageError(f"cannot record consent in {db.path or 'memory'}: {exc}") from None
    return acceptance


def covers_upload(acceptance: Acceptance | None, config: Config) -> bool:
    """Whether ``acceptance`` was given for sending to the collector now configured."""
    target = upload_target(config)
    return acceptance is not None and target is not None and acceptance.upload_url == target


def consent_rows(db: Database) -> list[dict[str, Any]]:
    return list(db.db.query("select * from consent order by id"))
