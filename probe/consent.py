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
from probe.place import describe
from probe.storage import Database

CONSENT_VERSION = "2"
"""2: names the test helpers and network controls, and the network identity they tell. The place a volunteer
declares (``[probe] area``) is part of the notice since, and an acceptance covers the place it was given with."""

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
  Where the probe is: {place}
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
TEXT_VERSION_AND_HASH = (CONSENT_VERSION, TEXT_SHA256)


class ConsentRequired(ProbeError):
    """The volunteer has not accepted the notice (or not for the collector now configured)."""


@dataclass(frozen=True)
class Acceptance:
    accepted_at: str
    how: str
    text_version: str
    upload_url: str | None
    place: str | None = None
    """The place declared when it was given (``declared_place``), None if none was."""


def declared_place(config: Config) -> str | None:
    """What the volunteer declares of where the probe is (area, district, network type), as consent names it."""
    return describe(config.probe.area, config.probe.district, config.probe.network_type)


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
        place=_place(config),
    )


def _identity(config: Config) -> str:
    asn, cc = config.probe.probe_asn, config.probe.probe_cc
    if "auto" not in (asn, cc):
        return f"you set yourself (ASN {asn}, country {cc})"
    return (
        "(ASN, network name, country) that the test helper tells from the address it sees, or AS0/ZZ "
        f"(unknown) when none can; set in the config: ASN {asn}, country {cc}"
    )


def _place(config: Config) -> str:
    place = declared_place(config)
    if place is None:
        return "nothing ([probe] area, district and network_type are not set): it counts for its country only."
    return (
        f"{place}, as you declared in [probe]. It is recorded with your consent, and a collector you "
        "upload to may be told it with your measurements, to find regional and mobile-only cuts. With the "
        "network it narrows down who you are: in a small district, a mobile probe may be one of a few "
        "volunteers. Leave area, district and network_type empty if that is a risk for you."
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
        "select accepted_at, how, text_version, upload_url, place from consent where text_version = ? "
        "order by id desc limit 1",
        (CONSENT_VERSION,),
    ).fetchone()
    return Acceptance(*row) if row else None


def record(db: Database, config: Config, *, how: str) -> Acceptance:
    acceptance = Acceptance(utc_now_iso(), how, CONSENT_VERSION, upload_target(config), declared_place(config))
    try:
        with db.db.conn:
            db.db.conn.execute(
                "insert into consent (text_version, text_sha256, accepted_at, how, upload_url, place) "
                "values (?, ?, ?, ?, ?, ?)",
                (
                    acceptance.text_version,
                    TEXT_SHA256,
                    acceptance.accepted_at,
                    how,
                    acceptance.upload_url,
                    acceptance.place,
                ),
            )
    except sqlite3.Error as exc:
        raise StorageError(f"cannot record consent in {db.path or 'memory'}: {exc}") from None
    return acceptance


def covers_upload(acceptance: Acceptance | None, config: Config) -> bool:
    """Whether ``acceptance`` was given for sending to the collector now configured, with the place now declared
    (which goes with the measurements)."""
    target = upload_target(config)
    return (
        acceptance is not None
        and target is not None
        and acceptance.upload_url == target
        and covers_place(acceptance, config)
    )


def accepted_places(db: Database) -> frozenset[str]:
    """Every place a recorded acceptance of the current notice was given with: what a run may carry to a
    collector (``probe.upload.queue.run_record``; a run measured at a place never accepted goes without it)."""
    rows = db.db.conn.execute(
        "select distinct place from consent where text_version = ? and place is not null", (CONSENT_VERSION,)
    )
    return frozenset(str(row[0]) for row in rows)


def covers_place(acceptance: Acceptance | None, config: Config) -> bool:
    """Whether ``acceptance`` was given with the place now declared (declaring one, or another, asks again)."""
    return acceptance is not None and acceptance.place == declared_place(config)


def consent_rows(db: Database) -> list[dict[str, Any]]:
    return list(db.db.query("select * from consent order by id"))
