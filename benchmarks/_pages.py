"""The benchmarks' loopback page server: one small page, 200 OK, to every GET (``large_list``, ``sweep``).

Imported as a sibling module (``from _pages import http_server``): a benchmark runs as a script, with
this directory first on ``sys.path``.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator

PAGE = b"<html><head><title>ok</title></head><body>reachable</body></html>"
ACCEPT_QUEUE = 256
"""Connections the kernel holds for the server while its threads are busy (a burst from a high concurrency)."""


class _Page(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection, as every target is a new fetch

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def http_server() -> Iterator[int]:
    """Serve ``PAGE`` on 127.0.0.1 (a thread per connection) until the block ends; yields the port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    server.daemon_threads = True
    server.request_queue_size = ACCEPT_QUEUE
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
