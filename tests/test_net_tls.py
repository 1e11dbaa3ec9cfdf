"""TLS handshakes against real loopback servers and a test CA made at test time."""

from __future__ import annotations

import base64
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from support.servers import (
    Endpoint,
    close_after_hello_server,
    reset_after_hello_server,
    silent_after_hello_server,
    tcp_resetting_server,
    tls_server,
)
from support.testca import PKI, make_ca, make_pki
from support.timing import PATIENT, SLACK

from probe.model import TLSHandshake
from probe.net import tcp, tls
from probe.net.trace import Trace


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@contextmanager
def _connected(endpoint: Endpoint) -> Iterator[socket.socket]:
    sock, observation = tcp.connect(endpoint.host, endpoint.port, Trace(), timeout=2)
    assert sock is not None, observation
    with sock:
        yield sock


def _handshake(
    endpoint: Endpoint, ca_bundle: Path | None, *, server_name: str = "127.0.0.1", timeout: float = 2.0
) -> tuple[ssl.SSLSocket | None, TLSHandshake, float]:
    with _connected(endpoint) as sock:
        started = time.monotonic()
        tls_sock, observation = tls.handshake(sock, server_name, Trace(), timeout=timeout, ca_bundle=ca_bundle)
        elapsed = time.monotonic() - started
        if tls_sock is not None:
            tls_sock.close()
        else:
            assert sock.fileno() == -1  # the failed handshake closed the socket
    return tls_sock, observation, elapsed


def _ders(observation: TLSHandshake) -> list[bytes]:
    return [base64.b64decode(cert.data) for cert in observation.peer_certificates or []]


def test_trusted_test_ca_handshake_records_version_cipher_issuer(pki: PKI) -> None:
    trace = Trace()
    with tls_server(pki.leaf) as endpoint, _connected(endpoint) as sock:
        tls_sock, observation = tls.handshake(sock, "localhost", trace, timeout=2, ca_bundle=pki.ca.cert_path)
        assert tls_sock is not None
        tls_sock.close()
    assert observation.failure is None
    assert observation.tls_version == "TLSv1.3"
    assert observation.cipher_suite and observation.cipher_suite.startswith("TLS_")
    assert observation.negotiated_protocol == "http/1.1"
    assert observation.server_name == "localhost" and observation.address == endpoint.address
    assert _ders(observation) == [pki.leaf.der, pki.ca.der]
    assert observation.x_issuer == pki.ca.cert.subject.rfc4514_string()
    assert observation.x_subject == pki.leaf.cert.subject.rfc4514_string()
    assert [e.operation for e in trace.network_events] == ["tls_handshake_start", "tls_handshake_done"]


def test_tls12_handshake_records_its_version_and_cipher(pki: PKI) -> None:
    with tls_server(pki.leaf, maximum_version=ssl.TLSVersion.TLSv1_2) as endpoint:
        tls_sock, observation, _ = _handshake(endpoint, pki.ca.cert_path)
    assert tls_sock is not None and observation.failure is None
    assert observation.tls_version == "TLSv1.2"
    assert observation.cipher_suite is not None and "ECDHE" in observation.cipher_suite  # OpenSSL's name


def test_ip_address_as_server_name_is_matched_against_ip_san(pki: PKI) -> None:
    with tls_server(pki.leaf) as endpoint:
        tls_sock, observation, _ = _handshake(endpoint, pki.ca.cert_path, server_name="127.0.0.1")
    assert tls_sock is not None and observation.failure is None


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_unknown_ca_is_ssl_unknown_authority_and_chain_is_recorded(pki: PKI, version: ssl.TLSVersion) -> None:
    with tls_server(pki.intercepted, maximum_version=version) as endpoint:
        tls_sock, observation, _ = _handshake(endpoint, pki.ca.cert_path)
    assert tls_sock is None
    assert observation.failure == "ssl_unknown_authority"
    assert _ders(observation) == [pki.intercepted.der, pki.unknown_ca.der]
    assert observation.x_issuer == pki.unknown_ca.cert.subject.rfc4514_string()
    assert observation.tls_version is None  # no session: nothing negotiated is claimed


def test_system_store_does_not_trust_the_test_ca(pki: PKI) -> None:
    with tls_server(pki.leaf) as endpoint:
        _, observation, _ = _handshake(endpoint, None)
    assert observation.failure == "ssl_unknown_authority"


def test_wrong_name_is_ssl_invalid_hostname(pki: PKI) -> None:
    with tls_server(pki.wrong_name) as endpoint:
        tls_sock, observation, _ = _handshake(endpoint, pki.ca.cert_path, server_name="localhost")
    assert tls_sock is None
    assert observation.failure == "ssl_invalid_hostname"
    assert _ders(observation)[0] == pki.wrong_name.der


def test_expired_certificate_is_ssl_invalid_certificate(pki: PKI) -> None:
    with tls_server(pki.expired) as endpoint:
        _, observation, _ = _handshake(endpoint, pki.ca.cert_path)
    assert observation.failure == "ssl_invalid_certificate"


def test_reset_after_client_hello_is_connection_reset(pki: PKI) -> None:
    with reset_after_hello_server() as endpoint:
        tls_sock, observation, elapsed = _handshake(endpoint, pki.ca.cert_path, timeout=PATIENT)
    assert tls_sock is None
    assert observation.failure == "connection_reset"
    assert observation.peer_certificates == []
    assert elapsed < SLACK


def test_silence_after_client_hello_is_generic_timeout_within_the_timeout(pki: PKI) -> None:
    with silent_after_hello_server() as endpoint:
        _, observation, elapsed = _handshake(endpoint, pki.ca.cert_path, timeout=1.0)
    assert observation.failure == "generic_timeout_error"
    assert 0.9 <= elapsed < 1.0 + SLACK


def test_close_after_client_hello_is_eof_error(pki: PKI) -> None:
    with close_after_hello_server() as endpoint:
        _, observation, elapsed = _handshake(endpoint, pki.ca.cert_path, timeout=PATIENT)
    assert observation.failure == "eof_error"
    assert elapsed < SLACK


def test_handshake_over_an_already_reset_connection_is_connection_reset(pki: PKI) -> None:
    connected = threading.Event()
    with tcp_resetting_server(after=connected) as endpoint, _connected(endpoint) as sock:
        connected.set()
        # The RST arrives before the ClientHello leaves: the socket turns readable (recv would raise).
        assert select.select([sock], [], [], PATIENT)[0], "the server's reset did not arrive"
        tls_sock, observation = tls.handshake(sock, "localhost", Trace(), timeout=2, ca_bundle=pki.ca.cert_path)
    assert tls_sock is None
    assert observation.failure == "connection_reset"


def test_issuer_with_special_characters_is_escaped_as_rfc4514(tmp_path: Path) -> None:
    odd_ca = make_ca(tmp_path, 'Qaznet, Trust "Network"+1 ')
    leaf = odd_ca.issue(["127.0.0.1"])
    with tls_server(leaf) as endpoint:
        _, observation, _ = _handshake(endpoint, None)
    assert observation.failure == "ssl_unknown_authority"
    assert observation.x_issuer == odd_ca.cert.subject.rfc4514_string()
