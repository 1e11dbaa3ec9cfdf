"""The lab's certificate authority: a root the probe is told to trust, one leaf per web site, and one for
the public resolver's address (its DNS over HTTPS).

Made fresh for every lab with ``cryptography`` (ECDSA P-256: fast); the keys live only in
the lab's state directory and are removed with it.
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
_DAY = datetime.timedelta(days=1)
CA_DAYS = 30
LEAF_DAYS = 7


@dataclass(frozen=True)
class LeafFiles:
    chain: Path  # leaf then root, PEM
    key: Path


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _names(host: str) -> list[x509.GeneralName]:
    """A site's name and its ``www.`` subdomain; an IP address (a resolver's) as itself."""
    try:
        return [x509.IPAddress(ipaddress.ip_address(host))]
    except ValueError:
        return [x509.DNSName(host), x509.DNSName(f"www.{host}")]


def make_ca(directory: Path, hosts: list[str]) -> tuple[Path, dict[str, LeafFiles]]:
    """Write a root (``ca.pem``) and a leaf for each host (its name and ``www.`` subdomain; an IP as itself)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = _name(CA_NAME, "Zhanaozen Probe Lab")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_subject)
        .issuer_name(ca_subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY)
        .not_valid_after(now + CA_DAYS * _DAY)
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca_pem)
    leaves: dict[str, LeafFiles] = {}
    for host in hosts:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(host, "Lab site"))
            .issuer_name(ca_subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _DAY)
            .not_valid_after(now + LEAF_DAYS * _DAY)
            .add_extension(x509.SubjectAlternativeName(_names(host)), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        files = LeafFiles(directory / f"{host}.pem", directory / f"{host}.key")
        files.chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca_pem)
        files.key.write_bytes(_key_pem(key))
        files.key.chmod(0o600)
        leaves[host] = files
    return ca_path, leaves


def leaf_files(directory: Path, host: str) -> LeafFiles:
    """Where ``make_ca`` put the leaf for ``host``."""
    return LeafFiles(directory / f"{host}.pem", directory / f"{host}.key")
