"""A throw-away PKI for TLS tests, made with ``cryptography`` at test time (never committed keys).

    ca = make_ca(tmp_path, "Probe Test Root CA")      # root certificate + key, ``ca.cert_path`` is a CA bundle
    leaf = ca.issue(["localhost", "127.0.0.1"])        # leaf for DNS names and IP SANs, signed by ``ca``
    leaf.chain_path, leaf.key_path                     # PEM files for ``ssl.SSLContext.load_cert_chain``

``make_pki(tmp_path)`` makes the usual set at once (see ``PKI``).

``leaf.chain_path`` holds the leaf followed by its root, so a server presents a chain of two
certificates. A second ``make_ca(tmp_path, "Unknown Interception CA")`` plays the part of an
interception root that the probe does not trust. Keys are ECDSA P-256: fast to make. The roots and leaves
are built by the lab's CA (``probe.lab.ca``); what only tests need (expired leaves, a root the probe does
not trust, ``PKI``) is here.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from probe.lab.ca import DAY, Credential, LeafFiles, cert_pem, new_leaf, new_root, write_leaf


@dataclass(frozen=True)
class Leaf:
    cert: x509.Certificate
    chain_path: Path  # leaf then root, PEM
    key_path: Path

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class CertificateAuthority:
    name: str
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_path: Path  # the root alone, PEM: usable as a ``ca_bundle``
    directory: Path

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    def issue(self, names: list[str], *, stem: str = "leaf", expired: bool = False) -> Leaf:
        """A leaf certificate for ``names`` (DNS names or IP addresses); ``expired`` ended yesterday."""
        now = datetime.datetime.now(datetime.UTC)
        not_after = now - DAY if expired else now + 30 * DAY
        leaf = new_leaf(
            Credential(self.cert, self.key), names, "Probe Test Site", not_before=now - 2 * DAY, not_after=not_after
        )
        files = LeafFiles(self.directory / f"{stem}-chain.pem", self.directory / f"{stem}-key.pem")
        write_leaf(leaf, self.cert, files)
        return Leaf(cert=leaf.cert, chain_path=files.chain, key_path=files.key)


def make_ca(directory: Path, name: str = "Probe Test Root CA") -> CertificateAuthority:
    """A self-signed root named ``name``, written to ``directory`` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    root = new_root(name, "Probe Tests", not_before=now - 2 * DAY, not_after=now + 365 * DAY)
    stem = "".join(c if c.isalnum() else "-" for c in name.lower())
    cert_path = directory / f"{stem}.pem"
    cert_path.write_bytes(cert_pem(root.cert))
    ca_dir = directory / stem
    ca_dir.mkdir(exist_ok=True)
    return CertificateAuthority(name=name, cert=root.cert, key=root.key, cert_path=cert_path, directory=ca_dir)


@dataclass(frozen=True)
class PKI:
    """A trusted root, an untrusted one, and leaves for the usual TLS scenarios."""

    ca: CertificateAuthority  # pass ``ca.cert_path`` as the probe's ``ca_bundle``
    unknown_ca: CertificateAuthority  # an interception root the probe does not trust
    leaf: Leaf  # localhost, 127.0.0.1 and ::1, signed by ``ca``
    intercepted: Leaf  # the same names, signed by ``unknown_ca``
    wrong_name: Leaf  # signed by ``ca`` for another name only
    expired: Leaf  # signed by ``ca``, the right names, expired yesterday


def make_pki(directory: Path) -> PKI:
    ca = make_ca(directory, "Probe Test Root CA")
    unknown_ca = make_ca(directory, "Unknown Interception CA")
    names = ["localhost", "127.0.0.1", "::1"]
    return PKI(
        ca=ca,
        unknown_ca=unknown_ca,
        leaf=ca.issue(names),
        intercepted=unknown_ca.issue(names),
        wrong_name=ca.issue(["other.example"], stem="wrong-name"),
        expired=ca.issue(names, stem="expired", expired=True),
    )
