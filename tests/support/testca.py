"""A throw-away PKI for TLS tests, made with ``cryptography`` at test time (never committed keys).

    ca = make_ca(tmp_path, "Probe Test Root CA")      # root certificate + key, ``ca.cert_path`` is a CA bundle
    leaf = ca.issue(["localhost", "127.0.0.1"])        # leaf for DNS names and IP SANs, signed by ``ca``
    leaf.chain_path, leaf.key_path                     # PEM files for ``ssl.SSLContext.load_cert_chain``

``make_pki(tmp_path)`` makes the usual set at once (see ``PKI``).

``leaf.chain_path`` holds the leaf followed by its root, so a server presents a chain of two
certificates. A second ``make_ca(tmp_path, "Unknown Interception CA")`` plays the part of an
interception root that the probe does not trust. Keys are ECDSA P-256: fast to make.
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

_ONE_DAY = datetime.timedelta(days=1)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


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
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        not_after = now - _ONE_DAY if expired else now + 30 * _ONE_DAY
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Probe Test Site"),
                x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - 2 * _ONE_DAY)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        chain_path = self.directory / f"{stem}-chain.pem"
        key_path = self.directory / f"{stem}-key.pem"
        chain_path.write_bytes(_pem(cert) + _pem(self.cert))
        key_path.write_bytes(_key_pem(key))
        return Leaf(cert=cert, chain_path=chain_path, key_path=key_path)


def make_ca(directory: Path, name: str = "Probe Test Root CA") -> CertificateAuthority:
    """A self-signed root named ``name``, written to ``directory`` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Probe Tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    public_key = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - 2 * _ONE_DAY)
        .not_valid_after(now + 365 * _ONE_DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )
    stem = "".join(c if c.isalnum() else "-" for c in name.lower())
    cert_path = directory / f"{stem}.pem"
    cert_path.write_bytes(_pem(cert))
    ca_dir = directory / stem
    ca_dir.mkdir(exist_ok=True)
    return CertificateAuthority(name=name, cert=cert, key=key, cert_path=cert_path, directory=ca_dir)


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
