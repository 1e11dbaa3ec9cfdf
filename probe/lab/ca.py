"""The lab's certificate authority: a root the probe is told to trust, one leaf per web site, and one for
the public resolver's address (its DNS over HTTPS).

Made fresh for every lab with ``cryptography`` (ECDSA P-256: fast); the keys live only in
the lab's state directory and are removed with it. The builders (``new_root``, ``new_leaf``,
``write_leaf``) are what the tests' throw-away PKI (``tests/support/testca.py``) makes its roots
and leaves with, adding what only tests need (expired leaves, a second, untrusted root).
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "Zhanaozen Probe Lab Root CA"
DAY = datetime.timedelta(days=1)
CA_DAYS = 30
LEAF_DAYS = 7


@dataclass(frozen=True)
class LeafFiles:
    chain: Path  # leaf then root, PEM
    key: Path


@dataclass(frozen=True)
class Credential:
    """A certificate and its private key (a root signs with it; a server presents it)."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def subject(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def general_name(name: str) -> x509.GeneralName:
    """An IP address SAN for an address, a DNS name SAN otherwise."""
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def new_root(
    common_name: str, organization: str, *, not_before: datetime.datetime, not_after: datetime.datetime
) -> Credential:
    """A self-signed root that signs leaves (no intermediates)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = subject(common_name, organization)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Credential(cert, key)


def new_leaf(
    issuer: Credential,
    names: list[str],
    organization: str,
    *,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
) -> Credential:
    """A server certificate for ``names`` (DNS names or IP addresses; the first is its common name)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject(names[0], organization))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([general_name(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
        .sign(issuer.key, hashes.SHA256())
    )
    return Credential(cert, key)


def write_leaf(leaf: Credential, root: x509.Certificate, files: LeafFiles) -> None:
    """The chain a server presents (the leaf, then its root) and the leaf's key (private to its owner)."""
    files.chain.write_bytes(cert_pem(leaf.cert) + cert_pem(root))
    files.key.write_bytes(key_pem(leaf.key))
    files.key.chmod(0o600)


def _names(host: str) -> list[str]:
    """A site's name and its ``www.`` subdomain; an IP address (a resolver's) as itself."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return [host, f"www.{host}"]
    return [host]


def make_ca(directory: Path, hosts: list[str]) -> tuple[Path, dict[str, LeafFiles]]:
    """Write a root (``ca.pem``) and a leaf for each host (its name and ``www.`` subdomain; an IP as itself)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca = new_root(CA_NAME, "Zhanaozen Probe Lab", not_before=now - DAY, not_after=now + CA_DAYS * DAY)
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(cert_pem(ca.cert))
    leaves: dict[str, LeafFiles] = {}
    for host in hosts:
        leaf = new_leaf(ca, _names(host), "Lab site", not_before=now - DAY, not_after=now + LEAF_DAYS * DAY)
        files = leaf_files(directory, host)
        write_leaf(leaf, ca.cert, files)
        leaves[host] = files
    return ca_path, leaves


def leaf_files(directory: Path, host: str) -> LeafFiles:
    """Where ``make_ca`` put the leaf for ``host``."""
    return LeafFiles(directory / f"{host}.pem", directory / f"{host}.key")
