"""The lab's web servers: sites answered per ``Host`` on :80 and :443, and the censor's blockpage.

A site's page is large (``PAGE_BYTES``) so that throttling shows: at a few kbit/s it cannot
arrive within the probe's timeout. HTTPS picks the site's certificate by SNI (an unknown
name gets the first site's, which then fails verification, as it would on a shared host).
The blockpage answers every request with the same page, whose fingerprint is
``plan.BLOCKPAGE_MARKER``. On the public resolver's address the same :443 listener is its DNS over
HTTPS (``plan.DOH_URL``: POST, or GET ``?dns=``), answering from the lab's zone; a connection without
SNI (a URL naming an address) gets that resolver's certificate.
"""

from __future__ import annotations

import base64
import binascii
import html
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from socketserver import TCPServer, ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs, urlsplit

import dns.exception
import dns.message

from probe.lab import plan
from probe.lab.ca import leaf_files
from probe.lab.servers import IO_TIMEOUT, POLL
from probe.lab.servers.dns import authoritative_answer

MAX_DOH_QUERY = 4096

PAGE_BYTES = 200_000
Responder = Callable[[str], tuple[int, bytes]]


def site_page(site: plan.Site) -> bytes:
    """The site's home page: its title, then paragraphs up to ``PAGE_BYTES``."""
    title = html.escape(site.title)
    head = f'<!DOCTYPE html>\n<html lang="ru"><head><meta charset="utf-8"><title>{title}</title></head>\n<body>'
    head += f"<h1>{title}</h1>\n"
    tail = "</body></html>\n"
    paragraph = f"<p>{html.escape(site.name)}: новости, статьи и комментарии. News, articles and comments.</p>\n"
    size = len((head + tail).encode())
    count = max(0, (PAGE_BYTES - size) // len(paragraph.encode()))
    return (head + paragraph * count + tail).encode()


def blockpage() -> bytes:
    return (
        '<!DOCTYPE html>\n<html lang="ru"><head><meta charset="utf-8">'
        f"<title>{plan.BLOCKPAGE_TITLE}</title></head>\n"
        f"<body><h1>{plan.BLOCKPAGE_MARKER}</h1>\n"
        "<p>Доступ к данному ресурсу ограничен по решению уполномоченного органа.</p></body></html>\n"
    ).encode()


def _not_found(host: str) -> bytes:
    return f"<html><head><title>Not found</title></head><body>No site {html.escape(host)}</body></html>\n".encode()


def sites_responder() -> Responder:
    pages = {site.name: site_page(site) for site in plan.SERVED_SITES}

    def respond(host: str) -> tuple[int, bytes]:
        site = plan.site_for(host)
        if site is None or site.name not in pages:
            return 404, _not_found(host)
        return 200, pages[site.name]

    return respond


def blockpage_responder() -> Responder:
    page = blockpage()
    return lambda host: (200, page)


def _host(header: str | None) -> str:
    """The name in a ``Host`` header, without its port."""
    value = (header or "").strip()
    return value if value.startswith("[") else value.split(":", 1)[0]


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    timeout = IO_TIMEOUT

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if self._is_doh(parts.path):
            encoded = parse_qs(parts.query).get("dns", [""])[0]
            try:
                wire = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            except (binascii.Error, ValueError):
                wire = b""
            self._doh(wire)
            return
        self._respond(send_body=True)

    def do_POST(self) -> None:
        if not self._is_doh(urlsplit(self.path).path):
            self._send(404, b"", "text/plain")
            return
        length = min(int(self.headers.get("Content-Length") or 0), MAX_DOH_QUERY)
        self._doh(self.rfile.read(length))

    def _is_doh(self, path: str) -> bool:
        return path == plan.DOH_PATH and self.connection.getsockname()[0] == plan.PUBLIC_RESOLVER

    def _doh(self, wire: bytes) -> None:
        try:
            query = dns.message.from_wire(wire)
        except (dns.exception.DNSException, ValueError):
            self._send(400, b"", "text/plain")
            return
        self._send(200, authoritative_answer(query).to_wire(), "application/dns-message")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def _respond(self, *, send_body: bool) -> None:
        status, body = self.server.respond(_host(self.headers.get("Host")))
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if send_body:
            self.wfile.write(body)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a request log would only fill the lab's disk


class _HTTPServer(ThreadingMixIn, TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], respond: Responder, tls: ssl.SSLContext | None) -> None:
        self.respond = respond
        self.tls = tls
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(IO_TIMEOUT)
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        try:
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except OSError:
            return  # a reset or dropped ClientHello, or a client that distrusts us: its business
        try:
            super().finish_request(wrapped, client_address)
        finally:
            wrapped.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that give up mid-body (throttling, resets) are normal here


def _sni_context(cert_dir: Path) -> ssl.SSLContext:
    contexts: dict[str, ssl.SSLContext] = {}
    for site in plan.SERVED_SITES:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        files = leaf_files(cert_dir, site.name)
        context.load_cert_chain(files.chain, files.key)
        context.set_alpn_protocols(["http/1.1"])
        contexts[site.name] = context
    default = contexts[plan.WEB_SITES[0].name]
    resolver = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    files = leaf_files(cert_dir, plan.PUBLIC_RESOLVER)
    resolver.load_cert_chain(files.chain, files.key)
    resolver.set_alpn_protocols(["http/1.1"])

    def choose(sslobj: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        if name is None:  # an address in the URL: the resolver's DoH
            sslobj.context = resolver
            return
        site = plan.site_for(name)
        if site is not None and site.name in contexts:
            sslobj.context = contexts[site.name]

    default.sni_callback = choose
    return default


class WebServer:
    """One listener (plain or TLS) running in a daemon thread."""

    def __init__(self, address: str, port: int, respond: Responder, tls: ssl.SSLContext | None = None) -> None:
        self._server = _HTTPServer((address, port), respond, tls)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": POLL}, name=f"web-{port}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def site_servers(cert_dir: Path, address: str = "0.0.0.0") -> list[WebServer]:
    """The sites on :80 and :443 of every local address."""
    respond = sites_responder()
    return [WebServer(address, 80, respond), WebServer(address, 443, respond, _sni_context(cert_dir))]


def blockpage_server(address: str = plan.BLOCKPAGE) -> WebServer:
    return WebServer(address, 80, blockpage_responder())
