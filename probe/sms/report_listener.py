"""Where an HTTP gateway delivers its delivery reports: a small HTTP endpoint on the shared server core.

Apart from ``http_gateway`` so that loading the back-end (every config that holds ``[sms.http_gateway]`` does)
does not load the HTTP server: only a measurement that awaits reports does.
"""

from __future__ import annotations

import queue
import re
from contextlib import suppress

from probe.addresses import split_endpoint
from probe.net._deadline import Deadline
from probe.server import Handler, HTTPServer, Request, Response, ServerLimits

MAX_REPORT_REQUEST_BYTES = 8192
MAX_REPORTS = 64
"""Reports kept per measurement, whoever sends them."""
REPORT_IO_SECONDS = 2.0
_REPORT_TARGET = re.compile(r"^/dlr/([0-9a-f]{16})\?type=(\d{1,3})$")


def _split_listen(value: str) -> tuple[str, int]:
    return split_endpoint(value, allow_port_zero=True)


class _ReportHandler(Handler):
    def __init__(self, reports: queue.Queue[tuple[str, int]]) -> None:
        self.reports = reports

    def handle(self, request: Request) -> Response:
        match = _REPORT_TARGET.match(request.target)
        if request.method != "GET" or match is None:
            return Response(404, content_type="text/plain")
        with suppress(queue.Full):  # more reports than a measurement reads: the rest are dropped
            self.reports.put_nowait((match.group(1), int(match.group(2))))
        return Response(200, b"ok\n", content_type="text/plain")


class ReportListener:
    """Where the gateway delivers its reports: a small HTTP endpoint on the shared server core."""

    def __init__(self, listen: str) -> None:
        host, port = _split_listen(listen)
        self._reports: queue.Queue[tuple[str, int]] = queue.Queue(maxsize=MAX_REPORTS)
        limits = ServerLimits(
            workers=2,
            request_timeout=REPORT_IO_SECONDS,
            max_head_bytes=MAX_REPORT_REQUEST_BYTES,
            max_body_bytes=MAX_REPORT_REQUEST_BYTES,
            max_buffered_bytes=MAX_REPORT_REQUEST_BYTES * MAX_REPORTS,
            max_connections=MAX_REPORTS,
        )
        self.server = HTTPServer(_ReportHandler(self._reports), host=host, port=port, limits=limits, name="dlr")
        self.server.start()
        self.base = self.server.url

    def close(self) -> None:
        self.server.close()

    def next_report(self, deadline: Deadline) -> tuple[str, int] | None:
        """The next well-formed report as (nonce, type); None at the deadline."""
        left = deadline.remaining()
        if left <= 0:
            return None
        try:
            return self._reports.get(timeout=left)
        except queue.Empty:
            return None
